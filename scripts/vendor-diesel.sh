#!/usr/bin/env bash
# vendor/diesel is Diesel 2.3.14 exactly as published on crates.io plus vendor/diesel.patch
# (see vendor/README.md). This script proves it, or makes it again:
#
#   scripts/vendor-diesel.sh --check   compare vendor/diesel with the published crate + patch
#   scripts/vendor-diesel.sh           replace vendor/diesel with the published crate + patch
#
# The crate comes from Cargo's download cache when it is there, else from crates.io; its
# SHA-256 must be the one crates.io's index lists for diesel 2.3.14.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  --check) check=1 ;;
  "") check=0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

version=2.3.14
sha256=ebe9f7eaef33febd60290c5a9f3b0571d03c4c04a24739cd64808ce30e65a5d3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/diesel-$version.crate 2>/dev/null | head -n1 || true)
if [ -z "$crate" ]; then
  crate=$work/diesel-$version.crate
  curl -fsSL -o "$crate" "https://static.crates.io/crates/diesel/diesel-$version.crate"
fi
echo "$sha256  $crate" | sha256sum -c --quiet -

tar -xzf "$crate" -C "$work"
rm -f "$work/diesel-$version/.cargo-ok"
# Exactly as written: no fuzz, no offsets that move a hunk, no backup files.
patch --batch --forward --fuzz=0 --no-backup-if-mismatch -s -d "$work/diesel-$version" -p1 \
  <vendor/diesel.patch

if [ "$check" = 1 ]; then
  # Symbolic links compared as links, not followed.
  if diff -r --no-dereference "$work/diesel-$version" vendor/diesel >"$work/diff"; then
    echo "vendor/diesel is diesel $version + vendor/diesel.patch"
  else
    head -n 40 "$work/diff"
    echo "vendor/diesel differs from diesel $version + vendor/diesel.patch" >&2
    exit 1
  fi
else
  rm -rf vendor/diesel
  mv "$work/diesel-$version" vendor/diesel
  echo "vendor/diesel made again from diesel $version + vendor/diesel.patch"
fi
