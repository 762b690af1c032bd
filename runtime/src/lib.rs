//! The pg_wasm sandbox, independent of PostgreSQL.
//!
//! Everything here is plain Rust on top of wasmtime so it can be unit-tested
//! and benchmarked without a server. The extension crate owns one [`Engine`]
//! per backend, compiles modules with [`compile`], describes them with
//! [`describe`], and calls exports through [`Instance`].

mod engine;
mod error;
mod instance;
mod limits;
mod module;
mod types;

pub use engine::new_engine;
pub use error::{RuntimeError, TrapKind};
pub use instance::Instance;
pub use limits::Limits;
pub use module::{compile, describe, parse_wat, sha256, ExternInfo, ModuleInfo};
pub use types::{FuncSig, WasmType};
pub use wasmtime::{Engine, Module, ValRaw};
