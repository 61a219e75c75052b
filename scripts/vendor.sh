#!/usr/bin/env bash
# vendor/diesel and vendor/clap_builder are crates exactly as published on crates.io plus
# vendor/<crate>.patch (see vendor/README.md). This script proves it, or makes them again:
#
#   scripts/vendor.sh --check [CRATE...]   compare each with the published crate + patch
#   scripts/vendor.sh [CRATE...]           replace each with the published crate + patch
#
# A crate comes from Cargo's download cache when it is there, else from crates.io; its
# SHA-256 must be the one crates.io's index lists for that version.
set -euo pipefail
cd "$(dirname "$0")/.."

# name version sha256 (of the .crate file, as in Cargo.lock's checksum before the patch)
crates=(
  "diesel 2.3.14 ebe9f7eaef33febd60290c5a9f3b0571d03c4c04a24739cd64808ce30e65a5d3"
  "clap_builder 4.6.7 ec0797fb7aeb1406c84efac526901f7ec3ead2124f946b494e72879d4b54704d"
)

check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
case "${1:-}" in
  -*) echo "usage: $0 [--check] [CRATE...]" >&2; exit 2 ;;
esac
wanted=("$@")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

status=0
for entry in "${crates[@]}"; do
  read -r name version sha256 <<<"$entry"
  if [ "${#wanted[@]}" -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then
    continue
  fi
  crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$version.crate" 2>/dev/null | head -n1 || true)
  if [ -z "$crate" ]; then
    crate=$work/$name-$version.crate
    curl -fsSL -o "$crate" "https://static.crates.io/crates/$name/$name-$version.crate"
  fi
  echo "$sha256  $crate" | sha256sum -c --quiet -

  tar -xzf "$crate" -C "$work"
  rm -f "$work/$name-$version/.cargo-ok"
  # Exactly as written: no fuzz, no offsets that move a hunk, no backup files.
  patch --batch --forward --fuzz=0 --no-backup-if-mismatch -s -d "$work/$name-$version" -p1 \
    <"vendor/$name.patch"

  if [ "$check" = 1 ]; then
    # Symbolic links compared as links, not followed.
    if diff -r --no-dereference "$work/$name-$version" "vendor/$name" >"$work/diff"; then
      echo "vendor/$name is $name $version + vendor/$name.patch"
    else
      head -n 40 "$work/diff"
      echo "vendor/$name differs from $name $version + vendor/$name.patch" >&2
      status=1
    fi
  else
    rm -rf "vendor/$name"
    mv "$work/$name-$version" "vendor/$name"
    echo "vendor/$name made again from $name $version + vendor/$name.patch"
  fi
done
exit "$status"
