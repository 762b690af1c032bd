//! The sandbox `pg-wasm run` and `pg-wasm inspect` use: pg_wasm's own
//! runtime crate (the engine, limits and errors the server uses), a host
//! whose `pg.log` writes to stderr and which has no database, and the
//! JavaScript engine's image, compiled once and kept in the user's cache.

use crate::error::{failed, Result};

type HostResult<T> = std::result::Result<T, HostError>;
use pg_wasm_runtime::javascript as js;
use pg_wasm_runtime::{new_engine, Engine, Host, HostError, LogLevel, Module};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The process's engine, with its epoch ticker running (timeouts).
pub fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e);
    }
    let e = new_engine().map_err(|e| failed(format!("cannot start the Wasm engine: {e}")))?;
    let e = ENGINE.get_or_init(|| e);
    pg_wasm_runtime::start_ticker(e).map_err(failed)?;
    Ok(e)
}

/// `bytes` compiled as a component (the server's checks, no size limit:
/// the file is the user's own) and described: its WIT exports, records
/// named. `shown` names the file in errors.
pub fn component(
    bytes: &[u8],
    shown: &str,
) -> Result<(
    pg_wasm_runtime::component::Component,
    pg_wasm_runtime::component::ComponentInfo,
)> {
    use pg_wasm_runtime::component as c;
    let engine = engine()?;
    let limits = pg_wasm_runtime::CompileLimits::size(usize::MAX);
    let component = c::compile_component(engine, bytes, &limits, &mut || false)
        .map_err(|e| failed(format!("{shown}: {e}")))?;
    let mut info = c::describe_component(engine, &component);
    c::name_records(&mut info, bytes);
    Ok((component, info))
}

/// `pg.log` to stderr, no `pg.query`; `require(name)` answers the library
/// the command was given.
#[derive(Default)]
pub struct CliHost {
    /// A JavaScript library `require` may load: its name and source.
    pub library: Option<(String, String)>,
}

impl Host for CliHost {
    fn log(&mut self, level: LogLevel, message: &str, _call: u64) -> HostResult<()> {
        eprintln!("{}:  {message}", format!("{level:?}").to_uppercase());
        Ok(())
    }

    fn query(&mut self, _sql: &str, _params: &str) -> HostResult<Vec<u8>> {
        Err(HostError::Denied(
            "pg-wasm run has no database: SQL from a guest runs only on the server".into(),
        ))
    }

    fn library(&mut self, name: &str) -> HostResult<Vec<u8>> {
        Ok(match &self.library {
            Some((n, source)) if n == name => {
                let mut answer = b"S".to_vec();
                answer.extend_from_slice(source.as_bytes());
                answer
            }
            _ => format!("NNo library \"{name}\" here: pg-wasm run loads only the file it runs")
                .into_bytes(),
        })
    }

    fn cancel_requested(&self) -> bool {
        false
    }
}

/// The JavaScript engine's pre-initialized image, compiled: taken from the
/// cache (`$XDG_CACHE_HOME/pg-wasm` or `~/.cache/pg-wasm`) when this build
/// wrote one, else made (1–2 s) and stored there.
pub fn javascript_image() -> Result<Module> {
    let engine = engine()?;
    let key = pg_wasm_runtime::sha256(js::ENGINE_WASM);
    let hex: String = key[..8].iter().map(|b| format!("{b:02x}")).collect();
    let path = cache_dir().map(|d| {
        d.join(format!(
            "javascript-{hex}-{}.cwasm",
            env!("CARGO_PKG_VERSION")
        ))
    });
    if let Some(p) = &path {
        if p.is_file() {
            // SAFETY: the file is one this program serialized from the same
            // engine configuration (its name carries the engine's hash and
            // our version); wasmtime checks its header and configuration
            // and refuses a mismatch, which we answer by compiling again.
            if let Ok(m) = unsafe { Module::deserialize_file(engine, p) } {
                return Ok(m);
            }
        }
    }
    let bytes = js::image(engine)
        .map_err(|e| failed(format!("cannot make the JavaScript engine's image: {e}")))?;
    let module = Module::new(engine, bytes)
        .map_err(|e| failed(format!("cannot compile the JavaScript engine: {e}")))?;
    if let (Some(p), Ok(ser)) = (&path, module.serialize()) {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // Written aside and renamed: a concurrent run never maps half a file.
        let tmp = p.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, ser).is_ok() {
            let _ = std::fs::rename(&tmp, p);
        }
    }
    Ok(module)
}

fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    env("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("pg-wasm"))
}
