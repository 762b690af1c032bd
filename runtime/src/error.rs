use crate::host::HostError;
use std::fmt;
use wasmtime::{Trap, WasmBacktrace};

/// Why a module could not be used or a call did not finish.
///
/// The extension maps each variant to a SQLSTATE in one place; this crate
/// only says what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeError {
    /// The engine itself could not be created (configuration bug).
    Engine(String),
    /// WebAssembly text that does not parse.
    InvalidWat(String),
    /// Bytes that are not a valid WebAssembly module.
    InvalidModule(String),
    /// A module larger than the configured maximum.
    TooLarge { size: usize, limit: usize },
    /// A module defining more functions than the configured maximum.
    TooManyFunctions { count: usize, limit: usize },
    /// An import the host does not provide.
    UnsupportedImport {
        module: String,
        name: String,
        reason: String,
    },
    /// Component imports the host does not provide (by WIT name).
    UnsupportedComponentImports(Vec<String>),
    /// An export that is missing or is not a callable function.
    MissingExport(String),
    /// Execution stopped: a trap, a limit, or an interruption.
    Trap {
        kind: TrapKind,
        message: String,
        backtrace: Option<String>,
    },
}

/// The class of an execution failure; each class has its own SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    OutOfFuel,
    MemoryLimit,
    /// The call's own wall-clock limit (`timeout_ms`) passed.
    Timeout,
    /// The embedding asked to stop (query cancel, statement_timeout, …).
    Cancelled,
    StackOverflow,
    /// unreachable, division by zero, out-of-bounds access, bad conversion,
    /// misuse of the host API, …
    Trap,
    /// The guest raised an error on purpose (`pg.error`).
    Raised,
    /// The guest called a host function it is not allowed to use.
    Denied,
    /// A host function failed; the embedding kept its own error.
    HostFailed,
    /// Instantiation found every slot of the backend's instance pool in
    /// use (too many instances alive at once).
    PoolFull,
    /// A component handed the host more data (its result, or a host
    /// call's arguments) than the store's budget of host memory for it
    /// allows: wasmtime's lift stopped before building it all.
    ResultTooLarge,
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::Engine(m) => write!(f, "cannot create the WebAssembly engine: {m}"),
            RuntimeError::InvalidWat(m) => write!(f, "invalid WebAssembly text: {m}"),
            RuntimeError::InvalidModule(m) => write!(f, "invalid WebAssembly module: {m}"),
            RuntimeError::TooLarge { size, limit } => write!(
                f,
                "module is {size} bytes, larger than pg_wasm.max_module_size_mb allows ({limit} bytes)"
            ),
            RuntimeError::TooManyFunctions { count, limit } => write!(
                f,
                "module defines {count} functions, more than pg_wasm.max_module_functions allows ({limit})"
            ),
            RuntimeError::UnsupportedImport {
                module,
                name,
                reason,
            } => write!(
                f,
                "module imports \"{module}.{name}\", which pg_wasm does not provide: {reason}"
            ),
            RuntimeError::UnsupportedComponentImports(names) => write!(
                f,
                "component imports {}, which pg_wasm does not provide (only WASI 0.2 and pg:wasm/host, sdk/wit/host.wit)",
                names
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            RuntimeError::MissingExport(name) => {
                write!(f, "module has no exported function \"{name}\"")
            }
            RuntimeError::Trap { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for RuntimeError {}

/// Raised by the store limiter; recognised again when classifying a trap.
#[derive(Debug)]
pub(crate) struct MemoryLimitExceeded {
    pub(crate) desired: usize,
    pub(crate) limit: usize,
}

impl fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "linear memory of {} bytes exceeds the limit of {} bytes",
            self.desired, self.limit
        )
    }
}

impl std::error::Error for MemoryLimitExceeded {}

/// Raised by the epoch callback when the embedding asks to stop.
#[derive(Debug)]
pub(crate) struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("call cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Raised by the epoch callback when the call's deadline passed.
#[derive(Debug)]
pub(crate) struct TimedOut {
    pub(crate) ms: u64,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call exceeded its time limit of {} ms", self.ms)
    }
}

impl std::error::Error for TimedOut {}

/// wasmtime's "hostcall fuel" (the bytes of `Val`s, strings and lists a
/// lift may build, [`wasmtime::Store::set_hostcall_fuel`]) ran out. Its
/// error type is private, so it is known by its text.
fn is_lift_budget_exhausted(err: &wasmtime::Error) -> bool {
    err.chain().any(|e| {
        e.to_string()
            .contains("fuel allocated for hostcalls has been exhausted")
    })
}

/// Turns whatever wasmtime returned from instantiation or a call into a
/// [`RuntimeError::Trap`] with its class, message and Wasm backtrace.
pub(crate) fn classify(err: wasmtime::Error) -> RuntimeError {
    let backtrace = err
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| bt.to_string())
        .filter(|s| !s.trim().is_empty());
    let (kind, message) = if let Some(m) = err.downcast_ref::<MemoryLimitExceeded>() {
        (TrapKind::MemoryLimit, m.to_string())
    } else if let Some(t) = err.downcast_ref::<TimedOut>() {
        (TrapKind::Timeout, t.to_string())
    } else if let Some(c) = err.downcast_ref::<Cancelled>() {
        (TrapKind::Cancelled, c.to_string())
    } else if let Some(h) = err.downcast_ref::<HostError>() {
        let kind = match h {
            HostError::Invalid(_) => TrapKind::Trap,
            HostError::Denied(_) => TrapKind::Denied,
            HostError::Failed(_) => TrapKind::HostFailed,
            HostError::Raised(_) => TrapKind::Raised,
        };
        (kind, h.to_string())
    } else if let Some(full) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        (
            TrapKind::PoolFull,
            format!("no free instance slot in this backend ({full})"),
        )
    } else if let Some(trap) = err.downcast_ref::<Trap>() {
        let kind = match trap {
            Trap::OutOfFuel => TrapKind::OutOfFuel,
            Trap::Interrupt => TrapKind::Cancelled,
            Trap::StackOverflow => TrapKind::StackOverflow,
            _ => TrapKind::Trap,
        };
        (
            kind,
            trap.to_string()
                .trim_start_matches("wasm trap: ")
                .to_string(),
        )
    } else if is_lift_budget_exhausted(&err) {
        (
            TrapKind::ResultTooLarge,
            "the data it handed to the host (its result, or a host call's arguments) needs more host memory than the call's budget".to_string(),
        )
    } else {
        (TrapKind::Trap, err.root_cause().to_string())
    };
    RuntimeError::Trap {
        kind,
        message,
        backtrace,
    }
}
