//! WebAssembly components (SPEC §10): JavaScript, Python and Rust guests
//! typed by their WIT. Told apart from core modules by the header; compiled
//! like them (off the caller's thread, abandonable), described as WIT
//! exports mapped to SQL types (`wit`), run in a WASI 0.2 sandbox that
//! grants nothing (`sandbox`), called with dynamic values (`call`).

mod call;
mod host_api;
pub mod json;
mod names;
mod output_pipe;
mod sandbox;
mod wit;

pub use call::{ComponentInstance, PreparedComponent};
pub use json::ValueError;
pub use names::{name_records, name_records_from_wit};
pub use sandbox::{check_imports as check_component_imports, ComponentState, StreamOutput};
pub use wasmtime::component::{Component, ComponentExportIndex, Func, Val};
pub use wit::{describe_component, snake, ComponentExport, ComponentInfo, WitType};

use crate::compile::{compile_watched_with, CompileLimits};
use crate::error::RuntimeError;
use wasmtime::Engine;

/// Whether `bytes` are a component (layer 1 of the binary format) rather
/// than a core module: both start with `\0asm`, then a version and layer.
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes.starts_with(b"\0asm") && bytes[6..8] == [0x01, 0x00]
}

/// Validates and compiles a component within `limits`, abandoned when
/// `poll` says so, and checks its imports (only WASI 0.2).
pub fn compile_component(
    engine: &Engine,
    bytes: &[u8],
    limits: &CompileLimits,
    poll: &mut dyn FnMut() -> bool,
) -> Result<Component, RuntimeError> {
    let component = compile_component_any(engine, bytes, limits, poll)?;
    check_component_imports(engine, &component)?;
    Ok(component)
}

/// [`compile_component`] whatever it imports, for inspection.
pub fn compile_component_any(
    engine: &Engine,
    bytes: &[u8],
    limits: &CompileLimits,
    poll: &mut dyn FnMut() -> bool,
) -> Result<Component, RuntimeError> {
    compile_watched_with(engine, bytes, limits, poll, |engine, bytes| {
        Component::from_binary(engine, bytes)
    })
}
