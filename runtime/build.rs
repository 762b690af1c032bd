//! Finds the JavaScript and Python engine modules (engines/*/build.sh
//! build them; `make` runs those first), hands their paths to
//! `include_bytes!` and their SHA-256 (by coreutils' sha256sum) to the
//! crate: the artifact store names a compiled engine by it, and hashing
//! 16 MB in every new backend would cost milliseconds.
use std::path::{Path, PathBuf};

// The same file is the crate's `pg_wasm_runtime::table_writes`.
#[path = "src/table_writes.rs"]
mod table_writes;

fn engine(dir: &Path, file: &str, script: &str, var: &str) {
    let path = dir.join(file);
    println!("cargo:rerun-if-changed={}", path.display());
    if !path.exists() {
        panic!(
            "{} is missing: build it with engines/{script}/build.sh (make does)",
            path.display()
        );
    }
    println!("cargo:rustc-env={var}={}", path.display());
    let out = std::process::Command::new("sha256sum")
        .arg(&path)
        .output()
        .expect("sha256sum (coreutils) runs");
    assert!(out.status.success(), "sha256sum {} failed", path.display());
    let hex = String::from_utf8(out.stdout).unwrap();
    let hex = hex.split_whitespace().next().unwrap_or_default();
    assert_eq!(hex.len(), 64, "sha256sum printed {hex:?}");
    println!("cargo:rustc-env={var}_SHA256={hex}");
    let wasm = std::fs::read(&path).expect("the engine module is readable");
    let writes = match table_writes::count(&wasm) {
        Ok(0) => "0",
        Ok(_) | Err(_) => "1",
    };
    println!("cargo:rustc-env={var}_WRITES_TABLES={writes}");
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let dir = std::env::var_os("PG_WASM_ENGINES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/engines"));
    println!("cargo:rerun-if-env-changed=PG_WASM_ENGINES");
    engine(&dir, "javascript.wasm", "javascript", "PG_WASM_JS_ENGINE");
    engine(&dir, "python.wasm", "python", "PG_WASM_PY_ENGINE");
}
