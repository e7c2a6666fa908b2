#!/usr/bin/env bash
# Builds every guest component into guests/dist/<name>.wasm and checks the result.
# Idempotent; installs the Rust targets and wasm-tools when missing. Run from anywhere.
# Env: TOKENWATCH_GUEST_TARGET (cargo target dir), CARGO_BUILD_JOBS (cargo's own).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
guests="$root/guests"
dist="$guests/dist"
# Separate target dir: the host build holds its own lock, and a cache outside the clone
# survives fresh CI checkouts.
export CARGO_TARGET_DIR="${TOKENWATCH_GUEST_TARGET:-$HOME/.cache/tokenwatch/guest-target}"

# Rust guests built for wasm32-unknown-unknown (no WASI) and turned into components here.
core_guests=(sign-in-audit metering probe id-probe sign-in-set set-forger sqs-publisher)
# Rust guests built for wasm32-wasip2: rustc's linker already emits a component.
wasip2_guests=(wasi-env)
# Hand-written components.
wat_guests=(unknown-import wasi-import)

# Exports each component must have, and only those (the host calls what a component exports).
declare -A want_exports=(
  [sign-in-audit]="batch-listener id-token-listener lifecycle"
  [metering]="access-token-listener batch-listener lifecycle"
  [probe]="access-token-listener batch-listener id-token-listener lifecycle"
  [id-probe]="batch-listener id-token-listener lifecycle"
  [wasi-env]="access-token-listener batch-listener id-token-listener lifecycle"
  [sign-in-set]="batch-listener id-token-listener lifecycle"
  [set-forger]="access-token-listener batch-listener id-token-listener lifecycle"
  [sqs-publisher]="access-token-listener batch-listener id-token-listener lifecycle"
)

say() { printf 'build-guests: %s\n' "$*"; }
die() { printf 'build-guests: error: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------
installed_targets="$(rustup target list --installed)"
for t in wasm32-unknown-unknown wasm32-wasip2; do
  grep -qx "$t" <<<"$installed_targets" || { say "adding rust target $t"; rustup target add "$t" >/dev/null; }
done

# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
need_wasm_tools

# --- build -------------------------------------------------------------------------------
pkg_args() { local p; for p in "$@"; do printf -- '-p\n%s\n' "$p"; done; }

cd "$guests"
say "cargo build (target dir $CARGO_TARGET_DIR)"
mapfile -t args < <(pkg_args "${core_guests[@]}")
cargo build --quiet --locked --release --target wasm32-unknown-unknown "${args[@]}"
mapfile -t args < <(pkg_args "${wasip2_guests[@]}")
cargo build --quiet --locked --release --target wasm32-wasip2 "${args[@]}"

mkdir -p "$dist"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for g in "${core_guests[@]}"; do
  wasm-tools component new "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/${g//-/_}.wasm" -o "$tmp/$g.wasm"
done
for g in "${wasip2_guests[@]}"; do
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/${g//-/_}.wasm" "$tmp/$g.wasm"
done
for g in "${wat_guests[@]}"; do
  wasm-tools parse "$guests/hostile/wat/$g.wat" -o "$tmp/$g.wasm"
done
for f in "$tmp"/*.wasm; do
  wasm-tools validate --features all "$f" || die "$(basename "$f") does not validate"
  mv -f "$f" "$dist/"
done

# --- checks ------------------------------------------------------------------------------
for g in "${core_guests[@]}" "${wasip2_guests[@]}"; do
  wit="$(wasm-tools component wit "$dist/$g.wasm")"
  # Only the world block: the package blocks below it also contain `export` lines.
  world="$(sed -n '/^world /,/^}/p' <<<"$wit")"
  got="$(sed -n 's|^ *export tokenwatch:listener/\([a-z-]*\)@.*|\1|p' <<<"$world" | sort | xargs)"
  [[ "$got" == "${want_exports[$g]}" ]] || die "$g exports [$got], expected [${want_exports[$g]}]"
  if [[ " ${core_guests[*]} " == *" $g "* ]] && grep -q '^ *import wasi:' <<<"$world"; then
    die "$g imports WASI: $(grep '^ *import wasi:' <<<"$world" | xargs)"
  fi
done

# The 0.1 builds of sign-in-audit and probe, from the repository's history (tests/compat.rs).
"$root/scripts/build-v0.1-guests.sh"

# The SDK's unit tests and the compile-fail checks of its export macros (a wrong macro for
# the listener's traits, two export macros in one crate).
"$guests/sdk/check.sh"
"$root/scripts/build-guests-c.sh"  # C guests (guests/c) and the C template

"$root/scripts/build-guests-js.sh"  # JavaScript listeners (guests/js): guests/dist/js-*.wasm
"$root/scripts/build-guests-python.sh"  # Python guests and template: guests/dist/python-*.wasm
say "ok: $dist"
for g in "${core_guests[@]}" "${wasip2_guests[@]}" "${wat_guests[@]}"; do
  printf '  %-15s %8s bytes\n' "$g" "$(stat -c %s "$dist/$g.wasm")"
done
