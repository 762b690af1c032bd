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
//! Only where the linker is LLD (rustc's default for x86_64 Linux since 1.90, which
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
    if wanted
        && target == "x86_64-unknown-linux-gnu"
        && !own_linker
        && links_with_lld()
        && order.exists()
    {
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-cdylib-link-arg=-Wl,--no-warn-symbol-ordering");
    }
}

/// rustc links x86_64 Linux with its own LLD from 1.90 on; before, with the
/// system's `cc` and GNU ld, which does not know the option.
fn links_with_lld() -> bool {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = std::process::Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let release = text.lines().find_map(|l| l.strip_prefix("release: "));
    let mut parts = release.unwrap_or("0.0").split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (1, 90)
}
