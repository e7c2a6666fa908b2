#!/usr/bin/env bash
# Builds this listener into {{name}}.wasm and prints its path (the last line of stdout).
# Needs python3 with pip; installs componentize-py 0.25.1 (pip --user) when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
name="{{name}}"
world="all-tokens"   # id-token-only / access-token-only / all-tokens: match the export in app.py
version="0.25.1"

PATH="$PATH:$(python3 -m site --user-base)/bin"
if [[ "$(componentize-py --version 2>/dev/null)" != "componentize-py $version" ]]; then
  echo "installing componentize-py $version (pip)" >&2
  python3 -m pip install --quiet --disable-pip-version-check "componentize-py==$version" 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages "componentize-py==$version"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
  hash -r
fi

# --stub-wasi: the component imports no WASI (the host grants none): print() goes to the
# host log through the SDK, and time, random, files and sockets are not available.
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
cp ./*.py "$src/"
cp -r sdk/tokenwatch "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +
mkdir -p dist
componentize-py -d wit -w "$world" componentize app -p "$src" -o "dist/$name.wasm" --stub-wasi >&2
echo "$PWD/dist/$name.wasm"
