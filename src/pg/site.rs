//! What a call site is: a core module's export ([`CallSite`]) or a
//! component's ([`ComponentSite`]), decided once when the site is prepared.

use super::call_site::CallSite;
use super::component_site::{self, ComponentSite};
use super::fn_cache::{self, Target};
use super::function::FunctionDef;
use super::js_site::JsSite;
use crate::error::{PgWasmError, Result};
use pgrx::pg_sys;

// The core site stays inline (no pointer to follow on a warm call); the
// component site is boxed.
#[allow(clippy::large_enum_variant)]
pub enum Site {
    Core(CallSite),
    Component(Box<ComponentSite>),
    JavaScript(Box<JsSite>),
}

impl Site {
    /// A call site of `fn_oid` with a fresh instance; the function is
    /// resolved against its module once per backend (`fn_cache`).
    pub fn prepare(fn_oid: pg_sys::Oid) -> Result<Self> {
        let entry = fn_cache::lookup(fn_oid)?;
        match &entry.target {
            Target::Component(bound) => Ok(Site::Component(Box::new(ComponentSite::prepare(
                fn_oid,
                entry.epoch,
                &entry.def,
                bound,
            )?))),
            Target::JavaScript(js) => Ok(Site::JavaScript(Box::new(JsSite::prepare(
                fn_oid,
                entry.epoch,
                &entry.def,
                js,
            )?))),
            Target::Core(resolved) => Ok(Site::Core(CallSite::prepare(
                fn_oid,
                entry.epoch,
                &entry.def,
                resolved,
            )?)),
        }
    }

    #[inline(always)]
    pub fn is_current(&self) -> bool {
        match self {
            Site::Core(s) => s.is_current(),
            Site::Component(s) => s.is_current(),
            Site::JavaScript(s) => s.is_current(),
        }
    }

    /// Calls the site's export: the result, with `isnull` set in `fcinfo`
    /// for SQL NULL; an error is also noted for `wasm.stats`. Out of line, returning two registers (a boxed error):
    /// a larger result would go through memory, and reading it back right
    /// after the callee wrote it stalls store forwarding (measured: ~10 ns
    /// a row, `perf annotate`).
    ///
    /// # Safety
    /// As [`CallSite::call`].
    #[inline(never)]
    pub unsafe fn call(
        &mut self,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> std::result::Result<pg_sys::Datum, Box<PgWasmError>> {
        let out = match self {
            // SAFETY: forwarded.
            Site::Core(s) => unsafe { s.call(fcinfo) },
            // SAFETY: forwarded.
            Site::Component(s) => unsafe { s.call(fcinfo) },
            // SAFETY: forwarded.
            Site::JavaScript(s) => unsafe { s.call(fcinfo) },
        };
        match out {
            Ok(Some(d)) => Ok(d),
            Ok(None) => {
                // SAFETY: fcinfo is the call's.
                unsafe { (*fcinfo).isnull = true };
                Ok(pg_sys::Datum::from(0))
            }
            Err(e) => {
                self.note_error(&e);
                Err(Box::new(e))
            }
        }
    }

    /// Remembers an error for `wasm.stats` (the site's last error).
    #[cold]
    fn note_error(&mut self, err: &PgWasmError) {
        match self {
            Site::Core(s) => s.note_error(err),
            Site::Component(s) => s.note_error(err),
            Site::JavaScript(s) => s.note_error(err),
        }
    }
}

/// The validator's full check of a function bound to a component's
/// export (the call sites' own, `component_site::bind`); `None` when `def`
/// is not bound to a component.
pub fn validate_component(def: &FunctionDef) -> Result<Option<()>> {
    let Some((module, export)) = fn_cache::component_export(def)? else {
        return Ok(None);
    };
    component_site::bind(def, module, export).map(|_| Some(()))
}
