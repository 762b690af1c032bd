//! The host API (SPEC §8): the imports of module `pg` and the trait through
//! which the embedding answers them.
//!
//! The runtime owns the import names, their signatures and the guest-memory
//! side (bounds checks, UTF-8, copying results into the guest); the
//! embedding only sees Rust strings and bytes, so a PostgreSQL error can
//! never unwind through Wasm frames: the embedding catches it, returns
//! [`HostError::Failed`], and raises it again after the call has returned.

use crate::guest_memory;
use crate::instance::StoreState;
use std::fmt;
use wasmtime::{Caller, ExternType, Linker, ValType};

/// What the embedding provides to guests. One value per instance.
pub trait Host: 'static {
    /// `pg.log(level, ptr, len)`: `level` is already checked to be one of
    /// [`LogLevel`]. `call` numbers the SQL call in progress within this
    /// instance (it changes when the next call starts), so the embedding can
    /// bound what one call writes ([`crate::output`]).
    fn log(&mut self, level: LogLevel, message: &str, call: u64) -> Result<(), HostError>;
    /// `pg.query(sql, params)`: runs `sql` with `params` (a JSON array, or
    /// empty) and returns the rows as a JSON array.
    fn query(&mut self, sql: &str, params: &str) -> Result<Vec<u8>, HostError>;
    /// `pg.execute(sql, params)`, the JavaScript engine's only: like
    /// `query`, but a statement that returns no rows (an INSERT without
    /// RETURNING, say) answers the number of rows it processed, as plv8's
    /// `plv8.execute` does; and a SQL error is an answer, not a failure:
    /// `E` and a JSON object with `message`, `sqlstate`, `detail` and
    /// `hint`, which the prelude throws as a catchable exception (the
    /// statement rolled back on its own, as plv8 does).
    fn execute(&mut self, sql: &str, params: &str) -> Result<Vec<u8>, HostError> {
        self.query(sql, params)
    }
    /// `pg.library(name)`, the JavaScript engine's only: the source of the
    /// library `require(name)` asks for, as `b'S'` and the source, `b'N'`
    /// (no such library) or `b'D'` and why the function may not use it.
    fn library(&mut self, _name: &str) -> Result<Vec<u8>, HostError> {
        Ok(b"DThis host provides no libraries".to_vec())
    }
    /// `pg.library_compiled(name, bytecode)`: the engine compiled the
    /// source [`Host::library`] gave it; answering `b'B'` and this bytecode
    /// next time saves later instances the compile.
    fn library_compiled(&mut self, _name: &str, _bytecode: &[u8]) {}
    /// Whose entries `pg.memo_get`/`pg.memo_put` reach ([`crate::memo`]:
    /// what pg_wasm's engines keep between instances, derived from code
    /// only); `None` keeps nothing.
    fn memo_scope(&self) -> Option<u64> {
        Some(0)
    }
    /// `pg.subtransaction(op)`, the JavaScript engine's only
    /// (`plv8.subtransaction`): 0 begins a subtransaction, 1 commits the
    /// innermost one the guest began, 2 rolls it back.
    fn subtransaction(&mut self, _op: i32) -> Result<(), HostError> {
        Err(HostError::Denied(
            "subtransactions need a database: this host has none".into(),
        ))
    }
    /// `pg.cursor_open(sql, params)`, the engines' only (plv8's and
    /// plpy's cursors): opens a cursor on `sql` with `params` as `execute`
    /// takes them and answers `C` and the cursor's number, or a SQL error
    /// as `execute` answers one.
    fn cursor_open(&mut self, _sql: &str, _params: &str) -> Result<Vec<u8>, HostError> {
        Err(HostError::Denied(
            "cursors need a database: this host has none".into(),
        ))
    }
    /// `pg.cursor_fetch(cursor, count)`: up to `count` more rows as a JSON
    /// array (empty at the end), or a SQL error as `execute` answers one.
    fn cursor_fetch(&mut self, _cursor: i32, _count: i32) -> Result<Vec<u8>, HostError> {
        Err(HostError::Denied(
            "cursors need a database: this host has none".into(),
        ))
    }
    /// `pg.cursor_close(cursor)`: closes it (a closed one stays closed).
    fn cursor_close(&mut self, _cursor: i32) -> Result<(), HostError> {
        Ok(())
    }
    /// Polled on every epoch tick while Wasm runs: true stops the call with
    /// [`crate::TrapKind::Cancelled`]. Must be cheap and must not unwind.
    fn cancel_requested(&self) -> bool;
}

/// `pg.log` levels as the guest passes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Log,
    Info,
    Notice,
    Warning,
}

impl LogLevel {
    pub fn from_i32(level: i32) -> Option<Self> {
        Some(match level {
            0 => LogLevel::Debug,
            1 => LogLevel::Log,
            2 => LogLevel::Info,
            3 => LogLevel::Notice,
            4 => LogLevel::Warning,
            _ => return None,
        })
    }
}

/// Why a host call did not complete. Each becomes a trap of its own kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The guest misused the API (bad pointer, bad UTF-8, bad level, …).
    Invalid(String),
    /// The module may not do this (for example `pg.query` without
    /// `allow_spi`).
    Denied(String),
    /// The embedding failed and kept its own error to raise after the call.
    Failed(String),
    /// `pg.error`: the guest asked to raise this message.
    Raised(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Invalid(m)
            | HostError::Denied(m)
            | HostError::Failed(m)
            | HostError::Raised(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HostError {}

/// An import's name and Wasm signature.
pub(crate) type ImportSig = (&'static str, &'static [ValType], &'static [ValType]);

/// The imports pg_wasm provides, with their Wasm signatures.
pub(crate) const IMPORTS: &[ImportSig] = &[
    ("log", &[ValType::I32, ValType::I32, ValType::I32], &[]),
    ("error", &[ValType::I32, ValType::I32], &[]),
    (
        "query",
        &[ValType::I32, ValType::I32, ValType::I32, ValType::I32],
        &[ValType::I64],
    ),
];

/// Refuses a module that imports anything but the host API with its exact
/// signatures, naming the first such import.
pub(crate) fn check_imports(module: &wasmtime::Module) -> Result<(), crate::RuntimeError> {
    for i in module.imports() {
        if let Some(reason) = check_import(i.module(), i.name(), &i.ty()) {
            return Err(crate::RuntimeError::UnsupportedImport {
                module: i.module().to_string(),
                name: i.name().to_string(),
                reason,
            });
        }
    }
    Ok(())
}

/// Why an import is refused, or `None` if the host provides it.
pub(crate) fn check_import(module: &str, name: &str, ty: &ExternType) -> Option<String> {
    check_import_in(IMPORTS, module, name, ty)
}

/// [`check_import`] against `imports` (the JavaScript engine's list has
/// `pg.execute` too).
pub(crate) fn check_import_in(
    imports: &[ImportSig],
    module: &str,
    name: &str,
    ty: &ExternType,
) -> Option<String> {
    let expected = (module == "pg")
        .then(|| imports.iter().find(|(n, _, _)| *n == name))
        .flatten();
    let Some((_, params, results)) = expected else {
        return Some("pg_wasm provides only pg.log, pg.error and pg.query (no WASI)".into());
    };
    let want = match results {
        [] => format!("(func (param {}))", types(params)),
        _ => format!(
            "(func (param {}) (result {}))",
            types(params),
            types(results)
        ),
    };
    match ty {
        ExternType::Func(f)
            if f.params()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(" ")
                == types(params)
                && f.results()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
                    == types(results) =>
        {
            None
        }
        _ => Some(format!("it must be declared as {want}")),
    }
}

fn types(t: &[ValType]) -> String {
    t.iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn trap(e: HostError) -> wasmtime::Error {
    wasmtime::Error::new(e)
}

/// Defines the `pg` imports in `linker`.
pub(crate) fn link<H: Host>(linker: &mut Linker<StoreState<H>>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "pg",
        "log",
        |mut caller: Caller<'_, StoreState<H>>, level: i32, ptr: i32, len: i32| {
            let level = LogLevel::from_i32(level).ok_or_else(|| {
                trap(HostError::Invalid(format!(
                    "pg.log: level {level} is not 0 (debug), 1 (log), 2 (info), 3 (notice) or 4 (warning)"
                )))
            })?;
            let text = guest_memory::read_str(&mut caller, ptr, len, "pg.log message").map_err(trap)?;
            let state = caller.data_mut();
            state.host.log(level, &text, state.calls).map_err(trap)
        },
    )?;
    linker.func_wrap(
        "pg",
        "error",
        |mut caller: Caller<'_, StoreState<H>>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let text =
                guest_memory::read_str(&mut caller, ptr, len, "pg.error message").map_err(trap)?;
            Err(trap(HostError::Raised(text)))
        },
    )?;
    link_query(linker, "query", |h, sql, params| h.query(sql, params))
}

/// `pg.execute`, `pg.library`, `pg.subtransaction`, the memo and the
/// cursors (see [`Host::execute`], [`Host::library`],
/// [`Host::subtransaction`], [`Host::cursor_open`]), for the engines.
pub(crate) fn link_javascript<H: Host>(linker: &mut Linker<StoreState<H>>) -> wasmtime::Result<()> {
    link_query(linker, "execute", |h, sql, params| h.execute(sql, params))?;
    link_query(linker, "cursor_open", |h, sql, params| {
        h.cursor_open(sql, params)
    })?;
    linker.func_wrap(
        "pg",
        "cursor_fetch",
        |mut caller: Caller<'_, StoreState<H>>, cursor: i32, count: i32| -> wasmtime::Result<i64> {
            let rows = caller
                .data_mut()
                .host
                .cursor_fetch(cursor, count)
                .map_err(trap)?;
            guest_memory::write_result(&mut caller, &rows, "pg.cursor_fetch result")
        },
    )?;
    linker.func_wrap(
        "pg",
        "cursor_close",
        |mut caller: Caller<'_, StoreState<H>>, cursor: i32| -> wasmtime::Result<()> {
            caller.data_mut().host.cursor_close(cursor).map_err(trap)
        },
    )?;
    linker.func_wrap(
        "pg",
        "library",
        |mut caller: Caller<'_, StoreState<H>>, ptr: i32, len: i32| -> wasmtime::Result<i64> {
            let name =
                guest_memory::read_str(&mut caller, ptr, len, "pg.library name").map_err(trap)?;
            let answer = caller.data_mut().host.library(&name).map_err(trap)?;
            guest_memory::write_result(&mut caller, &answer, "pg.library result")
        },
    )?;
    linker.func_wrap(
        "pg",
        "subtransaction",
        |mut caller: Caller<'_, StoreState<H>>, op: i32| -> wasmtime::Result<i32> {
            caller.data_mut().host.subtransaction(op).map_err(trap)?;
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "pg",
        "memo_get",
        |mut caller: Caller<'_, StoreState<H>>, ptr: i32, len: i32| -> wasmtime::Result<i64> {
            let Some(scope) = caller.data().host.memo_scope() else {
                return Ok(0);
            };
            if len as u32 as usize > crate::memo::MAX_KEY {
                return Ok(0);
            }
            let key =
                guest_memory::read_bytes(&mut caller, ptr, len, "pg.memo_get key").map_err(trap)?;
            match crate::memo::get(scope, &key) {
                Some(value) => guest_memory::write_result(&mut caller, &value, "pg.memo_get value"),
                None => Ok(0),
            }
        },
    )?;
    linker.func_wrap(
        "pg",
        "memo_put",
        |mut caller: Caller<'_, StoreState<H>>,
         key_ptr: i32,
         key_len: i32,
         ptr: i32,
         len: i32|
         -> wasmtime::Result<()> {
            let Some(scope) = caller.data().host.memo_scope() else {
                return Ok(());
            };
            if key_len as u32 as usize > crate::memo::MAX_KEY
                || len as u32 as usize > crate::memo::MAX_VALUE
            {
                return Ok(());
            }
            let key = guest_memory::read_bytes(&mut caller, key_ptr, key_len, "pg.memo_put key")
                .map_err(trap)?;
            let value = guest_memory::read_bytes(&mut caller, ptr, len, "pg.memo_put value")
                .map_err(trap)?;
            crate::memo::put(scope, &key, &value);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "pg",
        "library_compiled",
        |mut caller: Caller<'_, StoreState<H>>,
         name_ptr: i32,
         name_len: i32,
         ptr: i32,
         len: i32|
         -> wasmtime::Result<()> {
            let name = guest_memory::read_str(&mut caller, name_ptr, name_len, "library name")
                .map_err(trap)?;
            let bytecode = guest_memory::read_bytes(&mut caller, ptr, len, "library bytecode")
                .map_err(trap)?;
            caller.data_mut().host.library_compiled(&name, &bytecode);
            Ok(())
        },
    )?;
    Ok(())
}

type QueryFn<H> = fn(&mut H, &str, &str) -> Result<Vec<u8>, HostError>;

fn link_query<H: Host>(
    linker: &mut Linker<StoreState<H>>,
    name: &'static str,
    run: QueryFn<H>,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        "pg",
        name,
        move |mut caller: Caller<'_, StoreState<H>>,
              sql_ptr: i32,
              sql_len: i32,
              params_ptr: i32,
              params_len: i32|
              -> wasmtime::Result<i64> {
            let sql = guest_memory::read_str(&mut caller, sql_ptr, sql_len, "pg.query SQL")
                .map_err(trap)?;
            let params =
                guest_memory::read_str(&mut caller, params_ptr, params_len, "pg.query parameters")
                    .map_err(trap)?;
            let rows = run(&mut caller.data_mut().host, &sql, &params).map_err(trap)?;
            guest_memory::write_result(&mut caller, &rows, "pg.query result")
        },
    )?;
    Ok(())
}

/// A host that provides nothing: logs are dropped, queries are refused and
/// calls are never cancelled. For tests, benchmarks and tools.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHost;

impl Host for NoHost {
    fn log(&mut self, _level: LogLevel, _message: &str, _call: u64) -> Result<(), HostError> {
        Ok(())
    }
    fn query(&mut self, _sql: &str, _params: &str) -> Result<Vec<u8>, HostError> {
        Err(HostError::Denied("this host runs no SQL".into()))
    }
    fn cancel_requested(&self) -> bool {
        false
    }
}
