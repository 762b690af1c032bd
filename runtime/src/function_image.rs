//! An image per interpreted function: the engine's memory as it is once a
//! function's code is loaded, laid over the engine's image.
//!
//! A JavaScript or Python statement on an instance reset to the engine's
//! image loads the function first (QuickJS reads its bytecode, CPython
//! unmarshals and defines it): a few µs of Wasm, and tens of pages written
//! that the reset after the statement copies back. Loading leaves nothing
//! but memory changed (the C stack pointer is back, no table or memory
//! grows — checked here for memory), so the pages it wrote are the whole
//! difference. They become a copy-on-write overlay of the engine's image
//! (the vendored wasmtime's `Module::with_memory_pages`, vendor/README.md):
//! instances of that module start with the function loaded, and a reset
//! puts the loaded state back, so a statement neither loads the function
//! nor writes, and copies back, what loading wrote.
//!
//! The pages are found without touching the rest of memory:
//! `/proc/self/pagemap` tells which pages of the instance's slot are
//! private anonymous copies (written since the slot mapped the image, or
//! kept resident by an earlier reset); wasmtime leaves out those equal to
//! the image.

use crate::error::RuntimeError;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// `/proc/self/pagemap`'s entry bits (Documentation/admin-guide/mm/pagemap.rst).
const PRESENT: u64 = 1 << 63;
const SWAPPED: u64 = 1 << 62;
const FILE_OR_SHARED: u64 = 1 << 61;

/// The host pages of `memory` (a guest's linear memory, page-aligned) that
/// are private copies, as `(offset, bytes)` in ascending order.
pub fn written_pages(memory: &[u8]) -> Result<Vec<(usize, &[u8])>, RuntimeError> {
    let page = page_size();
    Ok(pagemap(memory)?
        .into_iter()
        .enumerate()
        .filter(|(_, e)| (e & PRESENT != 0 && e & FILE_OR_SHARED == 0) || e & SWAPPED != 0)
        .map(|(i, _)| (i * page, &memory[i * page..][..page]))
        .collect())
}

/// How many host pages of `memory` are mapped at all (read or written):
/// what a slot's reset scans one by one.
pub fn present_pages(memory: &[u8]) -> Result<usize, RuntimeError> {
    Ok(pagemap(memory)?
        .iter()
        .filter(|&e| e & PRESENT != 0)
        .count())
}

/// How many mutable globals the module `wasm` has (imported ones too).
/// An image is only as good as its promise that loading a function
/// changed nothing but memory: pg_wasm's engines have one, the C stack
/// pointer, back at its value whenever a call returns (their tests check).
pub fn mutable_globals(wasm: &[u8]) -> Result<usize, RuntimeError> {
    let invalid = |e: wasmparser::BinaryReaderError| RuntimeError::InvalidModule(e.to_string());
    let mut n = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            wasmparser::Payload::GlobalSection(globals) => {
                for g in globals {
                    n += usize::from(g.map_err(invalid)?.ty.mutable);
                }
            }
            wasmparser::Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    if let wasmparser::TypeRef::Global(g) = import.map_err(invalid)?.ty {
                        n += usize::from(g.mutable);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(n)
}

/// `/proc/self/pagemap`'s entry of each host page of `memory`.
fn pagemap(memory: &[u8]) -> Result<Vec<u64>, RuntimeError> {
    let page = page_size();
    let base = memory.as_ptr() as usize;
    if !base.is_multiple_of(page) || !memory.len().is_multiple_of(page) {
        return Err(RuntimeError::Engine(
            "guest memory is not page-aligned".into(),
        ));
    }
    let mut entries = vec![0u8; memory.len() / page * 8];
    let io = |e: std::io::Error| RuntimeError::Engine(format!("/proc/self/pagemap: {e}"));
    let file = File::open("/proc/self/pagemap").map_err(io)?;
    file.read_exact_at(&mut entries, (base / page * 8) as u64)
        .map_err(io)?;
    Ok(entries
        .chunks_exact(8)
        .map(|e| u64::from_le_bytes(e.try_into().unwrap_or_default()))
        .collect())
}

fn page_size() -> usize {
    // SAFETY: sysconf only reads a constant of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}
