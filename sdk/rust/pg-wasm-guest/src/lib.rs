//! Write pg_wasm functions in Rust.
//!
//! ```ignore
//! use pg_wasm_guest::export;
//!
//! #[export(immutable)]
//! fn slugify(s: &str) -> String { ... }          // slugify(text) RETURNS text
//!
//! #[export]
//! fn tokens(s: &str) -> Vec<String> { ... }       // RETURNS SETOF text
//! ```
//!
//! `#[export]` writes the ABI glue (SPEC §5, docs/abi.md) and one entry of
//! the module's `pg_wasm` custom section, so `wasm.load(name, bytes)`
//! creates correctly typed SQL functions. Supported types:
//!
//! | Rust | SQL |
//! |---|---|
//! | `i16`, `i32`, `i64`, `f32`, `f64`, `bool` | `smallint`, `integer`, `bigint`, `real`, `double precision`, `boolean` |
//! | `&str`, `String` | `text` |
//! | `&[u8]`, `Vec<u8>` | `bytea` |
//! | `serde_json::Value` (feature `json`) | `jsonb` |
//! | `Option<T>` argument | a non-strict function; `None` is NULL |
//! | `Option<T>` result | `None` is NULL |
//! | `Vec<T>` result (not `u8`) | `SETOF T` |
//!
//! `#[export(trigger)] fn f(ev: TriggerEvent) -> TriggerResult` makes a
//! trigger function (`RETURNS trigger`, feature `json`).
//!
//! `#[export(name = "sql_name", stable, returns = "my_type", args = "uuid, text")]`
//! overrides the SQL name, volatility and types (e.g. a JSON `Value` result
//! for a composite type).
//!
//! The crate is `no_std` + `alloc`. Feature `allocator` (default) installs
//! dlmalloc as the global allocator, its first megabyte of heap inside the
//! module's initial memory (a statement that allocates less never grows
//! memory, which makes each statement's fresh instance cheaper), and
//! `panic-handler` (default) turns a panic into a PostgreSQL ERROR with the
//! panic message; a `std` guest turns both off.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

pub use pg_wasm_macros::export;

#[cfg(all(feature = "allocator", target_arch = "wasm32"))]
mod heap;

#[cfg(all(feature = "allocator", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: heap::Heap = heap::Heap;

// ---- the memory ABI --------------------------------------------------------

/// The host copies each text/bytea/JSON argument into memory it gets here;
/// the argument's glue frees it after the call.
#[no_mangle]
pub extern "C" fn pg_wasm_alloc(len: i32) -> i32 {
    let mut v: Vec<u8> = Vec::with_capacity(len.max(0) as usize);
    let p = v.as_mut_ptr();
    core::mem::forget(v);
    p as i32
}

/// The result handed to the host last, as `(ptr, capacity)`: the host
/// frees each result (with `pg_wasm_free`) before the next call, so one
/// slot is enough, and results keep the capacity they were built with
/// instead of being shrunk (a copy) to their length.
static RESULT_PTR: AtomicU32 = AtomicU32::new(0);
static RESULT_CAP: AtomicU32 = AtomicU32::new(0);

/// The host calls this with each result once it has copied it, and with
/// (0, 0) after calls that returned no bytes.
#[no_mangle]
pub extern "C" fn pg_wasm_free(ptr: i32, len: i32) {
    if ptr == 0 || len <= 0 || RESULT_PTR.load(Relaxed) != ptr as u32 {
        return;
    }
    RESULT_PTR.store(0, Relaxed);
    let cap = RESULT_CAP.load(Relaxed) as usize;
    // SAFETY: `ptr` is the result `return_bytes` handed out last, a Vec of
    // `len` bytes with capacity `cap`; it is rebuilt (and freed) once.
    unsafe { drop(Vec::from_raw_parts(ptr as *mut u8, len as usize, cap)) };
}

/// One byte-borne argument as the host passed it; frees it on drop.
#[doc(hidden)]
pub struct ArgBuf {
    ptr: *mut u8,
    len: i32,
}

impl ArgBuf {
    /// # Safety
    /// `(ptr, len)` must be an argument the host wrote through
    /// `pg_wasm_alloc(len)`, or `(0, -1)` for NULL.
    pub unsafe fn new(ptr: i32, len: i32) -> Self {
        ArgBuf {
            ptr: ptr as *mut u8,
            len,
        }
    }

    pub fn bytes(&self) -> Option<&[u8]> {
        match self.len {
            n if n < 0 => None,
            0 => Some(&[]),
            // SAFETY: the host wrote `len` bytes at `ptr` (see `new`).
            n => Some(unsafe { core::slice::from_raw_parts(self.ptr, n as usize) }),
        }
    }

    fn take(mut self) -> Option<Vec<u8>> {
        let out = match self.len {
            n if n < 0 => None,
            0 => Some(Vec::new()),
            // SAFETY: allocated by `pg_wasm_alloc(len)` with capacity `len`.
            n => Some(unsafe { Vec::from_raw_parts(self.ptr, n as usize, n as usize) }),
        };
        self.len = -1;
        out
    }
}

impl Drop for ArgBuf {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: as in `take`; `len` is reset there, so this runs once.
            unsafe {
                drop(Vec::from_raw_parts(
                    self.ptr,
                    self.len as usize,
                    self.len as usize,
                ))
            };
        }
    }
}

fn null_argument() -> ! {
    error("NULL passed to a wasm function argument that is not an Option")
}

/// A Rust type that can be made from a byte-borne argument.
#[doc(hidden)]
pub trait FromArg<'a>: Sized {
    fn from_arg(buf: &'a ArgBuf) -> Self;
    fn from_owned(buf: ArgBuf) -> Self;
}

impl<'a> FromArg<'a> for &'a str {
    fn from_arg(buf: &'a ArgBuf) -> Self {
        let b = buf.bytes().unwrap_or_else(|| null_argument());
        core::str::from_utf8(b).unwrap_or_else(|_| error("text argument is not UTF-8"))
    }
    fn from_owned(_: ArgBuf) -> Self {
        unreachable!("borrowed arguments use from_arg")
    }
}

impl<'a> FromArg<'a> for &'a [u8] {
    fn from_arg(buf: &'a ArgBuf) -> Self {
        buf.bytes().unwrap_or_else(|| null_argument())
    }
    fn from_owned(_: ArgBuf) -> Self {
        unreachable!("borrowed arguments use from_arg")
    }
}

impl FromArg<'_> for String {
    fn from_arg(_: &ArgBuf) -> Self {
        unreachable!("owned arguments use from_owned")
    }
    fn from_owned(buf: ArgBuf) -> Self {
        let v = buf.take().unwrap_or_else(|| null_argument());
        String::from_utf8(v).unwrap_or_else(|_| error("text argument is not UTF-8"))
    }
}

impl FromArg<'_> for Vec<u8> {
    fn from_arg(_: &ArgBuf) -> Self {
        unreachable!("owned arguments use from_owned")
    }
    fn from_owned(buf: ArgBuf) -> Self {
        buf.take().unwrap_or_else(|| null_argument())
    }
}

#[cfg(feature = "json")]
impl FromArg<'_> for serde_json::Value {
    fn from_arg(buf: &ArgBuf) -> Self {
        let b = buf.bytes().unwrap_or_else(|| null_argument());
        serde_json::from_slice(b).unwrap_or_else(|e| error(&alloc::format!("jsonb argument: {e}")))
    }
    fn from_owned(buf: ArgBuf) -> Self {
        Self::from_arg(&buf)
    }
}

impl<'a, T: FromArg<'a>> FromArg<'a> for Option<T> {
    fn from_arg(buf: &'a ArgBuf) -> Self {
        buf.bytes().map(|_| T::from_arg(buf))
    }
    fn from_owned(buf: ArgBuf) -> Self {
        if buf.len < 0 {
            None
        } else {
            Some(T::from_owned(buf))
        }
    }
}

// ---- results ---------------------------------------------------------------

const NULL: i64 = 0xFFFF_FFFF;

/// Hands bytes to the host as `ptr << 32 | len`; freed in `pg_wasm_free`.
#[doc(hidden)]
pub fn return_bytes(bytes: Vec<u8>) -> i64 {
    let len = bytes.len();
    if len == 0 {
        return 0;
    }
    let mut bytes = core::mem::ManuallyDrop::new(bytes);
    let ptr = bytes.as_mut_ptr() as u32;
    RESULT_PTR.store(ptr, Relaxed);
    RESULT_CAP.store(bytes.capacity() as u32, Relaxed);
    ((ptr as i64) << 32) | len as u32 as i64
}

/// A Rust type that can be returned as bytes.
#[doc(hidden)]
pub trait IntoRet {
    fn into_ret(self) -> i64;
}

impl IntoRet for String {
    fn into_ret(self) -> i64 {
        return_bytes(self.into_bytes())
    }
}

impl IntoRet for &str {
    fn into_ret(self) -> i64 {
        return_bytes(self.as_bytes().to_vec())
    }
}

impl IntoRet for Vec<u8> {
    fn into_ret(self) -> i64 {
        return_bytes(self)
    }
}

#[cfg(feature = "json")]
impl IntoRet for serde_json::Value {
    fn into_ret(self) -> i64 {
        return_bytes(self.to_string().into_bytes())
    }
}

impl<T: IntoRet> IntoRet for Option<T> {
    fn into_ret(self) -> i64 {
        match self {
            Some(v) => v.into_ret(),
            None => NULL,
        }
    }
}

/// One element of a set-returning function's result, as JSON.
#[doc(hidden)]
pub trait ToJson {
    fn write_json(&self, out: &mut String);
}

macro_rules! json_number {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
        }
    )*};
}
json_number!(i16, i32, i64, u32, u64, bool);

macro_rules! json_float {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                if self.is_finite() {
                    out.push_str(&self.to_string());
                } else {
                    out.push_str("null");
                }
            }
        }
    )*};
}
json_float!(f32, f64);

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.reserve(self.len() + 2);
        out.push('"');
        let bytes = self.as_bytes();
        let mut start = 0;
        loop {
            let i = start + needs_escape(&bytes[start..]);
            out.push_str(&self[start..i]);
            let Some(&b) = bytes.get(i) else { break };
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                _ => {
                    out.push_str("\\u00");
                    out.push(HEX[(b >> 4) as usize] as char);
                    out.push(HEX[(b & 15) as usize] as char);
                }
            }
            start = i + 1;
        }
        out.push('"');
    }
}

/// The index of the first byte of `b` a JSON string must escape (`"`, `\\`
/// or a control character), or `b.len()`; eight bytes at a time.
fn needs_escape(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let q = w ^ (ONES * b'"' as u64);
        let s = w ^ (ONES * b'\\' as u64);
        let hit = (q.wrapping_sub(ONES) & !q
            | s.wrapping_sub(ONES) & !s
            | w.wrapping_sub(ONES * 0x20) & !w)
            & HIGH;
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] != b'"' && b[i] != b'\\' && b[i] >= 0x20 {
        i += 1;
    }
    i
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        self.as_str().write_json(out)
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out)
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(v) => v.write_json(out),
            None => out.push_str("null"),
        }
    }
}

#[cfg(feature = "json")]
impl ToJson for serde_json::Value {
    fn write_json(&self, out: &mut String) {
        out.push_str(&self.to_string())
    }
}

/// A set-returning function's rows as a JSON array.
#[doc(hidden)]
pub fn return_set<T: ToJson>(rows: Vec<T>) -> i64 {
    let mut out = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        r.write_json(&mut out);
    }
    out.push(']');
    return_bytes(out.into_bytes())
}

// ---- triggers (SPEC §6) ------------------------------------------------------

#[cfg(feature = "json")]
mod trigger;
#[cfg(feature = "json")]
pub use trigger::{Changes, Row, TriggerEvent, TriggerResult};

// ---- host API (SPEC §8) ------------------------------------------------------

mod host {
    #[link(wasm_import_module = "pg")]
    extern "C" {
        pub fn log(level: i32, ptr: *const u8, len: i32);
        pub fn error(ptr: *const u8, len: i32) -> !;
        pub fn query(sql: *const u8, sql_len: i32, params: *const u8, params_len: i32) -> i64;
    }
}

/// `pg.log` levels.
#[derive(Clone, Copy, Debug)]
pub enum Level {
    Debug = 0,
    Log = 1,
    Info = 2,
    Notice = 3,
    Warning = 4,
}

/// A message at `level`, as RAISE would send it.
pub fn log(level: Level, message: &str) {
    // SAFETY: the host reads `message` within bounds it checks itself.
    unsafe { host::log(level as i32, message.as_ptr(), message.len() as i32) }
}

/// Raises an ERROR (SQLSTATE P0001) with `message`; never returns.
pub fn error(message: &str) -> ! {
    // SAFETY: as in `log`; the host unwinds the guest, so this never returns.
    unsafe { host::error(message.as_ptr(), message.len() as i32) }
}

/// Runs SQL with a JSON array of parameters and returns the rows as a JSON
/// array of objects. Needs the module setting `allow_spi`.
pub fn query(sql: &str, params_json: &str) -> String {
    // SAFETY: the host reads both strings within bounds and writes the result
    // through `pg_wasm_alloc`, which hands us ownership of `len` bytes.
    unsafe {
        let r = host::query(
            sql.as_ptr(),
            sql.len() as i32,
            params_json.as_ptr(),
            params_json.len() as i32,
        ) as u64;
        let (ptr, len) = ((r >> 32) as usize, (r & 0xFFFF_FFFF) as usize);
        if len == 0 {
            return String::new();
        }
        let v = Vec::from_raw_parts(ptr as *mut u8, len, len);
        String::from_utf8(v).unwrap_or_default()
    }
}

#[cfg(feature = "panic-handler")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "{info}");
    error(&s)
}

#[cfg(test)]
mod tests {
    use super::ToJson;
    use alloc::string::String;

    #[test]
    fn strings_are_escaped_as_json() {
        for s in [
            "",
            "plain text longer than eight",
            "q\"b\\c\n\u{1}é☃ tail of text",
            "\u{1f}",
        ] {
            let mut out = String::new();
            s.write_json(&mut out);
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, s);
        }
    }
}
