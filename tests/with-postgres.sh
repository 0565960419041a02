#!/usr/bin/env bash
# Usage: tests/with-postgres.sh CMD [ARGS...]
#
# Runs CMD with DATABASE_URL pointing at a PostgreSQL server. If DATABASE_URL is
# already set, CMD is simply exec'd. Otherwise a throwaway cluster is created in
# /tmp/pgmq-pg.XXXXXX (TCP on 127.0.0.1 only + a unix socket in that dir), and
# stopped and deleted when CMD ends, fails or we get INT/TERM. Exits with CMD's code.
#
# Exported for CMD: DATABASE_URL, PGMQ_PG_DATADIR, PGMQ_PG_BIN, PGMQ_PG_RUNAS,
# PGMQ_PG_LOG. To restart the server from a test (as root prefix with
# `runuser -u "$PGMQ_PG_RUNAS" --`):
#   "$PGMQ_PG_BIN/pg_ctl" restart -D "$PGMQ_PG_DATADIR" -l "$PGMQ_PG_LOG" -m fast -w
# (pass -l: without it the server inherits the caller's stdout and a caller that
# reads pg_ctl's output to EOF hangs.)
# PGMQ_PG_FAST=1 turns off fsync/synchronous_commit/full_page_writes (tests only).
set -uo pipefail

[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
[ -n "${DATABASE_URL:-}" ] && exec "$@"

die() { echo "with-postgres: $*" >&2; exit 1; }

# --- server binaries: PATH first, else the newest /usr/lib/postgresql/N/bin.
if command -v initdb >/dev/null && command -v pg_ctl >/dev/null && command -v postgres >/dev/null; then
  # Resolve symlinks (e.g. /usr/local/bin/initdb -> .../15/bin) so BIN is the real bin dir.
  BIN=$(dirname "$(readlink -f "$(command -v initdb)")")
else
  BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
for b in initdb pg_ctl postgres; do
  [ -n "$BIN" ] && [ -x "$BIN/$b" ] ||
    die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin"
done
PG_ISREADY=$BIN/pg_isready; [ -x "$PG_ISREADY" ] || PG_ISREADY=$(command -v pg_isready || true)
command -v python3 >/dev/null || die "python3 is needed to pick a free port"

# --- PostgreSQL refuses to run as root, so root runs the server as `postgres`.
if [ "$(id -u)" = 0 ]; then
  RUNAS=postgres
  id -u "$RUNAS" >/dev/null 2>&1 || die "running as root, but there is no '$RUNAS' user to run the server as"
else
  RUNAS=$(id -un)
fi
# Runs a command as RUNAS, from TMP (the caller's cwd may not be readable by RUNAS).
as_pg() (
  cd "$TMP" || exit 1
  if [ "$RUNAS" = "$(id -un)" ]; then "$@"
  elif command -v runuser >/dev/null; then runuser -u "$RUNAS" -- "$@"
  else su "$RUNAS" -s /bin/sh -c 'exec "$0" "$@"' -- "$@"
  fi
)

TMP=$(mktemp -d /tmp/pgmq-pg.XXXXXX) || die "mktemp failed"
DATA=$TMP/data
LOG=$TMP/postgres.log
child=

cleanup() {
  if [ -f "$DATA/postmaster.pid" ]; then
    # Immediate = no checkpoint; fine, the data is deleted right after.
    if ! as_pg "$BIN/pg_ctl" stop -D "$DATA" -m immediate -w -t 20 >/dev/null 2>&1; then
      pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null)
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -rf "$TMP"
}
descendants() { local c; for c in $(ps -o pid= --ppid "$1"); do echo "$c"; descendants "$c"; done; }
# Like Ctrl-C would: signal CMD and everything it started (a signal sent to this
# script alone would not reach them), KILL what is left after 5 s, then exit (-> cleanup).
on_signal() {
  if [ -n "$child" ]; then
    local pids; pids=$(echo "$child" $(descendants "$child") | tr ' ' ,)
    kill -"$1" ${pids//,/ } 2>/dev/null
    for _ in $(seq 50); do  # zombies (stat Z) count as gone
      ps -o stat= -p "$pids" | grep -qv '^Z' || break; sleep 0.1
    done
    kill -KILL ${pids//,/ } 2>/dev/null
  fi
  exit "$2"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

[ "$RUNAS" = "$(id -un)" ] || chown "$RUNAS:" "$TMP" || die "cannot chown $TMP to $RUNAS"

as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres --encoding=UTF8 --locale=C --no-sync \
  >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; die "initdb failed"; }

{
  echo "listen_addresses = '127.0.0.1'"
  echo "unix_socket_directories = '$TMP'"
  echo "max_connections = 300"
  echo "shared_buffers = 128MB"
  if [ "${PGMQ_PG_FAST:-}" = 1 ]; then
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
  fi
} >>"$DATA/postgresql.conf"

# The port is passed with -o (not in postgresql.conf) so a retry can change it;
# pg_ctl records it in postmaster.opts, so `pg_ctl restart` keeps it.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
started=
for _ in 1 2 3; do
  PORT=$(free_port) || die "could not pick a free port"
  if as_pg "$BIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 30 -o "-p $PORT" >"$TMP/pg_ctl.out" 2>&1; then
    started=1; break
  fi
  # Someone else grabbed the port between free_port and bind: try another one.
  grep -qE 'could not bind|already in use|could not create any TCP/IP sockets' "$LOG" 2>/dev/null || break
  echo "with-postgres: port $PORT was taken, retrying" >&2
done
if [ -z "$started" ]; then
  cat "$TMP/pg_ctl.out" >&2; echo "--- tail of $LOG:" >&2; tail -n 30 "$LOG" >&2
  die "postgres failed to start"
fi

if [ -n "$PG_ISREADY" ]; then
  for i in $(seq 60); do
    "$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT" -U postgres && break
    [ "$i" = 60 ] && { tail -n 30 "$LOG" >&2; die "postgres not ready after 30s"; }
    sleep 0.5
  done
fi

export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export PGMQ_PG_DATADIR=$DATA PGMQ_PG_BIN=$BIN PGMQ_PG_RUNAS=$RUNAS PGMQ_PG_LOG=$LOG
echo "postgres: throwaway cluster on 127.0.0.1:$PORT (PG $(cat "$DATA/PG_VERSION"))" >&2

# CMD runs in the background + `wait` because bash delays traps until a foreground
# child exits, and we want INT/TERM handled at once. Background jobs would get
# stdin=/dev/null and ignore SIGINT/SIGQUIT, so give stdin back (<&0) and, with
# GNU env, reset those signals so Ctrl-C still reaches CMD.
if env --default-signal=INT true 2>/dev/null; then
  env --default-signal=INT,QUIT "$@" <&0 &
else
  "$@" <&0 &
fi
child=$!
wait "$child"
exit $?
