//! The pg_wasm sandbox, independent of PostgreSQL.
//!
//! Everything here is plain Rust on top of wasmtime so it can be unit-tested
//! and benchmarked without a server. The extension crate owns one [`Engine`]
//! per backend, compiles modules with [`compile`], describes them with
//! [`describe`], and calls exports through [`Instance`].

pub mod artifacts;
mod compile;
pub mod component;
mod engine;
mod error;
pub mod function_image;
mod guest_memory;
mod host;
mod instance;
pub mod javascript;
pub mod json_cost;
mod limits;
mod memo;
mod module;
pub mod output;
pub mod python;
pub mod reaper;
pub mod recycle;
pub mod table_writes;
mod threads;
mod ticker;
mod types;

pub use compile::{count_functions, CompileLimits, POLL as COMPILE_POLL};
pub use engine::{
    new_engine, new_engine_with, pool_use, prewarm, Allocation, PoolSettings, PoolUse,
    POOL_TABLE_ELEMENTS,
};
pub use error::{RuntimeError, TrapKind};
pub use guest_memory::{ALLOC_EXPORT, FREE_EXPORT, MEMORY_EXPORT};
pub use host::{Host, HostError, LogLevel, NoHost};
pub use instance::{Instance, Prepared, StoreState};
pub use limits::Limits;
pub use module::{
    compile, compile_any, compile_any_with, compile_with, describe, describe_with_section,
    export_info, parse_wat, pg_wasm_section, section_functions, sha256, ExternInfo, ModuleInfo,
    SECTION_NAME,
};
pub use ticker::{start as start_ticker, TICK};
pub use types::{FuncSig, WasmType};
pub use wasmtime::{Engine, Module, ValRaw};
