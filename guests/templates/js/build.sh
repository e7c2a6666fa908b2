#!/usr/bin/env bash
# Builds listener.js into dist/{{name}}.wasm (a component that imports no WASI).
# Installs the pinned toolchain into ./node_modules on first use (npm ci).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# The world of wit/listener.wit to build: all-tokens (exportListener), id-token-only
# (exportIdTokenListener) or access-token-only (exportAccessTokenListener).
WORLD="${WORLD:-all-tokens}"
NAME='{{name}}'

if [[ ! -x node_modules/.bin/componentize-js ]]; then
  npm ci --no-audit --no-fund --prefer-offline --loglevel=error >&2
fi
mkdir -p dist
# -d ...: componentize-js's optional WASI features off, so the component imports no WASI.
node_modules/.bin/componentize-js listener.js -w wit -n "$WORLD" \
  -d stdio random clocks http fetch-event -o "dist/$NAME.wasm" >&2
echo "built $(pwd)/dist/$NAME.wasm"
