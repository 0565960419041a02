#!/usr/bin/env bash
# Kotlin tests, without Gradle: compiles bindings-uniffi/kotlin/test/*.kt against target/uniffi/pgmq.jar
# (built by `make kotlin`) and runs them on the JVM against $DATABASE_URL (a throwaway cluster is started
# by tests/with-postgres.sh when it is not set); then runs every ```kotlin block of the README's
# `## Kotlin` section as a script (`kotlinc -script`; a block whose first line is `// not run` is
# skipped), each counted as one test. Ends with `kotlin: N passed, M failed`; exits non-zero if any
# failed.
#
# Usage: bindings-uniffi/kotlin/run-tests.sh [NAME-SUBSTRING...]
#   With arguments only the tests whose names contain one of them run (README blocks: `readme`).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$PWD
if [ -z "${DATABASE_URL:-}" ]; then
  exec env PGMQ_PG_FAST=1 tests/with-postgres.sh "$0" "$@"
fi

KC=node_modules/kotlin-compiler
KOTLINC=$KC/bin/kotlinc
JNA_JAR=${JNA_JAR:-/usr/share/java/jna.jar}
LIB_JAR=target/uniffi/pgmq.jar
CP=$LIB_JAR:$JNA_JAR:$KC/lib/kotlinx-coroutines-core-jvm.jar
OUT=target/uniffi/kotlin-test
TEST_JAR=$OUT/pgmq-tests.jar
JAVA_CP=$TEST_JAR:$CP:$KC/lib/kotlin-stdlib.jar
JNA_PATH=-Djna.library.path=$ROOT/target/debug

passed=0
failed=0
summary() {
  echo "kotlin: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit $?
}

# --- build: the library jar (no-op when fresh), then the test jar when a source or the library changed.
mkdir -p "$OUT"
if ! make --no-print-directory kotlin >"$OUT/make.log" 2>&1; then
  cat "$OUT/make.log"
  echo "FAIL  make kotlin (building target/uniffi/pgmq.jar)"
  failed=1
  summary
fi
if [ ! -f "$TEST_JAR" ] || [ "$LIB_JAR" -nt "$TEST_JAR" ] ||
  [ -n "$(find bindings-uniffi/kotlin/test -name '*.kt' -newer "$TEST_JAR")" ]; then
  echo "compiling the Kotlin tests..."
  rm -f "$TEST_JAR"
  if ! "$KOTLINC" -nowarn -classpath "$CP" -d "$TEST_JAR" bindings-uniffi/kotlin/test/*.kt; then
    echo "FAIL  compiling bindings-uniffi/kotlin/test"
    failed=1
    summary
  fi
fi

# --- the test program
run_readme=1
if [ $# -gt 0 ]; then
  run_readme=0
  for a in "$@"; do [ "${a,,}" = readme ] && run_readme=1; done
fi
if [ $# -eq 0 ] || [ $run_readme -eq 0 ] || [ $# -gt 1 ]; then
  timeout -k 10 150 java "$JNA_PATH" -cp "$JAVA_CP" io.pgmq.tests.MainKt "$@" 2>&1 | tee "$OUT/tests.log"
  result=$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+$' "$OUT/tests.log" | tail -n 1)
  if [ -n "$result" ]; then
    p=${result#RESULT passed=}
    p=${p%% *}
    f=${result##*failed=}
    passed=$((passed + p))
    failed=$((failed + f))
  else
    echo "FAIL  the Kotlin test program ended without its result line (crash or timeout)"
    failed=$((failed + 1))
  fi
fi

# --- README `## Kotlin` blocks, each run as a script
if [ $run_readme -eq 1 ]; then
  rm -rf "$OUT/readme" && mkdir -p "$OUT/readme"
  python3 - README.md "$OUT/readme" <<'EOF'
import pathlib, re, sys
text = pathlib.Path(sys.argv[1]).read_text(encoding="utf-8")
out = pathlib.Path(sys.argv[2])
m = re.search(r"^## Kotlin[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
if m:
    start_line = text[: m.start(1)].count("\n") + 1
    n = 0
    for b in re.finditer(r"^```kotlin[ \t]*\n(.*?)^```[ \t]*$", m.group(1), flags=re.M | re.S):
        code = b.group(1)
        if code.lstrip().lower().startswith("// not run"):
            continue
        n += 1
        line = start_line + m.group(1)[: b.start()].count("\n")
        (out / f"readme_kotlin_{n}.kts").write_text(code, encoding="utf-8")
        (out / f"readme_kotlin_{n}.line").write_text(str(line), encoding="utf-8")
EOF
  blocks=$(find "$OUT/readme" -name 'readme_kotlin_*.kts' | sort -V)
  if [ -z "$blocks" ]; then
    echo "(README.md has no runnable \`\`\`kotlin block under '## Kotlin')"
  fi
  for block in $blocks; do
    line=$(cat "${block%.kts}.line")
    what="README.md kotlin block at line $line"
    # Queues the block creates are deleted before (a rerun on the same database) and after it.
    mapfile -t queues < <(grep -oE 'createQueue\(\s*"[A-Za-z0-9_-]+"' "$block" | sed -E 's/.*"(.*)"/\1/' | sort -u)
    if [ ${#queues[@]} -gt 0 ]; then
      java "$JNA_PATH" -cp "$JAVA_CP" io.pgmq.tests.MainKt --delete-queues "${queues[@]}" >/dev/null 2>&1
    fi
    start=$(date +%s%N)
    timeout -k 10 60 "$KOTLINC" -nowarn -classpath "$CP" -J"$JNA_PATH" -script "$block" >"${block%.kts}.log" 2>&1
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ $rc -eq 0 ]; then
      passed=$((passed + 1))
      echo "ok    $what ($ms ms)"
    else
      failed=$((failed + 1))
      echo "FAIL  $what ($ms ms, exit $rc); its output:"
      sed 's/^/      /' "${block%.kts}.log" | tail -n 40
    fi
    if [ ${#queues[@]} -gt 0 ]; then
      java "$JNA_PATH" -cp "$JAVA_CP" io.pgmq.tests.MainKt --delete-queues "${queues[@]}" >/dev/null 2>&1
    fi
  done
fi

summary
