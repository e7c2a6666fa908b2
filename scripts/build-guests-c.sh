#!/usr/bin/env bash
# Builds the C guests (guests/c/examples/*) and the C project template into
# guests/dist/c-<name>.wasm, and checks each: it validates, exports exactly what its world
# says and imports no WASI. Installs ziglang 0.17.1 (zig cc) and wasm-tools with pip when
# missing. A guest whose output is newer than all its inputs is not rebuilt. Run from
# anywhere; called by scripts/build-guests.sh.
#
# The wit-bindgen C bindings under guests/c/sdk/bindings are generated source, committed
# (guests/c/sdk/gen-bindings.sh regenerates them; it needs wit-bindgen-cli, not used here).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
c="$root/guests/c"
sdk="$c/sdk"
dist="$root/guests/dist"
wit="$root/wit/listener.wit"
ZIGLANG_VERSION=0.17.1

say() { printf 'build-guests-c: %s\n' "$*"; }
die() { printf 'build-guests-c: error: %s\n' "$*" >&2; exit 1; }

# name -> world; the template is built from a scaffolded copy (below).
declare -A world=(
  [sign-in-audit]=id-token-only
  [sign-in-set]=id-token-only
  [sqs-publisher]=all-tokens
  [trap]=id-token-only
  [template]=all-tokens
)
declare -A want_exports=(
  [id-token-only]="batch-listener id-token-listener lifecycle"
  [access-token-only]="access-token-listener batch-listener lifecycle"
  [all-tokens]="access-token-listener batch-listener id-token-listener lifecycle"
)

# --- tools (idempotent) --------------------------------------------------------------------
if [[ "$(python3 -m ziglang version 2>/dev/null)" != "$ZIGLANG_VERSION" ]]; then
  say "installing ziglang==$ZIGLANG_VERSION (pip)"
  "$root/scripts/pip-install.sh" "ziglang==$ZIGLANG_VERSION"
  [[ "$(python3 -m ziglang version 2>/dev/null)" == "$ZIGLANG_VERSION" ]] || die "ziglang $ZIGLANG_VERSION is not importable after pip install"
fi
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
need_wasm_tools
export TW_PIP="$root/scripts/pip-install.sh"

# --- build ---------------------------------------------------------------------------------
# Whether $1 is missing or older than any of the files under the other arguments.
stale() {
  local out="$1"; shift
  [[ -f "$out" ]] || return 0
  [[ -n "$(find "$@" -type f -newer "$out" -print -quit)" ]]
}

mkdir -p "$dist"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sdk_inputs=("$sdk/tw.h" "$sdk/tw.c" "$sdk/tw_internal.h" "$sdk/tw_glue.c" "$sdk/tw-build.sh" "$sdk/bindings" "$wit" "${BASH_SOURCE[0]}")
built=()

for name in sign-in-audit sign-in-set sqs-publisher trap; do
  out="$dist/c-$name.wasm"
  if stale "$out" "$c/examples/$name" "${sdk_inputs[@]}"; then
    say "building c-$name (${world[$name]})"
    started=$(date +%s%N)
    # From the root, so that __FILE__ reads guests/c/examples/<name>/listener.c.
    (cd "$root" && "$sdk/tw-build.sh" --world "${world[$name]}" --wit "$wit" -o "$out" "guests/c/examples/$name"/*.c)
    say "  c-$name: $(( ($(date +%s%N) - started) / 1000000 )) ms"
  fi
  built+=("$name")
done

# The template as `tokenwatch new --lang c NAME` lays it out: its files, the SDK as sdk/ and
# the contract as wit/listener.wit, with {{name}} replaced; built with its own build.sh.
out="$dist/c-template.wasm"
if stale "$out" "$root/guests/templates/c" "${sdk_inputs[@]}"; then
  say "building the C template in a scaffolded copy"
  project="$tmp/c-template"
  mkdir -p "$project/wit"
  cp -r "$root/guests/templates/c/." "$project/"
  cp -r "$sdk" "$project/sdk"
  cp "$wit" "$project/wit/listener.wit"
  grep -rl '{{name}}' "$project" --exclude-dir=sdk | xargs -r sed -i 's/{{name}}/c-template/g'
  (cd "$project" && ./build.sh) >"$tmp/template.log" 2>&1 || { cat "$tmp/template.log" >&2; die "the template's build.sh failed"; }
  [[ -f "$project/dist/c-template.wasm" ]] || die "the template's build.sh made no dist/c-template.wasm"
  cp "$project/dist/c-template.wasm" "$out"
fi
built+=(template)

# --- the SDK's unit tests (decoding, JSON, buffers), natively, under the sanitizers --------
if command -v cc >/dev/null 2>&1; then
  flags=(-std=gnu11 -Wall -Wextra -Wno-unused-parameter -g -I"$sdk")
  if cc "${flags[@]}" -fsanitize=address,undefined "$sdk/tw.c" "$sdk/test/decode_test.c" -o "$tmp/decode_test" 2>/dev/null ||
     cc "${flags[@]}" "$sdk/tw.c" "$sdk/test/decode_test.c" -o "$tmp/decode_test"; then
    "$tmp/decode_test" >/dev/null || die "the C SDK's unit tests failed (guests/c/sdk/test/decode_test.c)"
  else
    die "the C SDK's unit tests do not compile"
  fi
else
  say "no native cc: the C SDK's unit tests are skipped"
fi

# --- checks --------------------------------------------------------------------------------
for name in "${built[@]}"; do
  f="$dist/c-$name.wasm"
  wasm-tools validate --features all "$f" || die "c-$name does not validate"
  wit_text="$(wasm-tools component wit "$f")"
  world_block="$(sed -n '/^world /,/^}/p' <<<"$wit_text")"
  got="$(sed -n 's|^ *export tokenwatch:listener/\([a-z-]*\)@.*|\1|p' <<<"$world_block" | sort | xargs)"
  want="${want_exports[${world[$name]}]}"
  [[ "$got" == "$want" ]] || die "c-$name exports [$got], expected [$want]"
  if grep -q '^ *import wasi:' <<<"$world_block"; then
    die "c-$name imports WASI: $(grep '^ *import wasi:' <<<"$world_block" | xargs)"
  fi
done

say "ok"
for name in "${built[@]}"; do
  printf '  %-17s %8s bytes\n' "c-$name" "$(stat -c %s "$dist/c-$name.wasm")"
done
