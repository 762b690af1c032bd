//! {{name}}: a Rust component for pg_wasm. wit-bindgen generates the
//! bindings of wit/world.wit; pg-wasm build makes the core module a
//! component. no_std: an allocator and a panic handler are all it needs.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

wit_bindgen::generate!({ path: "wit", world: "{{kebab}}" });

struct Component;

impl Guest for Component {
    fn greet(name: String) -> String {
        format!("Hello, {name}!")
    }

    fn add(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
}

export!(Component);

#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
