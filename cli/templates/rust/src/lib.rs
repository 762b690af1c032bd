//! {{name}}: SQL functions in Rust. Each `#[export]` becomes a function
//! when the module is loaded (`pg-wasm deploy`), typed from its Rust
//! signature: &str/String are text, i32 integer, f64 double precision,
//! Vec<T> a set, serde_json::Value jsonb (feature "json").
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use pg_wasm_guest::export;

/// text -> text
#[export(immutable)]
fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

/// integer, integer -> integer
#[export(immutable)]
fn add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}
