#!/usr/bin/env bash
# Builds this listener into dist/{{name}}.wasm (one command: ./build.sh).
# Needs python3 with pip: sdk/tw-build.sh installs ziglang 0.17.1 (zig cc) and wasm-tools
# with `pip install --user` when they are missing (zig's first run builds its libc, ~1 min).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
out="dist/{{name}}.wasm"
# --world: all-tokens (both handlers), id-token-only or access-token-only.
sdk/tw-build.sh --world all-tokens --wit wit/listener.wit -o "$out" listener.c
echo "built $(pwd)/$out ($(stat -c %s "$out") bytes)"
