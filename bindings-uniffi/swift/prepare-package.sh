#!/usr/bin/env bash
# Puts the generated Swift bindings into the package (Package.swift beside this script): runs `make swift`
# at the repository root (which builds libpgmq_uniffi and generates target/uniffi/swift), then copies
#   target/uniffi/swift/Pgmq.swift  -> Sources/Pgmq/Generated/Pgmq.swift
#   target/uniffi/swift/PgmqFFI.h   -> Sources/PgmqFFI/PgmqFFI.h
# Both are ignored by git (.gitignore) and never edited by hand. Sources/PgmqFFI/module.modulemap is kept
# in the repository; this checks that it still names the generated module and header.
#
#   bindings-uniffi/swift/prepare-package.sh               # generate, then copy
#   bindings-uniffi/swift/prepare-package.sh --no-generate # copy what target/uniffi/swift holds
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
generated=$root/target/uniffi/swift

if [ "${1:-}" != --no-generate ]; then
  make --no-print-directory -C "$root" swift
fi
for f in Pgmq.swift PgmqFFI.h PgmqFFI.modulemap; do
  [ -f "$generated/$f" ] || { echo "prepare-package: $generated/$f is missing (make swift)" >&2; exit 1; }
done

# The module map here must declare the module and header the generated one does (uniffi.toml's
# ffi_module_name and ffi_module_filename).
want=$(grep -E '^\s*(module|header)\b' "$generated/PgmqFFI.modulemap" | sed -E 's/[[:space:]]*\{?[[:space:]]*$//; s/^[[:space:]]+//')
have=$(grep -E '^\s*(module|header)\b' "$here/Sources/PgmqFFI/module.modulemap" | sed -E 's/[[:space:]]*\{?[[:space:]]*$//; s/^[[:space:]]+//')
if [ "$want" != "$have" ]; then
  echo "prepare-package: Sources/PgmqFFI/module.modulemap declares" >&2
  echo "$have" | sed 's/^/  /' >&2
  echo "but the generated PgmqFFI.modulemap declares" >&2
  echo "$want" | sed 's/^/  /' >&2
  exit 1
fi

mkdir -p "$here/Sources/Pgmq/Generated"
cp "$generated/Pgmq.swift" "$here/Sources/Pgmq/Generated/Pgmq.swift"
cp "$generated/PgmqFFI.h" "$here/Sources/PgmqFFI/PgmqFFI.h"
echo "prepare-package: copied Pgmq.swift and PgmqFFI.h into $here/Sources"
echo "build with: swift build --package-path ${here#"$PWD"/} -Xlinker -L$root/target/debug"
