#!/usr/bin/env bash
# Regenerates the committed wit-bindgen C bindings in bindings/<world>/ from the contract.
# Needs wit-bindgen-cli 0.63.0 (not in CI; install once, ~12 min):
#   cargo install wit-bindgen-cli@0.63.0 --locked --no-default-features --features c \
#     --root ~/.cache/tokenwatch/wit-bindgen
# Usage: gen-bindings.sh [WIT]   (default: wit/listener.wit next to sdk/ in a project made by
# `tokenwatch new`, else the repository's wit/listener.wit)
set -euo pipefail
sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
default="$sdk/../../../wit/listener.wit"
[[ -f "$sdk/../wit/listener.wit" ]] && default="$sdk/../wit/listener.wit"
wit="${1:-$default}"
bindgen="${WIT_BINDGEN:-$(command -v wit-bindgen || echo "$HOME/.cache/tokenwatch/wit-bindgen/bin/wit-bindgen")}"
[[ -x "$bindgen" ]] || { echo "gen-bindings: wit-bindgen not found (set WIT_BINDGEN)" >&2; exit 1; }
"$bindgen" --version | grep -q ' 0\.63\.0' || { echo "gen-bindings: wit-bindgen 0.63.0 expected, got $("$bindgen" --version)" >&2; exit 1; }
for world in id-token-only access-token-only all-tokens; do
  out="$sdk/bindings/${world//-/_}"
  rm -rf "$out"
  # --no-object-file: no committed .o; tw_glue.c defines the force-link symbol and
  # tw-build.sh embeds the component type with `wasm-tools component embed`.
  "$bindgen" c "$wit" --world "$world" --out-dir "$out" --no-object-file
done
