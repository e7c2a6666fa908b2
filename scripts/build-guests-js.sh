#!/usr/bin/env bash
# Builds the JavaScript listeners (guests/js/examples/<name>) into guests/dist/js-<name>.wasm
# with componentize-js, checks them (no WASI import, the right exports), keeps the SDK's
# TypeScript declarations in step with the WIT, and builds the `tokenwatch new --lang js`
# template the way a scaffolded project is laid out (guests/dist/js-template.wasm, loaded by
# tests/lang_js.rs).
#
# Idempotent and incremental: the toolchain is installed with `npm ci` from the committed
# package-lock.json into guests/js/node_modules (again only when the lockfile changed), and a
# component is rebuilt only when one of its inputs is newer than it. Run from anywhere.
# Env: TOKENWATCH_JS_FORCE=1 rebuilds everything.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
js="$root/guests/js"
sdk="$js/sdk"
dist="$root/guests/dist"
wit="$root/wit/listener.wit"
template="$root/guests/templates/js"

# Example -> world, and the exports each component must have (and only those).
declare -A world=(
  [sign-in-audit]=id-token-only
  [sqs-publisher]=all-tokens
)
declare -A want_exports=(
  [id-token-only]="batch-listener id-token-listener lifecycle"
  [access-token-only]="access-token-listener batch-listener lifecycle"
  [all-tokens]="access-token-listener batch-listener id-token-listener lifecycle"
)
# componentize-js's optional features, all off: the component then imports no WASI.
disable=(-d stdio random clocks http fetch-event)

say() { printf 'build-guests-js: %s\n' "$*"; }
die() { printf 'build-guests-js: error: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------
if ! command -v npm >/dev/null 2>&1; then
  say "installing Node.js and npm (apt)"
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; } ||
    die "npm is missing and could not be installed: install Node.js 20 or later"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
(( node_major >= 18 )) || die "Node.js $node_major is too old: componentize-js needs 18 or later"

# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
need_wasm_tools

# npm ci when node_modules is missing or older than the lockfile (npm writes
# node_modules/.package-lock.json on every install).
stamp="$js/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$js/package-lock.json" -nt "$stamp" || ! -x "$js/node_modules/.bin/componentize-js" ]]; then
  say "npm ci in guests/js (componentize-js, preview2-shim, jco as pinned in package-lock.json)"
  (cd "$js" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
  touch "$stamp"
fi
componentize="$js/node_modules/.bin/componentize-js"
jco="$js/node_modules/.bin/jco"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- the SDK's generated declarations ---------------------------------------------------
# jco guest-types of the all-tokens world: every interface of the contract.
"$jco" guest-types "$root/wit" -n all-tokens -o "$tmp/types" >/dev/null
if ! diff -r -q "$tmp/types" "$sdk/types" >/dev/null 2>&1; then
  [[ -n "${CI:-}" ]] && die "guests/js/sdk/types is out of step with wit/listener.wit: run scripts/build-guests-js.sh and commit the result"
  say "updating guests/js/sdk/types from wit/listener.wit (commit the change)"
  rm -rf "$sdk/types"
  cp -r "$tmp/types" "$sdk/types"
fi

# --- build ---------------------------------------------------------------------------------
# Whether $1 is missing or older than any of the other paths (files or directories).
stale() {
  local out="$1"; shift
  [[ -n "${TOKENWATCH_JS_FORCE:-}" || ! -f "$out" ]] && return 0
  [[ -n "$(find "$@" -newer "$out" -type f -print -quit 2>/dev/null)" ]]
}

# check NAME WASM WORLD: validates and checks imports and exports.
check() {
  local name="$1" wasm="$2" w="$3" text world got
  wasm-tools validate --features all "$wasm" || die "$name does not validate"
  text="$(wasm-tools component wit "$wasm")"
  world="$(sed -n '/^world /,/^}/p' <<<"$text")"
  if grep -q '^ *import wasi:' <<<"$world"; then
    die "$name imports WASI: $(grep '^ *import wasi:' <<<"$world" | xargs)"
  fi
  got="$(sed -n 's|^ *export tokenwatch:listener/\([a-z-]*\)@.*|\1|p' <<<"$world" | sort | xargs)"
  [[ "$got" == "${want_exports[$w]}" ]] || die "$name exports [$got], expected [${want_exports[$w]}]"
}

mkdir -p "$dist"
sdk_inputs=("$sdk/tokenwatch.js" "$wit" "$js/package-lock.json")
for name in "${!world[@]}"; do
  src="$js/examples/$name"
  out="$dist/js-$name.wasm"
  if stale "$out" "$src" "${sdk_inputs[@]}"; then
    say "componentize-js $name (world ${world[$name]}; about 10-30 s)"
    "$componentize" "$src/listener.js" -w "$root/wit" -n "${world[$name]}" "${disable[@]}" -o "$tmp/js-$name.wasm" >/dev/null
    check "js-$name" "$tmp/js-$name.wasm" "${world[$name]}"
    mv -f "$tmp/js-$name.wasm" "$out"
  else
    say "js-$name is up to date"
  fi
done

# --- the template, built as `tokenwatch new --lang js` lays it out ---------------------------
# template files + the SDK as sdk/ + the WIT as wit/listener.wit, `{{name}}` replaced; built
# with its own one command, from the npm cache (no download once guests/js was installed).
out="$dist/js-template.wasm"
if stale "$out" "$template" "${sdk_inputs[@]}"; then
  say "building the js template as a scaffolded project"
  proj="$tmp/js-template"
  mkdir -p "$proj/wit"
  cp -r "$template/." "$proj/"
  cp -r "$sdk" "$proj/sdk"
  cp "$wit" "$proj/wit/listener.wit"
  grep -rl --exclude-dir=sdk '{{name}}' "$proj" | while read -r f; do sed -i 's/{{name}}/js-template/g' "$f"; done
  built="$(cd "$proj" && ./build.sh)" || die "the template's build.sh failed"
  printf '%s\n' "$built" | sed 's/^/  template: /'
  [[ -f "$proj/dist/js-template.wasm" ]] || die "the template's build did not write dist/js-template.wasm"
  check js-template "$proj/dist/js-template.wasm" all-tokens
  mv -f "$proj/dist/js-template.wasm" "$out"
else
  say "js-template is up to date"
fi

say "ok"
for f in "$dist"/js-*.wasm; do
  printf '  %-20s %9s bytes\n' "$(basename "$f" .wasm)" "$(stat -c %s "$f")"
done
