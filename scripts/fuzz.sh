#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for a bounded time, one after another, one
# fuzzer process at a time: `scripts/fuzz.sh [SECONDS] [TARGET...]` (60 seconds per target by
# default; `make fuzz FUZZ_SECONDS=600`). Installs nightly and cargo-fuzz when missing, copies
# the checked-in seeds (fuzz/seeds/<target>/, and for component_bytes the bundled guests
# from `make guests`) into the run corpus fuzz/corpus/<target>/ (git-ignored, kept between
# runs), and exits non-zero when a target crashes, panics or hangs: the input is then in
# fuzz/artifacts/<target>/ (see docs/fuzzing.md, "Reproducing a crash").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "fuzz: $*" >&2; }
die() { say "$*"; exit 1; }
. "$root/scripts/lib.sh"

seconds="${1:-60}"
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive number of seconds, not ${seconds:?}"
shift || true
all=(event_line event_stream config_toml signing_keys set_content component_bytes)
targets=("${@:-${all[@]}}")
# The components component_bytes mutates: small ones, hostile and example (guests/dist).
components=(probe sign-in-audit c-sign-in-audit unknown-import wasi-import id-probe set-forger)

need_cargo_fuzz
# Its own target directory: nightly with sanitizer flags builds everything anew, and would
# otherwise rebuild over the stable build of `make test` each time.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/tokenwatch/target-fuzz-nightly}"
cd "$root/fuzz"
# -a: debug assertions and overflow checks, so an overflow is a crash, not a wrap.
for t in "${targets[@]}"; do
  cargo +nightly fuzz build -a "$t" || die "the fuzz target $t does not build"
done

failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  if [ -d "seeds/$t" ]; then cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true; fi
  # One input taking longer than the timeout is a hang: reported and kept as a crash.
  flags=(-max_total_time="$seconds" -print_final_stats=1)
  if [ "$t" = component_bytes ]; then
    for c in "${components[@]}"; do
      [ -f "$root/guests/dist/$c.wasm" ] || die "guests/dist/$c.wasm is missing: run \`make guests\` first"
      cp -n "$root/guests/dist/$c.wasm" "corpus/$t/$c.wasm"
    done
    # Room for the largest seed to grow; a compile of a mutated 100 KB component is well
    # under the timeout.
    flags+=(-max_len=131072 -timeout=30)
  else
    flags+=(-timeout=10)
  fi
  say "$t: ${seconds}s"
  if ! cargo +nightly fuzz run -a "$t" "corpus/$t" -- "${flags[@]}"; then
    say "$t: FAILED: the input is in fuzz/artifacts/$t/"
    failed+=("$t")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  die "crashes in: ${failed[*]}"
fi
say "every target ran ${seconds}s without a crash"
