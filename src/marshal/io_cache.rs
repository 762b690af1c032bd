//! Type input functions, looked up once per transaction instead of once per
//! value: a trigger replacing two columns of 100 000 rows would otherwise do
//! 200 000 catalog lookups and fmgr_info calls. Call sites that keep their
//! own FmgrInfos make them with [`boxed_fmgr`].
//!
//! Entries live in a memory context of their own (input functions such as
//! array_in keep state in fn_extra), reset when a new transaction first uses
//! the cache, so a type dropped and re-created later is never called through
//! a stale entry.

use crate::pg::cache;
use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;

struct Cache {
    xact: u64,
    context: pg_sys::MemoryContext,
    inputs: HashMap<pg_sys::Oid, (*mut pg_sys::FmgrInfo, pg_sys::Oid)>,
}

thread_local! {
    static CACHE: RefCell<Option<Cache>> = const { RefCell::new(None) };
}

/// The input function of `typid` and its I/O parameter. The pointer stays
/// valid until the transaction ends.
pub fn input(typid: pg_sys::Oid) -> (*mut pg_sys::FmgrInfo, pg_sys::Oid) {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let now = cache::xact();
        let cache = c.get_or_insert_with(|| Cache {
            xact: now,
            // SAFETY: a child of TopMemoryContext for the backend's life.
            context: unsafe {
                pg_sys::AllocSetContextCreateInternal(
                    pg_sys::TopMemoryContext,
                    c"pg_wasm input functions".as_ptr(),
                    0,
                    8 * 1024,
                    8 * 1024 * 1024,
                )
            },
            inputs: HashMap::new(),
        });
        if cache.xact != now {
            cache.inputs.clear();
            // SAFETY: nothing allocated in the context is referenced any more.
            unsafe { pg_sys::MemoryContextReset(cache.context) };
            cache.xact = now;
        }
        let context = cache.context;
        *cache.inputs.entry(typid).or_insert_with(|| {
            let (mut func, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
            // SAFETY: lookups with a valid type OID; the FmgrInfo is
            // allocated in (and its fn_mcxt is) the cache's context.
            unsafe {
                pg_sys::getTypeInputInfo(typid, &mut func, &mut ioparam);
                let finfo = pg_sys::MemoryContextAllocZero(
                    context,
                    std::mem::size_of::<pg_sys::FmgrInfo>(),
                ) as *mut pg_sys::FmgrInfo;
                pg_sys::fmgr_info_cxt(func, finfo, context);
                (finfo, ioparam)
            }
        })
    })
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
