//! `LANGUAGE wasm`: the call handler and the validator.

use super::call_site::CallSite;
use super::function::FunctionDef;
use crate::error::{PgWasmError, Result};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

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
        Ok(Some(d)) => d,
        Ok(None) => {
            // SAFETY: as above.
            unsafe { (*fcinfo).isnull = true };
            pg_sys::Datum::from(0)
        }
        Err(e) => e.raise(),
    }
}

unsafe fn call(fcinfo: pg_sys::FunctionCallInfo) -> Result<Option<pg_sys::Datum>> {
    // SAFETY: fcinfo and its flinfo are valid for the call (fmgr contract).
    let flinfo = unsafe { (*fcinfo).flinfo };
    // SAFETY: fn_extra is either null or the CallSite we stored below, which
    // lives in fn_mcxt exactly as long as the FmgrInfo.
    let site = unsafe { (*flinfo).fn_extra } as *mut CallSite;
    let site = if site.is_null() {
        // Checked only here, off the warm path.
        // SAFETY: as above.
        if unsafe { is_event_trigger_call(fcinfo) } {
            return Err(PgWasmError::Unsupported(
                "wasm event trigger functions are not supported".into(),
            ));
        }
        // SAFETY: flinfo is valid; fn_mcxt outlives every use of fn_extra and
        // drops the CallSite when it is reset or deleted.
        unsafe {
            let fresh = CallSite::prepare((*flinfo).fn_oid)?;
            let p = PgMemoryContexts::For((*flinfo).fn_mcxt).leak_and_drop_on_delete(fresh);
            (*flinfo).fn_extra = p.cast();
            &mut *p
        }
    } else {
        // SAFETY: non-null fn_extra is our CallSite (see above).
        let site = unsafe { &mut *site };
        if !site.is_current() {
            // SAFETY: as above.
            *site = CallSite::prepare(unsafe { (*flinfo).fn_oid })?;
        }
        site
    };
    // SAFETY: the site was prepared for this function's signature.
    unsafe { site.call(fcinfo) }
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
/// Skipped when `check_function_bodies` is off, as during a pg_dump restore
/// (functions are restored before the module table's rows).
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
    let check = unsafe {
        pg_sys::CheckFunctionValidatorAccess((*(*fcinfo).flinfo).fn_oid, fn_oid)
            && pg_sys::check_function_bodies
    };
    if check {
        if let Err(e) = FunctionDef::load(fn_oid).and_then(|def| def.resolve(true)) {
            e.raise();
        }
    }
    pg_sys::Datum::from(0)
}
