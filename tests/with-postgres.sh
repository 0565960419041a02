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
#
# PGMQ_PG_TLS=1 also starts a second throwaway cluster set up like a managed
# TLS-only server (same binaries, own dir /tmp/pgmq-pgtls.XXXXXX, own port, same
# cleanup): ssl=on with certificates made by tests/make-test-certs.sh, scram-sha-256
# passwords, and pg_hba that rejects every non-TLS TCP connection. Exported for CMD:
#   PGMQ_TLS_HOST=127.0.0.1, PGMQ_TLS_PORT
#   PGMQ_TLS_USER=pgmq_tls, PGMQ_TLS_PASSWORD   superuser, password (scram) over TLS
#   PGMQ_TLS_CERT_USER=pgmq_cert                 superuser, client certificate over TLS
#   (role pgmq_plain, same password, is the one let in WITHOUT TLS: plaintext
#   scram, the baseline `make bench` measures the TLS handshake against)
#   PGMQ_TLS_DIR   ca.crt (signed server.crt: CN=localhost, SAN DNS:localhost +
#                  IP:127.0.0.1), other-ca.crt (unrelated CA), client.crt + client.key
#                  (CN=pgmq_cert, PKCS#8 PEM key owned by the caller, 0600)
#   PGMQ_TLS_URL   postgres://pgmq_tls:PASSWORD@localhost:PORT/postgres?sslmode=verify-full&sslrootcert=$PGMQ_TLS_DIR/ca.crt
#   PGMQ_TLS_DATADIR, PGMQ_TLS_LOG   (restart it like the first one, with these)
#   PGMQ_TLS_SOCKET_DIR   its unix socket: user postgres gets in there without TLS
# Not started when DATABASE_URL is already set (CMD is just exec'd).
#
# PGMQ_PG_PGBOUNCER=1 also starts the real PgBouncer (Debian's package `pgbouncer`;
# installed with apt-get when missing and running as root) in transaction pooling
# mode in front of the first cluster, with its files in $PGMQ_PG_DATADIR/../pgbouncer
# (stopped before the cluster, same cleanup). Exported for CMD:
#   PGMQ_PGBOUNCER_URL   postgres://postgres@127.0.0.1:PORT/postgres (trust, like DATABASE_URL)
#   PGMQ_PGBOUNCER_PORT, PGMQ_PGBOUNCER_LOG, PGMQ_PGBOUNCER_INI
#   admin console: psql -h 127.0.0.1 -p "$PGMQ_PGBOUNCER_PORT" -U postgres pgbouncer -c 'show pools'
set -uo pipefail

[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
[ -n "${DATABASE_URL:-}" ] && exec "$@"

die() { echo "with-postgres: $*" >&2; exit 1; }
HARNESS_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")  # for make-test-certs.sh

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
TLS_TMP=  # set once the PGMQ_PG_TLS cluster's dir exists, so cleanup knows about it
PGB_DIR=  # set just before pgbouncer is launched, so cleanup knows about it
child=

stop_cluster() {  # DATADIR
  local pid
  [ -f "$1/postmaster.pid" ] || return 0
  # Immediate = no checkpoint; fine, the data is deleted right after.
  if ! as_pg "$BIN/pg_ctl" stop -D "$1" -m immediate -w -t 20 >/dev/null 2>&1; then
    pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null)
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  fi
}
# pgbouncer daemonizes (-d) and records its pid in PGB_DIR/pgbouncer.pid. SIGTERM is
# an immediate shutdown in 1.18 (SIGINT would wait for clients' transactions); KILL after 5 s.
stop_pgbouncer() {
  local pid _
  [ -n "$PGB_DIR" ] || return 0
  # Launched but the daemon has not written its pid yet (INT/TERM during start-up): give it 2 s.
  for _ in $(seq 20); do [ -s "$PGB_DIR/pgbouncer.pid" ] && break; sleep 0.1; done
  pid=$(cat "$PGB_DIR/pgbouncer.pid" 2>/dev/null)
  case $pid in ''|*[!0-9]*) return 0 ;; esac
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do  # zombies (stat Z) count as gone: pgbouncer is PID 1's child
    ps -o stat= -p "$pid" | grep -qv '^Z' || return 0; sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
}
cleanup() {
  stop_pgbouncer
  stop_cluster "$DATA"
  if [ -n "$TLS_TMP" ]; then stop_cluster "$TLS_TMP/data"; rm -rf "$TLS_TMP"; fi
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

fast_conf() {
  if [ "${PGMQ_PG_FAST:-}" = 1 ]; then
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
  fi
}
{
  echo "listen_addresses = '127.0.0.1'"
  echo "unix_socket_directories = '$TMP'"
  echo "max_connections = 300"
  echo "shared_buffers = 128MB"
  fast_conf
} >>"$DATA/postgresql.conf"

# Starts the cluster in DATADIR on a free port and sets PORT. On failure prints
# pg_ctl's output and the tail of LOG and returns 1.
# The port is passed with -o (not in postgresql.conf) so a retry can change it;
# pg_ctl records it in postmaster.opts, so `pg_ctl restart` keeps it.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_cluster() {  # DATADIR LOG PG_CTL_OUT
  local _
  for _ in 1 2 3; do
    PORT=$(free_port) || die "could not pick a free port"
    as_pg "$BIN/pg_ctl" start -D "$1" -l "$2" -w -t 30 -o "-p $PORT" >"$3" 2>&1 && return 0
    # Someone else grabbed the port between free_port and bind: try another one.
    grep -qE 'could not bind|already in use|could not create any TCP/IP sockets' "$2" 2>/dev/null || break
    echo "with-postgres: port $PORT was taken, retrying" >&2
  done
  cat "$3" >&2; echo "--- tail of $2:" >&2; tail -n 30 "$2" >&2
  return 1
}
wait_ready() {  # HOST PORT LOG WHAT
  local i
  [ -n "$PG_ISREADY" ] || return 0
  for i in $(seq 60); do
    "$PG_ISREADY" -q -h "$1" -p "$2" -U postgres && return 0
    [ "$i" = 60 ] && { tail -n 30 "$3" >&2; die "$4 not ready after 30s"; }
    sleep 0.5
  done
}

start_cluster "$DATA" "$LOG" "$TMP/pg_ctl.out" || die "postgres failed to start"
wait_ready 127.0.0.1 "$PORT" "$LOG" postgres

export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export PGMQ_PG_DATADIR=$DATA PGMQ_PG_BIN=$BIN PGMQ_PG_RUNAS=$RUNAS PGMQ_PG_LOG=$LOG
echo "postgres: throwaway cluster on 127.0.0.1:$PORT (PG $(cat "$DATA/PG_VERSION"))" >&2

# --- PGMQ_PG_TLS=1: a second cluster that looks like a managed, TLS-only server,
# so clients are tested against certificate verification, scram and client certs
# (the first cluster is plain TCP + trust and cannot tell whether TLS is used).
start_tls_cluster() {
  # `local PORT`: start_cluster sets the caller's PORT, and the outer one is the first cluster's.
  local psql certs data log pw ssl PORT
  psql=$BIN/psql; [ -x "$psql" ] || psql=$(command -v psql) || die "PGMQ_PG_TLS=1 needs psql"
  command -v openssl >/dev/null || die "PGMQ_PG_TLS=1 needs openssl"
  TLS_TMP=$(mktemp -d /tmp/pgmq-pgtls.XXXXXX) || die "mktemp failed"
  certs=$TLS_TMP/certs data=$TLS_TMP/data log=$TLS_TMP/postgres.log
  [ "$RUNAS" = "$(id -un)" ] || chown "$RUNAS:" "$TLS_TMP" || die "cannot chown $TLS_TMP to $RUNAS"

  # Certificates belong to the caller (the tests read client.key); only the
  # server key goes to the server user: postgres refuses a key it does not own
  # (or root's with 0640) or that others can read.
  "$HARNESS_DIR/make-test-certs.sh" "$certs" >"$TLS_TMP/certs.log" 2>&1 ||
    { cat "$TLS_TMP/certs.log" >&2; die "making the test certificates failed"; }
  [ "$RUNAS" = "$(id -un)" ] || chown "$RUNAS:" "$certs/server.key" || die "cannot chown server.key to $RUNAS"

  as_pg "$BIN/initdb" -D "$data" -A trust -U postgres --encoding=UTF8 --locale=C --no-sync \
    >"$TLS_TMP/initdb.log" 2>&1 || { cat "$TLS_TMP/initdb.log" >&2; die "initdb (TLS cluster) failed"; }
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$TLS_TMP'"
    echo "max_connections = 100"
    echo "ssl = on"
    echo "ssl_cert_file = '$certs/server.crt'"
    echo "ssl_key_file = '$certs/server.key'"
    echo "ssl_ca_file = '$certs/ca.crt'"  # verifies client certificates (the cert line)
    echo "password_encryption = 'scram-sha-256'"
    fast_conf
  } >>"$data/postgresql.conf"
  # Only the harness itself gets in without TLS (unix socket, as postgres, to set
  # up the roles); over TCP it is TLS or nothing.
  cat >"$data/pg_hba.conf" <<'EOF'
local all postgres trust
hostssl all pgmq_cert 127.0.0.1/32 cert
hostssl all all 127.0.0.1/32 scram-sha-256
hostnossl all pgmq_plain 127.0.0.1/32 scram-sha-256
hostnossl all all 0.0.0.0/0 reject
EOF

  start_cluster "$data" "$log" "$TLS_TMP/pg_ctl.out" || die "TLS postgres failed to start"
  # TCP would need a password or a certificate: ask over the unix socket.
  wait_ready "$TLS_TMP" "$PORT" "$log" "TLS postgres"

  # Alphanumeric so it needs no escaping in the URL or in SQL.
  pw=$(head -c 600 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9' | head -c 20)
  [ ${#pw} = 20 ] || die "could not make a password"
  # Superusers: the tests run the migrations and read pg_stat_ssl.
  "$psql" -X -q -v ON_ERROR_STOP=1 -h "$TLS_TMP" -p "$PORT" -U postgres -d postgres \
    >"$TLS_TMP/roles.out" 2>&1 <<EOF || { cat "$TLS_TMP/roles.out" >&2; tail -n 30 "$log" >&2; die "creating the TLS roles failed"; }
CREATE ROLE pgmq_tls LOGIN SUPERUSER PASSWORD '$pw';
CREATE ROLE pgmq_cert LOGIN SUPERUSER;
CREATE ROLE pgmq_plain LOGIN PASSWORD '$pw';
EOF

  export PGMQ_TLS_HOST=127.0.0.1 PGMQ_TLS_PORT=$PORT PGMQ_TLS_USER=pgmq_tls PGMQ_TLS_PASSWORD=$pw
  export PGMQ_TLS_CERT_USER=pgmq_cert PGMQ_TLS_DIR=$certs PGMQ_TLS_DATADIR=$data PGMQ_TLS_LOG=$log
  export PGMQ_TLS_SOCKET_DIR=$TLS_TMP  # as postgres, no password, no TLS: for checks under the hood
  export PGMQ_TLS_URL="postgres://pgmq_tls:$pw@localhost:$PORT/postgres?sslmode=verify-full&sslrootcert=$certs/ca.crt"

  # One real client connection the way the tests make it (verify-full + scram), so
  # a broken certificate or pg_hba shows up here and not as a puzzling test failure.
  ssl=$("$psql" -X -At -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' "$PGMQ_TLS_URL" 2>&1)
  [ "$ssl" = t ] || { echo "$ssl" >&2; tail -n 30 "$log" >&2; die "TLS postgres: test connection over TLS failed"; }

  echo "postgres: TLS-only throwaway cluster on 127.0.0.1:$PORT (certs in $certs)" >&2
}
[ "${PGMQ_PG_TLS:-}" = 1 ] && start_tls_cluster

# --- PGMQ_PG_PGBOUNCER=1: the real PgBouncer in transaction pooling mode in front of
# the first cluster: consecutive transactions of one client may run on different
# server connections, so session state (SET, advisory locks, LISTEN, prepared
# statements by name, temp tables) does not survive a transaction.
#
# Installing Debian's package does not start its own service here (Docker's
# /usr/sbin/policy-rc.d answers 101); on a host with systemd it may start the system
# pgbouncer on 127.0.0.1:6432 with /etc/pgbouncer. That one is left alone: it is a
# system service the admin may want, and ours uses its own free port, config and dirs.
find_pgbouncer() { command -v pgbouncer || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; }; }
start_pgbouncer() {
  local pgb psql ini log port out i _
  pgb=$(find_pgbouncer)
  if [ -z "$pgb" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "with-postgres: installing Debian's pgbouncer (apt-get)" >&2
      apt-get install -y -q -o DPkg::Lock::Timeout=120 pgbouncer >"$TMP/apt.log" 2>&1 ||
        { apt-get update -q -o DPkg::Lock::Timeout=120 >>"$TMP/apt.log" 2>&1 && apt-get install -y -q -o DPkg::Lock::Timeout=120 pgbouncer >>"$TMP/apt.log" 2>&1; } ||
        { tail -n 30 "$TMP/apt.log" >&2; die "PGMQ_PG_PGBOUNCER=1: apt-get install pgbouncer failed"; }
      pgb=$(find_pgbouncer)
    fi
    [ -n "$pgb" ] || die "PGMQ_PG_PGBOUNCER=1 needs pgbouncer: install Debian's pgbouncer (apt-get install pgbouncer)"
  fi
  psql=$BIN/psql; [ -x "$psql" ] || psql=$(command -v psql) || die "PGMQ_PG_PGBOUNCER=1 needs psql"

  # Own dir (owned by RUNAS: it writes the log, pid and unix socket there); the
  # config is readable by everybody, it holds no secret (trust, like the cluster).
  mkdir "$TMP/pgbouncer" || die "mkdir $TMP/pgbouncer failed"
  [ "$RUNAS" = "$(id -un)" ] || chown "$RUNAS:" "$TMP/pgbouncer" || die "cannot chown $TMP/pgbouncer to $RUNAS"
  ini=$TMP/pgbouncer/pgbouncer.ini log=$TMP/pgbouncer/pgbouncer.log
  # auth_type=trust still looks the user up in auth_file: postgres, no password.
  echo '"postgres" ""' >"$TMP/pgbouncer/userlist.txt"
  for i in 1 2 3; do
    port=$(free_port) || die "could not pick a free port"
    cat >"$ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $TMP/pgbouncer
pool_mode = transaction
auth_type = trust
auth_file = $TMP/pgbouncer/userlist.txt
admin_users = postgres
stats_users = postgres
default_pool_size = 20
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = $log
pidfile = $TMP/pgbouncer/pgbouncer.pid
EOF
    chmod 644 "$ini" "$TMP/pgbouncer/userlist.txt"
    rm -f "$log" "$TMP/pgbouncer/pgbouncer.pid"
    # pgbouncer refuses to run as root: as RUNAS, daemonized (-d: it writes the pid
    # file, cleanup signals that pid; it is no child of CMD, so on_signal leaves it).
    PGB_DIR=$TMP/pgbouncer
    as_pg "$pgb" -d -q "$ini" >"$TMP/pgbouncer/start.out" 2>&1 ||
      { cat "$TMP/pgbouncer/start.out" >&2; tail -n 30 "$log" >&2 2>/dev/null; die "pgbouncer failed to start"; }
    # A port taken between free_port and its bind is only a WARNING for pgbouncer
    # ("cannot listen on ...": it runs on with just the unix socket), and a client
    # would reach whoever holds the port. So read the log up to "process up" first.
    for _ in $(seq 100); do grep -q 'process up' "$log" 2>/dev/null && break; sleep 0.1; done
    if grep -q "cannot listen on 127.0.0.1:$port" "$log" 2>/dev/null; then
      stop_pgbouncer
      [ "$i" -lt 3 ] || { tail -n 30 "$log" >&2; die "pgbouncer could not listen on a free port"; }
      echo "with-postgres: port $port was taken, retrying (pgbouncer)" >&2; continue
    fi
    grep -q 'process up' "$log" 2>/dev/null ||
      { echo "--- tail of $log:" >&2; tail -n 30 "$log" >&2 2>/dev/null; die "pgbouncer did not come up in 10s"; }
    break
  done
  # Ready when a query goes through it to the cluster (about 10 s at most).
  for i in $(seq 50); do
    out=$(PGCONNECT_TIMEOUT=2 "$psql" -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'select 1' 2>&1) &&
      [ "$out" = 1 ] && break
    [ "$i" = 50 ] && { echo "$out" >&2; echo "--- tail of $log:" >&2; tail -n 30 "$log" >&2; die "pgbouncer: no query through it after 10s"; }
    sleep 0.2
  done

  export PGMQ_PGBOUNCER_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export PGMQ_PGBOUNCER_PORT=$port PGMQ_PGBOUNCER_LOG=$log PGMQ_PGBOUNCER_INI=$ini
  echo "pgbouncer: transaction pooling on 127.0.0.1:$port in front of $PORT ($("$pgb" --version 2>/dev/null | head -n 1))" >&2
}
[ "${PGMQ_PG_PGBOUNCER:-}" = 1 ] && start_pgbouncer

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
