//! The extension's one error type and its mapping to SQLSTATEs.
//!
//! Every fallible function below the SQL entry points returns
//! `Result<_, PgWasmError>`; only the entry points call [`PgWasmError::raise`],
//! after any Wasm frames are gone, so a PostgreSQL ERROR never unwinds
//! through guest code.

use pg_wasm_runtime::{RuntimeError, TrapKind};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};
use std::fmt;

pub type Result<T, E = PgWasmError> = std::result::Result<T, E>;

/// How messages name a function from its call site's target:
/// `wasm function "module.export"`, or `javascript function "name"` for a
/// target the JavaScript language made (`"name (javascript)"`).
pub struct Label<'a>(pub &'a str);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.0.strip_suffix(" (javascript)") {
            return write!(f, "javascript function \"{name}\"");
        }
        if let Some(name) = self.0.strip_suffix(" (python)") {
            return write!(f, "python function \"{name}\"");
        }
        write!(f, "wasm function \"{}\"", self.0)
    }
}

#[derive(Debug)]
pub enum PgWasmError {
    /// A module failed validation, compilation, instantiation or a call.
    /// `target` is "module" or "module.export".
    Runtime { target: String, err: RuntimeError },
    /// Bad user input: names, options, values (22023).
    InvalidParameter(String),
    /// A module name already in use (42710).
    DuplicateModule(String),
    /// No module with that name (42704).
    UnknownModule(String),
    /// A function definition that does not fit its module (42P13).
    InvalidFunction {
        message: String,
        detail: Option<String>,
    },
    /// A module still used by functions (2BP01).
    InUse {
        module: String,
        functions: Vec<String>,
    },
    /// The caller does not own the module (42501).
    NotOwner { module: String },
    /// A function whose owner may not use the module it names (42501).
    ForeignModule { module: String, function: String },
    /// Something else the caller's role may not do, said in full (42501).
    InsufficientPrivilege(String),
    /// A result whose conversion would take more host memory than
    /// `pg_wasm.max_result_mb` (54000), refused before converting.
    ResultTooLarge(String),
    /// Something pg_wasm does not do (yet) (0A000).
    Unsupported(String),
    /// A result that does not fit the declared SQL type (22003).
    OutOfRange(String),
    /// An error a guest raised on purpose (a trigger's {"error": ...}), P0001;
    /// a hint if the guest gave one (`plpy.error(hint=...)`).
    Raised {
        message: String,
        detail: String,
        hint: Option<String>,
    },
    /// A SQL error a JavaScript or Python function let through uncaught
    /// (from plv8.execute, plpy.execute): the statement's own SQLSTATE,
    /// message and hint.
    SqlError {
        sqlstate: PgSqlErrorCode,
        message: String,
        detail: String,
        hint: Option<String>,
    },
    /// A byte result that does not parse as its SQL type, with the input
    /// function's own SQLSTATE.
    InvalidResult {
        sqlstate: PgSqlErrorCode,
        message: String,
    },
    /// A change to the modules in a read-only transaction, as on a hot
    /// standby (25006); names the call, e.g. "wasm.load()".
    ReadOnly(&'static str),
    /// A failed catalog query; a bug or a damaged installation (XX000).
    Internal(String),
}

impl PgWasmError {
    pub fn invalid_function(message: impl Into<String>, detail: Option<String>) -> Self {
        PgWasmError::InvalidFunction {
            message: message.into(),
            detail,
        }
    }

    pub fn sqlstate(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            PgWasmError::Runtime { err, .. } => match err {
                RuntimeError::Trap { kind, .. } => match kind {
                    TrapKind::OutOfFuel => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                    TrapKind::MemoryLimit => ERRCODE_OUT_OF_MEMORY,
                    TrapKind::Timeout | TrapKind::Cancelled => ERRCODE_QUERY_CANCELED,
                    TrapKind::StackOverflow | TrapKind::Trap | TrapKind::HostFailed => {
                        ERRCODE_EXTERNAL_ROUTINE_EXCEPTION
                    }
                    TrapKind::Raised => ERRCODE_RAISE_EXCEPTION,
                    TrapKind::Denied => ERRCODE_INSUFFICIENT_PRIVILEGE,
                    TrapKind::PoolFull => ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
                    TrapKind::ResultTooLarge => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                },
                RuntimeError::TooLarge { .. } | RuntimeError::TooManyFunctions { .. } => {
                    ERRCODE_PROGRAM_LIMIT_EXCEEDED
                }
                RuntimeError::Engine(_) => ERRCODE_INTERNAL_ERROR,
                RuntimeError::MissingExport(_) => ERRCODE_INVALID_FUNCTION_DEFINITION,
                RuntimeError::InvalidWat(_)
                | RuntimeError::InvalidModule(_)
                | RuntimeError::UnsupportedImport { .. }
                | RuntimeError::UnsupportedComponentImports(_) => ERRCODE_INVALID_PARAMETER_VALUE,
            },
            PgWasmError::InvalidParameter(_) => ERRCODE_INVALID_PARAMETER_VALUE,
            PgWasmError::DuplicateModule(_) => ERRCODE_DUPLICATE_OBJECT,
            PgWasmError::UnknownModule(_) => ERRCODE_UNDEFINED_OBJECT,
            PgWasmError::InvalidFunction { .. } => ERRCODE_INVALID_FUNCTION_DEFINITION,
            PgWasmError::InUse { .. } => ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            PgWasmError::NotOwner { .. }
            | PgWasmError::ForeignModule { .. }
            | PgWasmError::InsufficientPrivilege(_) => ERRCODE_INSUFFICIENT_PRIVILEGE,
            PgWasmError::Unsupported(_) => ERRCODE_FEATURE_NOT_SUPPORTED,
            PgWasmError::ResultTooLarge(_) => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            PgWasmError::OutOfRange(_) => ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            PgWasmError::InvalidResult { sqlstate, .. } => *sqlstate,
            PgWasmError::Raised { .. } => ERRCODE_RAISE_EXCEPTION,
            PgWasmError::SqlError { sqlstate, .. } => *sqlstate,
            PgWasmError::ReadOnly(_) => ERRCODE_READ_ONLY_SQL_TRANSACTION,
            PgWasmError::Internal(_) => ERRCODE_INTERNAL_ERROR,
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            PgWasmError::Runtime {
                target,
                err:
                    RuntimeError::Trap {
                        kind: TrapKind::Raised,
                        backtrace,
                        ..
                    },
            } => Some(match backtrace {
                Some(bt) => format!("raised by {}\n{bt}", Label(target)),
                None => format!("raised by {}", Label(target)),
            }),
            PgWasmError::Runtime {
                err: RuntimeError::Trap { backtrace, .. },
                ..
            } => backtrace.clone(),
            PgWasmError::InvalidFunction { detail, .. } => detail.clone(),
            PgWasmError::Raised { detail, .. } | PgWasmError::SqlError { detail, .. } => {
                Some(detail.clone())
            }
            PgWasmError::InUse { functions, .. } => {
                Some(format!("used by: {}", functions.join(", ")))
            }
            _ => None,
        }
    }

    fn hint(&self) -> Option<&str> {
        match self {
            PgWasmError::Raised { hint, .. } | PgWasmError::SqlError { hint, .. } => {
                hint.as_deref()
            }
            PgWasmError::InUse { .. } => {
                Some("Drop the functions first, or call wasm.unload(name, cascade => true).")
            }
            PgWasmError::ResultTooLarge(_)
            | PgWasmError::Runtime {
                err:
                    RuntimeError::Trap {
                        kind: TrapKind::ResultTooLarge,
                        ..
                    },
                ..
            } => Some(
                "Return less per call (a set-returning function converts one row at a time), or ask a superuser to raise pg_wasm.max_result_mb.",
            ),
            PgWasmError::ForeignModule { .. } => Some(
                "A wasm function's owner must own the module it calls or be a member of the module owner's role; being a superuser is not enough. To bind on purpose, create the function as the module's owner or ALTER FUNCTION ... OWNER TO that role.",
            ),
            PgWasmError::Runtime {
                err:
                    RuntimeError::Trap {
                        kind: TrapKind::OutOfFuel,
                        ..
                    },
                ..
            } => Some("Raise pg_wasm.fuel_limit or the module's \"fuel\" setting (0 = unlimited)."),
            PgWasmError::Runtime {
                err:
                    RuntimeError::Trap {
                        kind: TrapKind::PoolFull,
                        ..
                    },
                ..
            } => Some("Each wasm function in use by a statement holds an instance until the statement ends. Use fewer at once, or ask a superuser to raise pg_wasm.instance_slots (new backends)."),
            PgWasmError::Runtime {
                err:
                    RuntimeError::Trap {
                        kind: TrapKind::MemoryLimit,
                        ..
                    },
                ..
            } => Some("Raise pg_wasm.memory_limit_mb or the module's \"memory_mb\" setting."),
            PgWasmError::Runtime {
                err:
                    RuntimeError::Trap {
                        kind: TrapKind::Timeout,
                        ..
                    },
                ..
            } => Some("Raise pg_wasm.timeout_ms or the module's \"timeout_ms\" setting (0 = none)."),
            PgWasmError::Runtime {
                target,
                err:
                    RuntimeError::Trap {
                        kind: TrapKind::Denied,
                        ..
                    },
            } if target.ends_with(" (javascript)") => Some("A superuser can allow it: SET pg_wasm.javascript_sql = on."),
            PgWasmError::Runtime {
                target,
                err:
                    RuntimeError::Trap {
                        kind: TrapKind::Denied,
                        ..
                    },
            } if target.ends_with(" (python)") => Some("A superuser can allow it: SET pg_wasm.python_sql = on."),
            PgWasmError::Runtime {
                err:
                    RuntimeError::Trap {
                        kind: TrapKind::Denied,
                        ..
                    },
                ..
            } => Some("The module's owner can allow it: SELECT wasm.configure(module, '{\"allow_spi\": true}')."),
            _ => None,
        }
    }

    /// Raises this error as a PostgreSQL ERROR. Call only where no Wasm
    /// frames are on the stack.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.sqlstate(), self.to_string(), "pg_wasm");
        if let Some(d) = self.detail() {
            report = report.set_detail(d);
        }
        if let Some(h) = self.hint() {
            report = report.set_hint(h);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR returned")
    }
}

impl fmt::Display for PgWasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgWasmError::Runtime { target, err } => match err {
                RuntimeError::Trap { kind, message, .. } => {
                    let what = match kind {
                        TrapKind::OutOfFuel => "ran out of fuel",
                        TrapKind::MemoryLimit => "exceeded its memory limit",
                        TrapKind::Timeout => "timed out",
                        TrapKind::Cancelled => "was cancelled",
                        TrapKind::StackOverflow | TrapKind::Trap | TrapKind::HostFailed => {
                            "trapped"
                        }
                        TrapKind::Denied => "was denied",
                        TrapKind::PoolFull => "could not be instantiated",
                        TrapKind::ResultTooLarge => "returned too much",
                        // The guest's own message, as RAISE EXCEPTION gives it;
                        // the module and export go into DETAIL.
                        TrapKind::Raised => return f.write_str(message),
                    };
                    write!(f, "{} {what}: {message}", Label(target))
                }
                other if target.is_empty() => write!(f, "{other}"),
                other => write!(f, "wasm module \"{target}\": {other}"),
            },
            PgWasmError::InvalidParameter(m)
            | PgWasmError::Unsupported(m)
            | PgWasmError::OutOfRange(m)
            | PgWasmError::InvalidResult { message: m, .. }
            | PgWasmError::Raised { message: m, .. }
            | PgWasmError::SqlError { message: m, .. }
            | PgWasmError::InvalidFunction { message: m, .. } => f.write_str(m),
            PgWasmError::DuplicateModule(n) => write!(f, "wasm module \"{n}\" already exists"),
            PgWasmError::UnknownModule(n) => write!(f, "wasm module \"{n}\" does not exist"),
            PgWasmError::InUse { module, .. } => write!(
                f,
                "cannot unload wasm module \"{module}\" because functions use it"
            ),
            PgWasmError::NotOwner { module } => {
                write!(f, "must be owner of wasm module \"{module}\"")
            }
            PgWasmError::ForeignModule { module, function } => write!(
                f,
                "function {function} may not call wasm module \"{module}\": the function's owner does not own the module"
            ),
            // PostgreSQL's own wording (PreventCommandIfReadOnly).
            PgWasmError::ReadOnly(what) => {
                write!(f, "cannot execute {what} in a read-only transaction")
            }
            PgWasmError::InsufficientPrivilege(m) | PgWasmError::ResultTooLarge(m) => {
                f.write_str(m)
            }
            PgWasmError::Internal(m) => write!(f, "pg_wasm internal error: {m}"),
        }
    }
}

/// A SQLSTATE's five characters (PostgreSQL packs them six bits each).
pub fn sqlstate_text(code: PgSqlErrorCode) -> String {
    let n = code as isize as u32;
    (0..5)
        .map(|i| (((n >> (6 * i)) & 0x3f) as u8 + b'0') as char)
        .collect()
}

/// "23505" as PostgreSQL's packed SQLSTATE, for an error a guest names by
/// its code. Classes 00-02 (success, warning, no data) are not errors:
/// `None`, and the caller raises its own.
pub fn sqlstate_code(s: &str) -> Option<PgSqlErrorCode> {
    let valid = s.len() == 5
        && s.bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    if !valid || ["00", "01", "02"].contains(&&s[..2]) {
        return None;
    }
    let n = s.bytes().enumerate().fold(0i32, |n, (i, c)| {
        n | ((((c - b'0') & 0x3f) as i32) << (6 * i))
    });
    Some(PgSqlErrorCode::from(n))
}

impl From<pgrx::spi::Error> for PgWasmError {
    fn from(e: pgrx::spi::Error) -> Self {
        PgWasmError::Internal(format!("catalog query failed: {e}"))
    }
}

/// Attaches the module (or module.export) a runtime error is about.
pub trait RuntimeContext<T> {
    fn in_module(self, target: &str) -> Result<T>;
}

impl<T> RuntimeContext<T> for std::result::Result<T, RuntimeError> {
    fn in_module(self, target: &str) -> Result<T> {
        self.map_err(|err| PgWasmError::Runtime {
            target: target.to_string(),
            err,
        })
    }
}
