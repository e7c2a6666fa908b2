#!/usr/bin/env bash
# Builds the Python guests (guests/python/examples/<name>) into
# guests/dist/python-<name>.wasm with componentize-py 0.25.1 (--stub-wasi: no WASI imports),
# builds the project template (guests/templates/python + the SDK + the WIT, laid out as
# `tokenwatch new --lang python` scaffolds it) into guests/dist/python-template.wasm, and
# checks every result: it validates, imports no `wasi:`, exports exactly the expected
# tokenwatch interfaces. Runs the SDK's unit tests (plain CPython).
# Idempotent: installs componentize-py and wasm-tools (pip, via scripts/pip-install.sh) when
# missing; rebuilds a component only when one of its inputs is newer than it.
# Env: TOKENWATCH_PYTHON_FORCE=1 rebuilds everything.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$root/guests/python"
sdk="$py/sdk"
template="$root/guests/templates/python"
wit="$root/wit"
dist="$root/guests/dist"
componentize_version="0.25.1"

# Example name -> world of wit/listener.wit.
declare -A world=(
  [sign-in-audit]="id-token-only"
  [sqs-publisher]="all-tokens"
)
# World -> the tokenwatch interfaces a component of it exports (sorted).
declare -A want_exports=(
  [id-token-only]="batch-listener id-token-listener lifecycle"
  [access-token-only]="access-token-listener batch-listener lifecycle"
  [all-tokens]="access-token-listener batch-listener id-token-listener lifecycle"
)

say() { printf 'build-guests-python: %s\n' "$*"; }
die() { printf 'build-guests-python: error: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------
PATH="$PATH:$(python3 -m site --user-base)/bin"
have_componentize() {
  command -v componentize-py >/dev/null 2>&1 &&
    [[ "$(componentize-py --version 2>/dev/null)" == "componentize-py $componentize_version" ]]
}
if ! have_componentize; then
  say "installing componentize-py $componentize_version (pip)"
  "$root/scripts/pip-install.sh" "componentize-py==$componentize_version"
  hash -r
  have_componentize || die "componentize-py $componentize_version still not on PATH after pip install"
fi
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
need_wasm_tools

# --- SDK unit tests ----------------------------------------------------------------------
if ! unit="$(PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s "$sdk/tests" 2>&1)"; then
  printf '%s\n' "$unit" >&2
  die "the SDK's unit tests fail (python3 -m unittest discover -s $sdk/tests)"
fi

mkdir -p "$dist"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Whether `out` is missing or older than any file under the given inputs (or this script).
stale() {
  local out="$1"; shift
  [[ "${TOKENWATCH_PYTHON_FORCE:-}" == 1 || ! -e "$out" ]] && return 0
  [[ -n "$(find "$@" "${BASH_SOURCE[0]}" -newer "$out" -type f ! -path '*/__pycache__/*' -print -quit)" ]]
}

# check OUT WORLD: validates, no WASI imports, exactly the tokenwatch exports of WORLD
# (componentize-py adds an `exports` interface of its own, its pre-initialisation hook).
check() {
  local out="$1" w="$2" text world got
  wasm-tools validate --features all "$out" || die "$(basename "$out") does not validate"
  text="$(wasm-tools component wit "$out")"
  world="$(sed -n '/^world /,/^}/p' <<<"$text")"
  if grep -q '^ *import wasi:' <<<"$world"; then
    die "$(basename "$out") imports WASI: $(grep '^ *import wasi:' <<<"$world" | xargs)"
  fi
  got="$(sed -n 's|^ *export tokenwatch:listener/\([a-z-]*\)@.*|\1|p' <<<"$world" | sort | xargs)"
  [[ "$got" == "${want_exports[$w]}" ]] || die "$(basename "$out") exports [$got], expected [${want_exports[$w]}]"
}

# componentize APP_DIR WORLD OUT: one component from an app directory and the SDK.
componentize() {
  local app="$1" w="$2" out="$3" started
  started=$(date +%s)
  # A fresh copy of the sources: no __pycache__ or stray files from the tree in the component.
  rm -rf "$tmp/src" && mkdir -p "$tmp/src"
  cp "$app"/*.py "$tmp/src/"
  cp -r "$sdk/tokenwatch" "$tmp/src/tokenwatch"
  find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +
  (cd "$tmp" && componentize-py -d "$wit" -w "$w" componentize app -p "$tmp/src" -o "$tmp/out.wasm" --stub-wasi >/dev/null) ||
    die "componentize-py failed for $app"
  check "$tmp/out.wasm" "$w"
  mv -f "$tmp/out.wasm" "$out"
  say "built $(basename "$out") ($(stat -c %s "$out") bytes, $(( $(date +%s) - started )) s)"
}

for name in "${!world[@]}"; do
  out="$dist/python-$name.wasm"
  if stale "$out" "$py/examples/$name" "$sdk/tokenwatch" "$wit/listener.wit"; then
    componentize "$py/examples/$name" "${world[$name]}" "$out"
  else
    check "$out" "${world[$name]}"
  fi
done

# --- the project template, built as scaffolded ---------------------------------------------
# `tokenwatch new --lang python NAME` = the template's files ({{name}} replaced) + the SDK as
# sdk/ + the WIT as wit/listener.wit. Built here in exactly that layout, with its own
# build.sh; tests/lang_python.rs loads the result and replays the template's events.ndjson.
out="$dist/python-template.wasm"
if stale "$out" "$template" "$sdk/tokenwatch" "$wit/listener.wit"; then
  started=$(date +%s)
  project="$tmp/project/my-listener"
  mkdir -p "$project/wit"
  cp -r "$template"/. "$project/"
  cp -r "$sdk" "$project/sdk"
  cp "$wit/listener.wit" "$project/wit/listener.wit"
  find "$project" -type f -exec sed -i 's/{{name}}/my-listener/g' {} +
  find "$project" -name __pycache__ -prune -exec rm -rf {} +
  built="$(cd "$project" && ./build.sh)" || die "the template's build.sh failed"
  wasm="$(tail -n 1 <<<"$built")"
  [[ -f "$wasm" ]] || die "the template's build.sh did not print the path of its .wasm (got: $wasm)"
  check "$wasm" all-tokens
  mv -f "$wasm" "$out"
  say "built python-template.wasm from the scaffolded layout ($(( $(date +%s) - started )) s)"
else
  check "$out" all-tokens
fi

say "ok: $(cd "$dist" && ls python-*.wasm | xargs)"
