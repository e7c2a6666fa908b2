# Stable entry points. `make demo` and `make test` are the README's two set-up commands:
# each installs what it needs (Rust wasm targets, wasm-tools, Python test packages).

# One target directory outside the clone, so a fresh clone (CI) reuses the wasmtime build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/tokenwatch/target
TOKENWATCH := $(CARGO_TARGET_DIR)/release/tokenwatch

.PHONY: build guests demo test bench fuzz

build:
	cargo build --release --locked -p tokenwatch

guests:
	scripts/build-guests.sh

# The bundled example listeners over the bundled sample event stream.
demo: build guests
	$(TOKENWATCH) replay --config demo/tokenwatch.toml demo/events.ndjson

test: guests
	scripts/test-deps.sh
	cargo test --release --locked --workspace

bench: build guests
	$(TOKENWATCH) bench

# Every fuzz target for FUZZ_SECONDS each (cargo-fuzz on nightly; docs/fuzzing.md). Not part
# of `make test`, which runs the targets' property-test versions (tests/fuzz_props.rs).
FUZZ_SECONDS ?= 60
fuzz: guests
	scripts/fuzz.sh $(FUZZ_SECONDS)
