//! Finds the JavaScript and Python engine modules (engines/*/build.sh
//! build them; `make` runs those first) and hands their paths to
//! `include_bytes!`.
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let dir = std::env::var_os("PG_WASM_ENGINES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/engines"));
    let engine = dir.join("javascript.wasm");
    println!("cargo:rerun-if-env-changed=PG_WASM_ENGINES");
    println!("cargo:rerun-if-changed={}", engine.display());
    if !engine.exists() {
        panic!(
            "{} is missing: build it with engines/javascript/build.sh (make does)",
            engine.display()
        );
    }
    println!("cargo:rustc-env=PG_WASM_JS_ENGINE={}", engine.display());
    let python = dir.join("python.wasm");
    println!("cargo:rerun-if-changed={}", python.display());
    if !python.exists() {
        panic!(
            "{} is missing: build it with engines/python/build.sh (make does)",
            python.display()
        );
    }
    println!("cargo:rustc-env=PG_WASM_PY_ENGINE={}", python.display());
}
