//! Type input functions, looked up once per call site instead of once per
//! value: a trigger replacing two columns of 100 000 rows would otherwise do
//! 200 000 catalog lookups and fmgr_info calls.
//!
//! Nothing here is shared between call sites or between nesting levels.
//! Input functions keep state in `fn_extra` and are not re-entrant
//! (`domain_in` keeps its CHECK state there, and a CHECK may call another
//! wasm function returning the same domain): each call site owns its
//! [`Inputs`] and makes it current for the length of its call with
//! [`Inputs::scope`]; a nested call (another site, or the same function
//! re-entered) brings its own. Outside any scope every lookup makes a fresh
//! FmgrInfo. A call site lives at most one transaction, so a type dropped
//! and re-created later is never called through a stale entry.

use pgrx::pg_sys;
use std::cell::Cell;
use std::collections::HashMap;

/// One call site's input functions, in a memory context of its own (their
/// `fn_mcxt`, where they keep state), deleted with the call site.
#[derive(Default)]
pub struct Inputs {
    context: Option<pg_sys::MemoryContext>,
    map: HashMap<pg_sys::Oid, (*mut pg_sys::FmgrInfo, pg_sys::Oid)>,
}

thread_local! {
    static CURRENT: Cell<*mut Inputs> = const { Cell::new(std::ptr::null_mut()) };
}

impl Inputs {
    /// Runs `f` with these inputs as the ones [`input`] hands out; the
    /// previous ones come back on return and on unwinding.
    pub fn scope<T>(inputs: *mut Inputs, f: impl FnOnce() -> T) -> T {
        struct Restore(*mut Inputs);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(inputs)));
        f()
    }

    fn get(&mut self, typid: pg_sys::Oid) -> (*mut pg_sys::FmgrInfo, pg_sys::Oid) {
        let context = *self.context.get_or_insert_with(|| {
            // SAFETY: a child of TopMemoryContext, deleted in Drop.
            unsafe {
                pg_sys::AllocSetContextCreateInternal(
                    pg_sys::TopMemoryContext,
                    c"pg_wasm call site input functions".as_ptr(),
                    0,
                    1024,
                    8 * 1024 * 1024,
                )
            }
        });
        // SAFETY: the FmgrInfo lives in `context` as long as the map entry.
        *self
            .map
            .entry(typid)
            .or_insert_with(|| unsafe { lookup(typid, context) })
    }
}

impl Drop for Inputs {
    fn drop(&mut self) {
        if let Some(context) = self.context.take() {
            self.map.clear();
            // SAFETY: nothing allocated in the context is referenced any
            // more: the call site that owned these FmgrInfos is going away.
            unsafe { pg_sys::MemoryContextDelete(context) };
        }
    }
}

/// Looks up the input function of `typid` into a new FmgrInfo in `context`.
///
/// # Safety
/// `context` must be a valid memory context.
unsafe fn lookup(
    typid: pg_sys::Oid,
    context: pg_sys::MemoryContext,
) -> (*mut pg_sys::FmgrInfo, pg_sys::Oid) {
    let (mut func, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
    // SAFETY: lookups with a valid type OID; the FmgrInfo is allocated in
    // (and its fn_mcxt is) `context`.
    unsafe {
        pg_sys::getTypeInputInfo(typid, &mut func, &mut ioparam);
        let finfo = pg_sys::MemoryContextAllocZero(context, std::mem::size_of::<pg_sys::FmgrInfo>())
            as *mut pg_sys::FmgrInfo;
        pg_sys::fmgr_info_cxt(func, finfo, context);
        (finfo, ioparam)
    }
}

/// The input function of `typid` and its I/O parameter: the current call
/// site's (valid while its scope lasts), or a fresh one in the current
/// memory context outside any scope.
pub fn input(typid: pg_sys::Oid) -> (*mut pg_sys::FmgrInfo, pg_sys::Oid) {
    let current = CURRENT.with(|c| c.get());
    if current.is_null() {
        // SAFETY: CurrentMemoryContext is valid; the FmgrInfo is used for
        // this one value only.
        return unsafe { lookup(typid, pg_sys::CurrentMemoryContext) };
    }
    // SAFETY: a non-null current pointer is the Inputs of the call site
    // whose scope is running on this thread, which outlives the scope; no
    // other reference to it is used while the scope runs.
    unsafe { (*current).get(typid) }
}

/// An FmgrInfo for `func` owned by the caller (kept per call site), whose
/// function keeps any state in `mcxt`.
///
/// # Safety
/// `func` must be a valid function OID; `mcxt` must outlive the FmgrInfo.
pub unsafe fn boxed_fmgr(func: pg_sys::Oid, mcxt: pg_sys::MemoryContext) -> Box<pg_sys::FmgrInfo> {
    // SAFETY: per the contract; a zeroed FmgrInfo is what fmgr_info fills.
    unsafe {
        let mut finfo = Box::new(std::mem::zeroed::<pg_sys::FmgrInfo>());
        pg_sys::fmgr_info_cxt(func, finfo.as_mut(), mcxt);
        finfo
    }
}
