#!/usr/bin/env bash
# Kotlin tests, without Gradle: compiles bindings-uniffi/kotlin/test/*.kt against target/uniffi/pgmq.jar
# (built by `make kotlin`) and runs them on the JVM against $DATABASE_URL (a throwaway cluster is started
# by tests/with-postgres.sh when it is not set); then runs every ```kotlin block of every Markdown file
# (README.md, the package READMEs, docs/*.md) as a script (`kotlinc -script`; a block whose first line is
# `// not run` is skipped), and every program in examples/kotlin, whose output must be the lines of its
# `// Output:` comment; each counts as one test. Ends with `kotlin: N passed, M failed`; exits non-zero
# if any failed.
#
# Usage: bindings-uniffi/kotlin/run-tests.sh [NAME-SUBSTRING...]
#   With arguments only the tests whose names contain one of them run (Markdown blocks and examples:
#   `readme`).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$PWD
if [ -z "${DATABASE_URL:-}" ]; then
  exec env PGMQ_PG_FAST=1 tests/with-postgres.sh "$0" "$@"
fi

KC=node_modules/kotlin-compiler
KOTLINC=$KC/bin/kotlinc
JNA_JAR=${JNA_JAR:-/usr/share/java/jna.jar}
# The PostgreSQL JDBC driver: for the tests and examples of io.pgmq.Outbox only (the library uses java.sql).
PG_JDBC_JAR=${PG_JDBC_JAR:-/usr/share/java/postgresql.jar}
LIB_JAR=target/uniffi/pgmq.jar
CP=$LIB_JAR:$JNA_JAR:$KC/lib/kotlinx-coroutines-core-jvm.jar:$PG_JDBC_JAR
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

# --- build: the library jar (no-op when fresh) and the JDBC driver (installed when missing), then the
# test jar when a source or the library changed.
mkdir -p "$OUT"
if ! make --no-print-directory kotlin-test-deps PG_JDBC_JAR="$PG_JDBC_JAR" >"$OUT/make.log" 2>&1; then
  cat "$OUT/make.log"
  echo "FAIL  make kotlin-test-deps (building target/uniffi/pgmq.jar; the JDBC driver)"
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

# --- the ```kotlin blocks of the Markdown files and the programs in examples/kotlin, each run as a script
# The files that must carry at least one runnable block (a missing one counts as a failure).
EXPECT_KOTLIN="README.md bindings-uniffi/README.md docs/errors.md"
if [ $run_readme -eq 1 ]; then
  rm -rf "$OUT/readme" && mkdir -p "$OUT/readme"
  python3 - "$OUT/readme" $EXPECT_KOTLIN <<'EOF' || failed=$((failed + 1))
import pathlib, re, sys
out, expected = pathlib.Path(sys.argv[1]), set(sys.argv[2:])
root = pathlib.Path(".")
docs = [root / "README.md", *sorted(root.glob("docs/*.md"))] + sorted(
    p for p in root.glob("*/README.md") if p.parent.name not in {"node_modules", "target"} and not p.parent.name.startswith(".")
)
n, carrying = 0, set()
for doc in docs:
    text = doc.read_text(encoding="utf-8")
    for b in re.finditer(r"^```kotlin[ \t]*\n(.*?)^```[ \t]*$", text, flags=re.M | re.S):
        code = b.group(1)
        if code.lstrip().lower().startswith("// not run"):
            continue
        n += 1
        carrying.add(doc.as_posix())
        line = text[: b.start(1)].count("\n") + 1
        (out / f"doc_kotlin_{n}.kts").write_text(code, encoding="utf-8")
        (out / f"doc_kotlin_{n}.what").write_text(f"{doc.as_posix()} kotlin block at line {line}", encoding="utf-8")
for example in sorted(root.glob("examples/kotlin/*.kts")):
    source = example.read_text(encoding="utf-8")
    m = re.search(r"^// Output:\n((?://   .*\n)+)", source, flags=re.M)
    if not m:
        sys.exit(f"FAIL  {example.as_posix()}: no `// Output:` comment")
    (out / f"example_{example.stem}.kts").write_text(source, encoding="utf-8")
    (out / f"example_{example.stem}.what").write_text(example.as_posix(), encoding="utf-8")
    (out / f"example_{example.stem}.expected").write_text(
        "".join(line[2:].strip() + "\n" for line in m.group(1).splitlines()), encoding="utf-8"
    )
missing = sorted(expected - carrying)
if missing:
    sys.exit(f"FAIL  no runnable ```kotlin block in {', '.join(missing)}")
EOF
  for block in $(find "$OUT/readme" -name '*.kts' | sort -V); do
    what=$(cat "${block%.kts}.what")
    # Queues the block creates are deleted before (a rerun on the same database) and after it.
    mapfile -t queues < <(grep -oE 'createQueue\(\s*"[A-Za-z0-9_-]+"' "$block" | sed -E 's/.*"(.*)"/\1/' | sort -u)
    if [ ${#queues[@]} -gt 0 ]; then
      java "$JNA_PATH" -cp "$JAVA_CP" io.pgmq.tests.MainKt --delete-queues "${queues[@]}" >/dev/null 2>&1
    fi
    start=$(date +%s%N)
    timeout -k 10 60 "$KOTLINC" -nowarn -classpath "$CP" -J"$JNA_PATH" -script "$block" \
      >"${block%.kts}.out" 2>"${block%.kts}.err"
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    # An example must print exactly the lines of its `// Output:` comment (blank lines and indentation aside).
    expected="${block%.kts}.expected"
    printed_ok=1
    if [ -f "$expected" ] &&
      ! diff -q <(grep -v '^[[:space:]]*$' "${block%.kts}.out" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//') \
        "$expected" >/dev/null; then
      printed_ok=0
    fi
    if [ $rc -eq 0 ] && [ $printed_ok -eq 1 ]; then
      passed=$((passed + 1))
      echo "ok    $what ($ms ms)"
    else
      failed=$((failed + 1))
      if [ $rc -ne 0 ]; then
        echo "FAIL  $what ($ms ms, exit $rc); its output:"
      else
        echo "FAIL  $what ($ms ms): not its stated output; expected:"
        sed 's/^/      /' "$expected"
        echo "      printed:"
      fi
      cat "${block%.kts}.out" "${block%.kts}.err" | sed 's/^/      /' | tail -n 40
    fi
    if [ ${#queues[@]} -gt 0 ]; then
      java "$JNA_PATH" -cp "$JAVA_CP" io.pgmq.tests.MainKt --delete-queues "${queues[@]}" >/dev/null 2>&1
    fi
  done
fi

summary
