//! `LANGUAGE wasm`: the call handler and the validator.

use super::function::FunctionDef;
use super::site::{self, Site};
use crate::error::{PgWasmError, Result};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::cell::{Cell, UnsafeCell};

/// Tells fmgr that the C symbols below use the version-1 calling convention.
macro_rules! finfo_v1 {
    ($name:ident) => {
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn $name() -> &'static pg_sys::Pg_finfo_record {
            const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }
    };
}

finfo_v1!(pg_finfo_wasm_call_handler);
finfo_v1!(pg_finfo_wasm_validator);
finfo_v1!(pg_finfo_javascript_validator);
finfo_v1!(pg_finfo_javascript_inline_handler);
finfo_v1!(pg_finfo_python_validator);
finfo_v1!(pg_finfo_python_inline_handler);

/// Entry point for every call of a wasm function. `#[pg_guard]` turns a
/// Rust panic into a PostgreSQL ERROR; errors are raised only after the
/// Wasm call has returned.
///
/// # Safety
/// Called by fmgr with a valid `fcinfo`.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn wasm_call_handler(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: fmgr passes a valid fcinfo for the whole call.
    match unsafe { call(fcinfo) } {
        Ok(d) => d,
        Err(e) => e.raise(),
    }
}

/// What `fn_extra` holds: the call site and whether its guest is running.
/// PostgreSQL can call a function again through an FmgrInfo it keeps (the
/// typcache's `subtype_diff` of a range type, say) while that very call
/// site's guest is inside `pg.query`; the nested call must neither use the
/// busy instance nor re-prepare (and so free) it.
struct Slot {
    busy: Cell<bool>,
    site: UnsafeCell<Site>,
}

/// Clears `busy` on return and on unwinding.
struct Busy<'a>(&'a Cell<bool>);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// The call's result (`isnull` set for NULL), or the error to raise.
type Outcome = std::result::Result<pg_sys::Datum, Box<PgWasmError>>;

unsafe fn call(fcinfo: pg_sys::FunctionCallInfo) -> Outcome {
    // SAFETY: fcinfo and its flinfo are valid for the call (fmgr contract).
    let flinfo = unsafe { (*fcinfo).flinfo };
    // SAFETY: fn_extra is either null or the Slot we stored in `first_call`,
    // which lives in fn_mcxt exactly as long as the FmgrInfo.
    let mut slot = unsafe { (*flinfo).fn_extra } as *const Slot;
    if slot.is_null() {
        // SAFETY: as above.
        slot = unsafe { first_call(fcinfo, flinfo) }.map_err(Box::new)?;
    }
    // SAFETY: non-null fn_extra is our Slot (see above); only `busy` is read
    // through this shared reference while a call may be running.
    let slot = unsafe { &*slot };
    if slot.busy.get() {
        // SAFETY: forwarded fmgr contract.
        return unsafe { nested_call(fcinfo, flinfo) };
    }
    slot.busy.set(true);
    let _busy = Busy(&slot.busy);
    // SAFETY: `busy` was false, so no other reference to the site exists;
    // nested calls through this FmgrInfo take the branch above until
    // `_busy` is dropped.
    let site = unsafe { &mut *slot.site.get() };
    if !site.is_current() {
        // SAFETY: as above.
        unsafe { prepare_again(site, flinfo) }.map_err(Box::new)?;
    }
    // SAFETY: the site was prepared for this function's signature.
    unsafe { site.call(fcinfo) }
}

// The paths below run once per FmgrInfo, statement or transaction: kept
// out of line so that the per-row path above stays small (no frame for a
// Site on its stack).

/// Prepares the site of an FmgrInfo's first call and stores it in
/// `fn_extra`.
///
/// # Safety
/// `fcinfo` must be the call's, `flinfo` its FmgrInfo.
#[cold]
#[inline(never)]
unsafe fn first_call(
    fcinfo: pg_sys::FunctionCallInfo,
    flinfo: *mut pg_sys::FmgrInfo,
) -> Result<*const Slot> {
    // SAFETY: per the contract.
    if unsafe { is_event_trigger_call(fcinfo) } {
        return Err(PgWasmError::Unsupported(
            "wasm event trigger functions are not supported".into(),
        ));
    }
    // SAFETY: flinfo is valid; fn_mcxt outlives every use of fn_extra and
    // drops the Slot when it is reset or deleted.
    unsafe {
        let fresh = Slot {
            busy: Cell::new(false),
            site: UnsafeCell::new(Site::prepare((*flinfo).fn_oid)?),
        };
        let p = PgMemoryContexts::For((*flinfo).fn_mcxt).leak_and_drop_on_delete(fresh);
        (*flinfo).fn_extra = p.cast();
        Ok(p)
    }
}

/// A call that re-entered a busy site: a site of its own for this one
/// call, dropped when it returns.
///
/// # Safety
/// `fcinfo` must be the call's, `flinfo` its FmgrInfo.
#[cold]
#[inline(never)]
unsafe fn nested_call(fcinfo: pg_sys::FunctionCallInfo, flinfo: *mut pg_sys::FmgrInfo) -> Outcome {
    // SAFETY: flinfo is valid; the new site is prepared for this function.
    let mut nested = Site::prepare(unsafe { (*flinfo).fn_oid }).map_err(Box::new)?;
    // SAFETY: forwarded fmgr contract.
    unsafe { nested.call(fcinfo) }
}

/// Replaces a site that is no longer current (another statement,
/// transaction or role, or a changed module).
///
/// # Safety
/// `flinfo` must be the FmgrInfo whose fn_extra holds `site`.
#[cold]
#[inline(never)]
unsafe fn prepare_again(site: &mut Site, flinfo: *mut pg_sys::FmgrInfo) -> Result<()> {
    // SAFETY: per the contract.
    *site = Site::prepare(unsafe { (*flinfo).fn_oid })?;
    Ok(())
}

unsafe fn is_event_trigger_call(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: context is null or points to a Node.
    unsafe {
        let ctx = (*fcinfo).context;
        !ctx.is_null() && (*ctx).type_ == pg_sys::NodeTag::T_EventTriggerData
    }
}

/// Runs at CREATE FUNCTION (and CREATE OR REPLACE): the module must exist,
/// the creator must own it, the export must exist and fit the SQL signature.
/// When `check_function_bodies` is off, as during a pg_dump restore
/// (functions are restored before the module table's rows), only the body's
/// syntax and, if the module exists, its ownership are checked.
///
/// # Safety
/// Called by fmgr with a valid `fcinfo` holding one oid argument.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn wasm_validator(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: the validator is declared (oid) STRICT, so args[0] is set.
    let fn_oid = unsafe { pg_sys::Oid::from((*fcinfo).args.as_slice(1)[0].value.value() as u32) };
    // SAFETY: plain checks with valid OIDs; the first raises if the caller
    // may not use the language or function.
    let (access, bodies) = unsafe {
        (
            pg_sys::CheckFunctionValidatorAccess((*(*fcinfo).flinfo).fn_oid, fn_oid),
            pg_sys::check_function_bodies,
        )
    };
    if access {
        // With the body checks off (a restore), what protects other roles
        // still holds: the body parses and, if the module is there, the
        // function's owner owns it. The call handler checks again anyway.
        let checked = FunctionDef::load(fn_oid).and_then(|def| {
            if bodies {
                match site::validate_component(&def)? {
                    Some(()) => Ok(()),
                    None => def.resolve(true).map(|_| ()),
                }
            } else {
                def.check_without_body()
            }
        });
        if let Err(e) = checked {
            e.raise();
        }
    }
    pg_sys::Datum::from(0)
}

/// A language validator's work: the function's body checked by `check`
/// (with `check_function_bodies`) when the caller may validate it.
///
/// # Safety
/// `fcinfo` is a validator's, holding one oid argument.
unsafe fn validate_with(
    fcinfo: pg_sys::FunctionCallInfo,
    check: fn(pg_sys::Oid, bool) -> crate::error::Result<()>,
) -> pg_sys::Datum {
    // SAFETY: as in `wasm_validator`.
    let fn_oid = unsafe { pg_sys::Oid::from((*fcinfo).args.as_slice(1)[0].value.value() as u32) };
    // SAFETY: as in `wasm_validator`.
    let (access, bodies) = unsafe {
        (
            pg_sys::CheckFunctionValidatorAccess((*(*fcinfo).flinfo).fn_oid, fn_oid),
            pg_sys::check_function_bodies,
        )
    };
    if access {
        if let Err(e) = check(fn_oid, bodies) {
            e.raise();
        }
    }
    pg_sys::Datum::from(0)
}

/// An inline handler's work: the DO block's source run by `run`.
///
/// # Safety
/// `fcinfo` is an inline handler's, whose argument is an `InlineCodeBlock`.
unsafe fn inline_with(
    fcinfo: pg_sys::FunctionCallInfo,
    run: fn(&str) -> crate::error::Result<()>,
) -> pg_sys::Datum {
    // SAFETY: the inline handler's one argument is an InlineCodeBlock
    // pointer (fmgr contract for inline handlers).
    let source = unsafe {
        let block = (*fcinfo).args.as_slice(1)[0]
            .value
            .cast_mut_ptr::<pg_sys::InlineCodeBlock>();
        std::ffi::CStr::from_ptr((*block).source_text)
            .to_string_lossy()
            .into_owned()
    };
    if let Err(e) = run(&source) {
        e.raise();
    }
    pg_sys::Datum::from(0)
}

/// `LANGUAGE javascript`'s validator: the argument and result types can
/// cross, and the body compiles (a SyntaxError with its line is 42P13).
/// Calls go through [`wasm_call_handler`], like every wasm function.
///
/// # Safety
/// Called by fmgr with a valid `fcinfo` holding one oid argument.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn javascript_validator(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: forwarded contract.
    unsafe { validate_with(fcinfo, super::javascript::validate) }
}

/// `DO ... LANGUAGE javascript`.
///
/// # Safety
/// Called by fmgr with a valid `fcinfo` whose argument is an
/// `InlineCodeBlock`.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn javascript_inline_handler(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: forwarded contract.
    unsafe { inline_with(fcinfo, super::javascript::run_inline) }
}

/// The validator of `LANGUAGE python`: as [`javascript_validator`] (the
/// types can cross, the body compiles; a SyntaxError is 42P13 with its
/// line).
///
/// # Safety
/// Called by fmgr with a valid `fcinfo` holding one oid argument.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn python_validator(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: forwarded contract.
    unsafe { validate_with(fcinfo, super::python::validate) }
}

/// `DO ... LANGUAGE python`.
///
/// # Safety
/// Called by fmgr with a valid `fcinfo` whose argument is an
/// `InlineCodeBlock`.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn python_inline_handler(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: forwarded contract.
    unsafe { inline_with(fcinfo, super::python::run_inline) }
}
