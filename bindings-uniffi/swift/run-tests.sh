#!/usr/bin/env bash
# The Swift tests of the uniffi bindings (bindings-uniffi/swift/main.swift), run by `make test` from the
# repository root with DATABASE_URL set, after `make kotlin` / `make swift` generated the bindings.
#
# Everywhere, toolchain or not: checks every call of the hand-written layer (Sources/Pgmq/*.swift) and of
# main.swift against the signatures of the generated Pgmq.swift, and the package's layout (below:
# check_layer, `swift-layer: N passed, M failed`); exits non-zero if one fails.
# With a Swift toolchain on PATH: compiles main.swift together with the generated
# target/uniffi/swift/Pgmq.swift and the layer into one executable (the C declarations come from
# PgmqFFI.h through PgmqFFI.modulemap), links it with target/debug/libpgmq_uniffi, runs it against
# $DATABASE_URL (or a throwaway cluster, through tests/with-postgres.sh) and ends with
# `swift: N passed, M failed`; and builds the package (Package.swift) with SwiftPM
# (`swift-package: N passed, M failed`).
# Without one (Linux CI images here have none): prints one line saying so.
# Either way it first checks the ```swift blocks of the Markdown files (below: check_doc_blocks), and
# exits non-zero if one fails.
#
#   bindings-uniffi/swift/run-tests.sh            # SWIFTC=/path/to/swiftc to pick a compiler
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1

# The hand-written layer, compiled with the generated Pgmq.swift everywhere below (not the stale copies
# prepare-package.sh leaves in Sources/Pgmq/Generated); on macOS, the package's deployment target
# (macOS 13: `Duration`).
LAYER=(bindings-uniffi/swift/Sources/Pgmq/*.swift)
TARGET=()
[ "$(uname -s)" = Darwin ] && TARGET=(-target "$(uname -m)-apple-macosx13.0")

# --- the ```swift blocks of the Markdown files (README.md, the package READMEs, docs/*.md) -------------
# Each block counts as one test, summed up as `swift-docs: N passed, M failed`. Every block's calls are
# checked against the generated bindings: a call `name(label: ...)` of a function, initializer or enum
# case that Pgmq.swift or the layer (Sources/Pgmq/*.swift, not Sources/Pgmq/Generated) declares must use
# one of its declared argument labels; an initializer belongs to the type, or the `extension`, around it.
# With a toolchain, each block is also type-checked against both (as a main.swift, `import Pgmq`
# dropped), except a SwiftPM manifest (`// swift-tools-version`) and a block whose first line is
# `// not run`. The files in EXPECT_SWIFT must carry at least one block.
EXPECT_SWIFT="README.md bindings-uniffi/README.md docs/errors.md"
DOCS_OUT=target/swift-tests/docs
docs_passed=0
docs_failed=0
check_doc_blocks() {
  local swiftc=${1:-} ffi=${2:-}
  if [ ! -f target/uniffi/swift/Pgmq.swift ]; then
    make --no-print-directory swift >/dev/null || { docs_failed=1; echo "FAIL  make swift (the generated Pgmq.swift)"; return; }
  fi
  rm -rf "$DOCS_OUT" && mkdir -p "$DOCS_OUT"
  local report
  report=$(LAYER_FILES="${LAYER[*]}" python3 - "$DOCS_OUT" $EXPECT_SWIFT <<'EOF'
import os, pathlib, re, sys
out, expected = pathlib.Path(sys.argv[1]), set(sys.argv[2:])
root = pathlib.Path(".")
docs = [root / "README.md", *sorted(root.glob("docs/*.md"))] + sorted(
    p for p in root.glob("*/README.md") if p.parent.name not in {"node_modules", "target"} and not p.parent.name.startswith(".")
)
# The layer as LAYER lists it: a stale Pgmq.swift in Sources/Pgmq/Generated would keep a renamed label valid.
sources = [root / "target/uniffi/swift/Pgmq.swift"] + [pathlib.Path(p) for p in os.environ["LAYER_FILES"].split()]

def labels(params):
    """The argument labels of a parameter list (`_` for none), split at top-level commas."""
    parts, depth, cur = [], 0, ""
    for ch in params:
        depth += ch in "([<"
        depth -= ch in ")]>"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    found = []
    for p in parts:
        head = p.split(":", 1)[0].split()
        if head:
            found.append(head[0])
    return found

# A declaration: a type or extension (its name), a function, initializer or enum case (name, parameters),
# or a brace. The braces tell which type an `init` belongs to: the innermost type or extension open
# around it (`extension QueueOptions { init(ackDeadline: ...) }` declares `QueueOptions(ackDeadline:)`).
DECLARATION = re.compile(
    r"\b(?:struct|class|enum|actor|protocol|extension)\s+(?!func\b|var\b|let\b)(\w+)"
    r"|\b(?:func\s+(\w+)|(init)|case\s+(\w+))\s*\(([^{]*?)\)\s*(?=async|throws|rethrows|->|\{|$|\n)"
    r"|([{}])"
)
declared = {}  # name -> every label it is declared with ("()" for a declaration without parameters)
for src in sources:
    text = re.sub(r"/\*.*?\*/", "", src.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"(^|\s)//.*", r"\1", text)  # braces in comments are not scopes
    opened, scopes = None, []  # the type whose `{` comes next; the type of each open brace
    for m in DECLARATION.finditer(text):
        if m.group(1):
            opened = m.group(1)
        elif m.group(6) == "{":
            scopes.append(opened or (scopes[-1] if scopes else None))
            opened = None
        elif m.group(6) == "}":
            if scopes:
                scopes.pop()
        else:
            owner = scopes[-1] if scopes else None
            name = m.group(2) or (owner if m.group(3) else None) or m.group(4)
            if name:
                declared.setdefault(name, set()).update(labels(m.group(5)) or ["()"])

n, failures, carrying = 0, [], set()
for doc in docs:
    text = doc.read_text(encoding="utf-8")
    for b in re.finditer(r"^```swift[ \t]*\n(.*?)^```[ \t]*$", text, flags=re.M | re.S):
        code, n = b.group(1), n + 1
        carrying.add(doc.as_posix())
        line = text[: b.start(1)].count("\n") + 1
        what = f"{doc.as_posix()} swift block at line {line}"
        bad = []
        for call in re.finditer(r"(?<![\w\"])(\w+)\(\s*(\w+)\s*:(?!:)", re.sub(r"(^|\s)//.*", r"\1", code)):
            name, label = call.groups()
            if name in declared and label not in declared[name]:
                bad.append(f"{name}({label}:) (declared: {', '.join(sorted(declared[name]))})")
        (out / f"doc_swift_{n}.what").write_text(what, encoding="utf-8")
        first = code.lstrip().lower()
        if not (first.startswith("// not run") or first.startswith("// swift-tools-version")):
            body = "".join(l for l in code.splitlines(True) if not re.match(r"\s*import\s+Pgmq\b", l))
            (out / f"doc_swift_{n}.swift").write_text(body, encoding="utf-8")
        if bad:
            failures.append(n)
            print(f"FAIL  {what}: labels not in the generated bindings: {'; '.join(bad)}")
        else:
            print(f"ok    {what} (labels)")
missing = sorted(expected - carrying)
for m in missing:
    print(f"FAIL  {m} has no ```swift block")
print(f"RESULT {n - len(failures)} {len(failures) + len(missing)} {' '.join(map(str, failures))}")
EOF
  )
  echo "$report" | grep -v '^RESULT '
  local result
  result=$(echo "$report" | grep '^RESULT ')
  read -r _ docs_passed docs_failed labels_failed <<<"$result"
  [ -n "$docs_passed" ] || { docs_passed=0; docs_failed=1; }
  # With a toolchain: type-check each compilable block whose labels passed.
  if [ -n "$swiftc" ]; then
    for block in $(find "$DOCS_OUT" -name 'doc_swift_*.swift' | sort -V); do
      local n=${block##*doc_swift_}
      n=${n%.swift}
      case " ${labels_failed:-} " in *" $n "*) continue ;; esac
      mkdir -p "$DOCS_OUT/$n" && cp "$block" "$DOCS_OUT/$n/main.swift"
      if "$swiftc" -typecheck -swift-version 5 -module-name DocBlock ${TARGET[@]+"${TARGET[@]}"} \
        -Xcc -fmodule-map-file="$PWD/$ffi/PgmqFFI.modulemap" -I "$ffi" \
        target/uniffi/swift/Pgmq.swift "${LAYER[@]}" "$DOCS_OUT/$n/main.swift" >"$DOCS_OUT/$n/typecheck.log" 2>&1; then
        echo "ok    $(cat "${block%.swift}.what") (type-checked)"
      else
        echo "FAIL  $(cat "${block%.swift}.what"): does not type-check:"
        sed 's/^/      /' "$DOCS_OUT/$n/typecheck.log" | tail -n 20
        docs_passed=$((docs_passed - 1))
        docs_failed=$((docs_failed + 1))
      fi
    done
  fi
  echo "swift-docs: $docs_passed passed, $docs_failed failed"
}

# --- the hand-written layer against the generated signatures (no toolchain needed) ----------------------
# bindings-uniffi/swift/check-layer.py: each file of Sources/Pgmq must call only what the generated
# Pgmq.swift (or the layer) declares, with its argument labels, and read only members that exist; so does
# main.swift for the names they declare; the package's manifest and module map must match the generated
# module; and the check must catch a removed or relabelled generated declaration (a mutation test). Each
# is one test of `swift-layer: N passed, M failed`. `make swift` first, so that the check reads bindings
# generated from the Rust as it is now (a no-op when they are up to date).
layer_failed=0
check_layer() {
  if ! make --no-print-directory swift >/dev/null; then
    echo "FAIL  make swift (the generated Pgmq.swift)"
    echo "swift-layer: 0 passed, 1 failed"
    layer_failed=1
    return
  fi
  python3 bindings-uniffi/swift/check-layer.py target/uniffi/swift/Pgmq.swift target/uniffi/swift/PgmqFFI.modulemap ||
    layer_failed=1
}

# A Swift toolchain: `swift` on PATH with its compiler `swiftc` (OpenStack's object-store client is also
# called `swift`, hence the version check).
SWIFTC=${SWIFTC:-}
if command -v swift >/dev/null 2>&1 && [ -z "$SWIFTC" ]; then
  SWIFTC=$(command -v swiftc || echo "$(dirname "$(command -v swift)")/swiftc")
fi
if [ -z "$SWIFTC" ] || [ ! -x "$SWIFTC" ] || ! "$SWIFTC" --version 2>&1 | grep -q 'Swift version'; then
  check_doc_blocks
  check_layer
  echo "swift: skipped (no swift toolchain on PATH); bindings generated in target/uniffi/swift"
  [ "$docs_failed" -eq 0 ] && [ "$layer_failed" -eq 0 ]
  exit $?
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

check_layer

# One module: the generated Pgmq.swift, the hand-written layer (LAYER, above) and the tests, for the
# deployment target TARGET. -fmodule-map-file makes `import PgmqFFI` (inside Pgmq.swift) resolve to the
# header; -rpath lets the executable find the library.
echo "swift-tests: compiling with $("$SWIFTC" --version 2>&1 | head -n 1)"
"$SWIFTC" -swift-version 5 -module-name PgmqSwiftTests ${TARGET[@]+"${TARGET[@]}"} \
  -Xcc -fmodule-map-file="$PWD/$FFI/PgmqFFI.modulemap" -I "$FFI" \
  -L "$LIB_DIR" -lpgmq_uniffi -Xlinker -rpath -Xlinker "$LIB_DIR" \
  "$GEN/Pgmq.swift" "${LAYER[@]}" bindings-uniffi/swift/main.swift \
  -o "$OUT/pgmq-swift-tests" || fail "compiling the Swift tests failed"

# The package: a copy of Package.swift and Sources with the generated files put in place (as
# prepare-package.sh does in the work tree), built by SwiftPM against the same library.
package_failed=0
SWIFT_BUILD="$(dirname "$SWIFTC")/swift"
if [ -x "$SWIFT_BUILD" ] && "$SWIFT_BUILD" build --help >/dev/null 2>&1; then
  PKG=$OUT/package
  rm -rf "$PKG" && mkdir -p "$PKG"
  cp -R bindings-uniffi/swift/Package.swift bindings-uniffi/swift/Sources "$PKG/"
  rm -rf "$PKG/Sources/Pgmq/Generated" && mkdir -p "$PKG/Sources/Pgmq/Generated"
  cp "$GEN/Pgmq.swift" "$PKG/Sources/Pgmq/Generated/Pgmq.swift"
  cp "$GEN/PgmqFFI.h" "$PKG/Sources/PgmqFFI/PgmqFFI.h"
  if "$SWIFT_BUILD" build --package-path "$PKG" -Xlinker -L"$LIB_DIR" >"$OUT/package.log" 2>&1; then
    echo "ok    swift build of the package (Package.swift)"
    echo "swift-package: 1 passed, 0 failed"
  else
    echo "FAIL  swift build of the package (Package.swift):"
    sed 's/^/      /' "$OUT/package.log" | tail -n 30
    echo "swift-package: 0 passed, 1 failed"
    package_failed=1
  fi
else
  echo "swift-package: skipped (no SwiftPM \`swift build\` beside $SWIFTC)"
fi

# The Markdown blocks, type-checked against the same generated bindings.
check_doc_blocks "$SWIFTC" "$FFI"

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
[ "$docs_failed" -eq 0 ] || rc=1
[ "$layer_failed" -eq 0 ] && [ "$package_failed" -eq 0 ] || rc=1
exit "$rc"
