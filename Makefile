# Stable entry points. `make demo` and `make test` are the README's two set-up commands:
# each installs what it needs (Rust wasm targets, wasm-tools, Python test packages).

# One target directory outside the clone, so a fresh clone (CI) reuses the wasmtime build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/tokenwatch/target
TOKENWATCH := $(CARGO_TARGET_DIR)/release/tokenwatch

.PHONY: build guests demo test bench

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
