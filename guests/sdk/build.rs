//! Encodes the component type of the worlds `id-token-only` and `access-token-only`.
//!
//! wit-bindgen names its per-interface export macros after the interface and marks them
//! `#[macro_export]`, so one crate can hold the export bindings of only one of our three
//! worlds. The SDK generates `all-tokens` (whose export glue covers every interface) and
//! its export macros embed the type of the narrower world from here, so that a component
//! exports only the interfaces it listens to.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let wit = manifest.join("../wit");
    println!("cargo:rerun-if-changed={}", wit.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());

    let mut resolve = wit_parser::Resolve::default();
    let (pkg, files) = resolve.push_path(&wit).expect("parse ../wit (guests/wit in the repository links to the top-level wit/)");
    for file in files.paths() {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    for world in ["id-token-only", "access-token-only"] {
        let id = resolve.select_world(&[pkg], Some(world)).expect(world);
        let bytes = wit_component::metadata::encode(
            &resolve,
            id,
            wit_component::StringEncoding::UTF8,
            None,
            false,
        )
        .expect("encode world");
        std::fs::write(out.join(format!("{world}.wasm")), bytes).unwrap();
    }
}
