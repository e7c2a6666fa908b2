#!/usr/bin/env bash
# Checks of the SDK itself, run by scripts/build-guests.sh:
# 1. its unit tests (event decoding, JSON claim parsing, the panic line) on the native target;
# 2. compile-fail checks of the export macros: every compile-fail/*.rs is built as the
#    lib.rs of a throwaway crate for wasm32-unknown-unknown. A case must fail to compile
#    with the text on its first line, `// expect: TEXT`, in the compiler's output;
#    `// expect: ok` (the control) must compile.
# Env: CARGO_TARGET_DIR (default: the guest target dir).
set -euo pipefail

sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
guests="$(dirname "$sdk")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${TOKENWATCH_GUEST_TARGET:-$HOME/.cache/tokenwatch/guest-target}}"

say() { printf 'sdk-check: %s\n' "$*"; }
die() { printf 'sdk-check: error: %s\n' "$*" >&2; exit 1; }

say "unit tests"
(cd "$guests" && cargo test --quiet --locked -p tokenwatch-guest >/dev/null 2>&1) \
  || { (cd "$guests" && cargo test --locked -p tokenwatch-guest) >&2 || true; die "SDK unit tests failed"; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
crate="$tmp/compile-fail-case"
mkdir -p "$crate/src"
cat >"$crate/Cargo.toml" <<TOML
[package]
name = "compile-fail-case"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
tokenwatch-guest = { path = "$sdk" }

[workspace]
TOML
# The guests' lock file: the same dependency versions, already downloaded.
cp "$guests/Cargo.lock" "$crate/"

failed=0
for case in "$sdk"/compile-fail/*.rs; do
  name="$(basename "$case" .rs)"
  expect="$(sed -n '1s|^// expect: ||p' "$case")"
  [[ -n "$expect" ]] || die "$name.rs: no '// expect: ' first line"
  cp "$case" "$crate/src/lib.rs"
  if out="$(cd "$crate" && cargo check --offline --quiet --target wasm32-unknown-unknown --color never 2>&1)"; then
    built=1
  else
    built=0
  fi
  if [[ "$expect" == ok ]]; then
    if ((built)); then say "compile-fail: $name compiles (control)"; continue; fi
    printf '%s\n' "$out" >&2
    say "FAILED: $name should compile"; failed=1
  elif ((built)); then
    say "FAILED: $name compiled; expected an error with: $expect"; failed=1
  elif grep -qF -- "$expect" <<<"$out"; then
    say "compile-fail: $name fails as expected"
  else
    printf '%s\n' "$out" >&2
    say "FAILED: $name failed without: $expect"; failed=1
  fi
done
((failed == 0)) || die "compile-fail checks failed"
