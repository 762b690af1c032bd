//! Compiling off the caller's thread, so a long compile can be abandoned.
//!
//! Cranelift has no interrupt points: a module with 100 000 functions keeps
//! a thread busy for seconds. The compile runs on a thread of its own (with
//! every signal blocked, so the host's signal handlers keep running on the
//! caller's thread) while the caller waits in steps of [`POLL`], calling its
//! `poll` between steps; `poll` returning true abandons the compile (the
//! thread finishes in the background and its result is dropped). The
//! size and function-count limits bound how long such a thread can run.
//! wasmtime compiles the functions in parallel on a pool of threads that
//! belongs to that one compile (`threads::in_compile_pool`).

use crate::error::{RuntimeError, TrapKind};
use crate::threads::{in_compile_pool, spawn_without_signals, COMPILE_STACK};
use std::sync::mpsc;
use std::time::Duration;
use wasmtime::{Engine, Module};

/// How often the caller may stop waiting: the worst-case delay before a
/// cancel is noticed during a compile.
pub const POLL: Duration = Duration::from_millis(10);

/// Bounds on what is compiled.
#[derive(Clone, Copy, Debug)]
pub struct CompileLimits {
    /// Bytes of the binary module.
    pub max_size: usize,
    /// Functions the module defines; 0 = no limit.
    pub max_functions: usize,
}

impl CompileLimits {
    pub fn size(max_size: usize) -> Self {
        CompileLimits {
            max_size,
            max_functions: 0,
        }
    }
}

/// The number of functions `bytes` defines (not imports), read from the
/// function section without validating anything else.
pub fn count_functions(bytes: &[u8]) -> Result<usize, RuntimeError> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| RuntimeError::InvalidModule(e.to_string()))? {
            wasmparser::Payload::FunctionSection(s) => return Ok(s.count() as usize),
            wasmparser::Payload::CodeSectionStart { count, .. } => return Ok(count as usize),
            _ => {}
        }
    }
    Ok(0)
}

/// Checks `limits`, then compiles `bytes` on a new thread, calling `poll`
/// every [`POLL`] until it is done; `poll` returning true abandons it with
/// a [`TrapKind::Cancelled`] error.
pub(crate) fn compile_watched(
    engine: &Engine,
    bytes: &[u8],
    limits: &CompileLimits,
    poll: &mut dyn FnMut() -> bool,
) -> Result<Module, RuntimeError> {
    compile_watched_with(engine, bytes, limits, poll, Module::from_binary)
}

/// [`compile_watched`] with the compiler of a core module or a component.
pub(crate) fn compile_watched_with<T: Send + 'static>(
    engine: &Engine,
    bytes: &[u8],
    limits: &CompileLimits,
    poll: &mut dyn FnMut() -> bool,
    compile: fn(&Engine, &[u8]) -> wasmtime::Result<T>,
) -> Result<T, RuntimeError> {
    if bytes.len() > limits.max_size {
        return Err(RuntimeError::TooLarge {
            size: bytes.len(),
            limit: limits.max_size,
        });
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(RuntimeError::InvalidModule(
            "bytes do not start with the WebAssembly magic number \\0asm".into(),
        ));
    }
    // A component's functions live in its nested core modules; the size
    // limit bounds those.
    if limits.max_functions > 0 && !crate::component::is_component(bytes) {
        let n = count_functions(bytes)?;
        if n > limits.max_functions {
            return Err(RuntimeError::TooManyFunctions {
                count: n,
                limit: limits.max_functions,
            });
        }
    }
    let (tx, rx) = mpsc::channel();
    let engine = engine.clone();
    let owned = bytes.to_vec();
    spawn_without_signals("pg_wasm compile", COMPILE_STACK, move || {
        let compiled = match in_compile_pool(|| compile(&engine, &owned)) {
            Ok(c) => c.map_err(|e| RuntimeError::InvalidModule(format!("{e:#}"))),
            Err(e) => Err(RuntimeError::Engine(format!(
                "cannot start the compiler's threads: {e}"
            ))),
        };
        // The receiver is gone if the caller abandoned the compile.
        let _ = tx.send(compiled);
    })
    .map_err(|e| RuntimeError::Engine(format!("cannot start a compiler thread: {e}")))?;
    loop {
        match rx.recv_timeout(POLL) {
            Ok(compiled) => return compiled,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if poll() {
                    return Err(RuntimeError::Trap {
                        kind: TrapKind::Cancelled,
                        message: "compilation abandoned".into(),
                        backtrace: None,
                    });
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(RuntimeError::Engine(
                    "the compiler thread ended without a result".into(),
                ))
            }
        }
    }
}
