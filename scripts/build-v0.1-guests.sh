#!/usr/bin/env bash
# Builds `sign-in-audit` and `probe` as they were built against contract 0.1 into
# guests/dist/v0.1/, for the tests that prove the host still serves 0.1 listeners
# (tests/compat.rs). Their source is the repository's own history: commit 8e8e6d2, the last
# whose SDK spoke tokenwatch:listener@0.1.0, extracted with `git archive` and built like
# scripts/build-guests.sh built it then. Run by build-guests.sh; needs that commit in the
# clone (a shallow clone: `git fetch --unshallow`) and wasm-tools on PATH.
# Env: TOKENWATCH_GUEST_TARGET (cargo target dir; `-v0.1` is appended).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit=8e8e6d29cb8f671eda9661680009334ff50ccc6b
out="$root/guests/dist/v0.1"
guests=(sign-in-audit probe)

say() { printf 'build-v0.1-guests: %s\n' "$*"; }
die() { printf 'build-v0.1-guests: error: %s\n' "$*" >&2; exit 1; }

git -C "$root" cat-file -e "$commit^{commit}" 2>/dev/null \
  || die "commit $commit (the 0.1 SDK) is not in this clone: run \`git fetch --unshallow\`"

cache="${TOKENWATCH_GUEST_TARGET:-$HOME/.cache/tokenwatch/guest-target}-v0.1"
export CARGO_TARGET_DIR="$cache/target"
# A fixed place, re-extracted each time: `git archive` stamps files with the commit's time,
# so cargo sees the same sources and reuses its build.
src="$cache/src"
rm -rf "$src" && mkdir -p "$src"
git -C "$root" archive "$commit" guests wit | tar -x -C "$src"

say "cargo build of ${guests[*]} at ${commit:0:7}"
args=(); for g in "${guests[@]}"; do args+=(-p "$g"); done
(cd "$src/guests" && cargo build --quiet --locked --release --target wasm32-unknown-unknown "${args[@]}")

mkdir -p "$out"
for g in "${guests[@]}"; do
  wasm-tools component new "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/${g//-/_}.wasm" -o "$out/$g.wasm"
  wasm-tools component wit "$out/$g.wasm" | grep -q 'export tokenwatch:listener/lifecycle@0.1.0' \
    || die "$g does not export lifecycle@0.1.0"
done
say "ok: $out"
