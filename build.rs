//! Links the extension's hot code together.
//!
//! A new backend maps pg_wasm.so's text page by page as its first call runs
//! through it: `fork` copies no page table entries of a file mapping, so
//! every connection faults the code in again, and tears the mapping down at
//! exit. Left where the compiler put them, the ~2 000 functions a
//! first call and a statement run are spread over 7–8 MB of the library's
//! 17 MB of text. `link/first-call.order` lists them (sampled by
//! `scripts/order-text.sh`); the linker places them first, so a
//! connection maps about 1.7 MB instead (docs/benchmarks.md, "A new
//! connection's text").
//!
//! Only where the linker is LLD (rustc's default for x86_64 Linux, which
//! takes `--symbol-ordering-file`); `PG_WASM_TEXT_ORDER=0` turns it off.
//! A symbol the file names that the build does not have is skipped.

use std::env;
use std::path::Path;

fn main() {
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("link/first-call.order");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=PG_WASM_TEXT_ORDER");
    let target = env::var("TARGET").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let own_linker = flags.contains("linker") || flags.contains("link-arg");
    let wanted = env::var("PG_WASM_TEXT_ORDER").map_or(true, |v| v != "0");
    if wanted && target == "x86_64-unknown-linux-gnu" && !own_linker && order.exists() {
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-cdylib-link-arg=-Wl,--no-warn-symbol-ordering");
    }
}
