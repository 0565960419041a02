#!/usr/bin/env bash
# The Swift tests of the uniffi bindings (bindings-uniffi/swift/main.swift), run by `make test` from the
# repository root with DATABASE_URL set, after `make kotlin` / `make swift` generated the bindings.
#
# With a Swift toolchain on PATH: compiles main.swift together with the generated
# target/uniffi/swift/Pgmq.swift into one executable (the C declarations come from PgmqFFI.h through
# PgmqFFI.modulemap), links it with target/debug/libpgmq_uniffi, runs it against $DATABASE_URL (or a
# throwaway cluster, through tests/with-postgres.sh) and ends with `swift: N passed, M failed`.
# Without one (Linux CI images here have none): prints one line saying so and exits 0.
#
#   bindings-uniffi/swift/run-tests.sh            # SWIFTC=/path/to/swiftc to pick a compiler
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1

# A Swift toolchain: `swift` on PATH with its compiler `swiftc` (OpenStack's object-store client is also
# called `swift`, hence the version check).
SWIFTC=${SWIFTC:-}
if command -v swift >/dev/null 2>&1 && [ -z "$SWIFTC" ]; then
  SWIFTC=$(command -v swiftc || echo "$(dirname "$(command -v swift)")/swiftc")
fi
if [ -z "$SWIFTC" ] || [ ! -x "$SWIFTC" ] || ! "$SWIFTC" --version 2>&1 | grep -q 'Swift version'; then
  echo "swift: skipped (no swift toolchain on PATH); bindings generated in target/uniffi/swift"
  exit 0
fi

fail() {
  echo "swift-tests: $*" >&2
  echo "swift: 0 passed, 1 failed"
  exit 1
}

GEN=target/uniffi/swift
LIB_DIR=$PWD/target/debug
OUT=target/swift-tests

# The generated bindings and the native library (`make swift` builds the library, then generates).
if [ ! -f "$GEN/Pgmq.swift" ] || [ ! -f "$GEN/PgmqFFI.modulemap" ]; then
  make --no-print-directory swift || fail "generating the Swift bindings failed (make swift)"
fi
if [ "$(uname -s)" = Darwin ] && [ ! -f "$LIB_DIR/libpgmq_uniffi.dylib" ]; then
  cargo build -p pgmq-uniffi --lib || fail "building libpgmq_uniffi.dylib failed"
fi
[ -f "$LIB_DIR/libpgmq_uniffi.so" ] || [ -f "$LIB_DIR/libpgmq_uniffi.dylib" ] ||
  fail "no libpgmq_uniffi in $LIB_DIR (make swift)"

# The C module PgmqFFI: the generated header, and the generated module map without its `use "Darwin"`,
# `use "_Builtin_stdbool"`, `use "_Builtin_stdint"` lines. Those name Apple-only clang modules: they break
# the module on Linux and with Xcode 26+ (mozilla/uniffi-rs#2917), `canImport(PgmqFFI)` in Pgmq.swift is
# then false and nothing compiles. They are advisory, so dropping them is safe everywhere.
FFI=$OUT/ffi
mkdir -p "$FFI"
cp "$GEN/PgmqFFI.h" "$FFI/PgmqFFI.h"
grep -v '^[[:space:]]*use "' "$GEN/PgmqFFI.modulemap" >"$FFI/PgmqFFI.modulemap"

# One module: the generated Pgmq.swift and the tests. -fmodule-map-file makes `import PgmqFFI` (inside
# Pgmq.swift) resolve to the header; -rpath lets the executable find the library.
echo "swift-tests: compiling with $("$SWIFTC" --version 2>&1 | head -n 1)"
"$SWIFTC" -swift-version 5 -module-name PgmqSwiftTests \
  -Xcc -fmodule-map-file="$PWD/$FFI/PgmqFFI.modulemap" -I "$FFI" \
  -L "$LIB_DIR" -lpgmq_uniffi -Xlinker -rpath -Xlinker "$LIB_DIR" \
  "$GEN/Pgmq.swift" bindings-uniffi/swift/main.swift \
  -o "$OUT/pgmq-swift-tests" || fail "compiling the Swift tests failed"

# The executable prints one line per test and `swift: N passed, M failed` last (its own watchdog ends a
# hung run after 300 s). A crash before that line counts as one failure.
LOG=$OUT/run.log
export LD_LIBRARY_PATH=$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export DYLD_LIBRARY_PATH=$LIB_DIR${DYLD_LIBRARY_PATH:+:$DYLD_LIBRARY_PATH}
LIMIT=()
command -v timeout >/dev/null 2>&1 && LIMIT=(timeout -k 10 420)
${LIMIT[@]+"${LIMIT[@]}"} tests/with-postgres.sh "$OUT/pgmq-swift-tests" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
if ! grep -Eq '^swift: [0-9]+ passed, [0-9]+ failed$' "$LOG"; then
  echo "swift-tests: the test executable exited ($rc) without a summary"
  passed=$(grep -c '^ok - ' "$LOG")
  echo "swift: $passed passed, 1 failed"
  exit 1
fi
exit "$rc"
