//! Moving bytes across the guest boundary (ABI version 1, SPEC §5): the
//! guest exports `memory` and `pg_wasm_alloc(len) -> ptr`; values go in as
//! `(ptr, len)` and come out as `ptr << 32 | len`. Every pointer a guest
//! hands over is bounds-checked here, so a lying guest gets an error, never
//! a host crash.

use crate::host::HostError;
use wasmtime::{AsContextMut, Caller, Extern, Memory};

/// The export every guest that exchanges bytes must have.
pub const ALLOC_EXPORT: &str = "pg_wasm_alloc";
pub const MEMORY_EXPORT: &str = "memory";
/// Optional: called with each result's `(ptr, len)` once the host has
/// copied it, and with `(0, 0)` after a call that returned no bytes.
pub const FREE_EXPORT: &str = "pg_wasm_free";

fn memory<T>(caller: &mut Caller<'_, T>, what: &str) -> Result<Memory, HostError> {
    match caller.get_export(MEMORY_EXPORT) {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(HostError::Invalid(format!(
            "{what}: the module must export its linear memory as \"{MEMORY_EXPORT}\""
        ))),
    }
}

/// Copies `len` bytes at `ptr` out of guest memory as UTF-8 text.
pub(crate) fn read_str<T>(
    caller: &mut Caller<'_, T>,
    ptr: i32,
    len: i32,
    what: &str,
) -> Result<String, HostError> {
    if len == 0 {
        return Ok(String::new());
    }
    let bytes = read_bytes(caller, ptr, len, what)?;
    // PostgreSQL strings end at a NUL: a message would be cut short there.
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(HostError::Invalid(format!(
            "{what} contains a NUL byte (at offset {at}), which PostgreSQL text cannot hold"
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| HostError::Invalid(format!("{what} is not valid UTF-8: {e}")))
}

/// Copies `len` bytes at `ptr` out of guest memory.
pub(crate) fn read_bytes<T>(
    caller: &mut Caller<'_, T>,
    ptr: i32,
    len: i32,
    what: &str,
) -> Result<Vec<u8>, HostError> {
    let mem = memory(caller, what)?;
    let data = mem.data(&caller);
    let range = checked_range(ptr, len, data.len()).ok_or_else(|| {
        HostError::Invalid(format!(
            "{what}: {len} bytes at {ptr} are outside guest memory ({} bytes)",
            data.len()
        ))
    })?;
    Ok(data[range].to_vec())
}

/// `ptr..ptr+len` if it lies inside a memory of `size` bytes.
pub(crate) fn checked_range(ptr: i32, len: i32, size: usize) -> Option<std::ops::Range<usize>> {
    let start = u32::try_from(ptr).ok()? as usize;
    let len = u32::try_from(len).ok()? as usize;
    let end = start.checked_add(len)?;
    (end <= size).then_some(start..end)
}

/// Allocates room in the guest through `pg_wasm_alloc`, copies `bytes` in
/// and returns `ptr << 32 | len`. The allocation runs guest code, under the
/// same fuel and memory limits as the call.
pub(crate) fn write_result<T>(
    caller: &mut Caller<'_, T>,
    bytes: &[u8],
    what: &str,
) -> wasmtime::Result<i64> {
    let len = i32::try_from(bytes.len()).map_err(|_| {
        wasmtime::Error::new(HostError::Invalid(format!(
            "{what} of {} bytes does not fit in guest memory",
            bytes.len()
        )))
    })?;
    let alloc = match caller.get_export(ALLOC_EXPORT) {
        Some(Extern::Func(f)) => f.typed::<i32, i32>(caller.as_context_mut()).map_err(|_| {
            wasmtime::Error::new(HostError::Invalid(format!(
                "{what}: \"{ALLOC_EXPORT}\" must be (func (param i32) (result i32))"
            )))
        })?,
        _ => {
            return Err(wasmtime::Error::new(HostError::Invalid(format!(
                "{what}: the module must export \"{ALLOC_EXPORT}\" to receive it"
            ))))
        }
    };
    let ptr = alloc.call(caller.as_context_mut(), len)?;
    let mem = memory(caller, what).map_err(wasmtime::Error::new)?;
    let data = mem.data_mut(caller.as_context_mut());
    let range = checked_range(ptr, len, data.len()).ok_or_else(|| {
        wasmtime::Error::new(HostError::Invalid(format!(
            "{what}: {ALLOC_EXPORT}({len}) returned {ptr}, outside guest memory"
        )))
    })?;
    data[range].copy_from_slice(bytes);
    Ok(((ptr as u32 as i64) << 32) | (len as u32 as i64))
}
