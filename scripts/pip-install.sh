#!/usr/bin/env bash
# pip-install.sh PACKAGE...: install Python packages for the build and tests on any machine:
# pip itself from apt when missing, and the user site when a distro Python refuses global
# installs (PEP 668). Idempotent.
set -euo pipefail
if ! python3 -m pip --version >/dev/null 2>&1; then
  command -v apt-get >/dev/null || { echo "pip-install: python3 has no pip and there is no apt-get" >&2; exit 1; }
  apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
fi
pip() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }
pip "$@" 2>/dev/null || pip --user --break-system-packages "$@"
# New console scripts need a pyenv rehash to appear on PATH.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
