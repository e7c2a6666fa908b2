#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust, idempotently: an independent JOSE library
# (Python jwcrypto) that verifies the SETs the host signs.
set -euo pipefail
if ! python3 -c 'import jwcrypto' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check 'jwcrypto>=1.5'
fi
