//! Where a finished instance's pool slot is reset (`pg_wasm.reset_slots`).
//!
//! Dropping a pooled instance resets its slot to the module's image and
//! tears down its store (2–50 µs: a page-map scan, a copy of each page the
//! guest wrote). The statement's answer does not need it, only the next
//! instance does. By default (`after_reply`) the runtime keeps the finished
//! store ([`reaper::Mode::Deferred`]) and the backend drops it right after
//! it has flushed output to the client, typically the end of a statement's
//! reply: the client reads its answer while the backend resets, in the time
//! it would otherwise wait for the next command. The CPU spent is the same,
//! on the same thread; the next instance drops whatever is still kept
//! first, so a slot is never handed out dirty.
//!
//! PostgreSQL has no hook at that point, so the backend's output methods
//! (`PqCommMethods`, the table `pq_flush` calls through, which parallel
//! workers swap for their message queue) are replaced by a copy whose
//! `flush` runs the original and then the kept drops.

use crate::guc::{self, ResetSlots};
use pg_wasm_runtime::reaper::{self, Mode};
use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicBool, Ordering};

/// libpq/libpq.h's `PQcommMethods` (the same in PostgreSQL 15 to 18; not in
/// pgrx's bindings).
#[repr(C)]
#[derive(Clone, Copy)]
struct CommMethods {
    comm_reset: Option<unsafe extern "C" fn()>,
    flush: Option<unsafe extern "C" fn() -> c_int>,
    flush_if_writable: Option<unsafe extern "C" fn() -> c_int>,
    is_send_pending: Option<unsafe extern "C" fn() -> bool>,
    putmessage: Option<unsafe extern "C" fn(c_char, *const c_char, usize) -> c_int>,
    putmessage_noblock: Option<unsafe extern "C" fn(c_char, *const c_char, usize)>,
}

extern "C" {
    /// The backend's current output methods (pqcomm.c).
    static mut PqCommMethods: *const CommMethods;
}

/// Our copy of the methods that were current, `flush` replaced.
static mut WRAPPED: CommMethods = CommMethods {
    comm_reset: None,
    flush: None,
    flush_if_writable: None,
    is_send_pending: None,
    putmessage: None,
    putmessage_noblock: None,
};
static mut ORIGINAL_FLUSH: Option<unsafe extern "C" fn() -> c_int> = None;
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Applies `pg_wasm.reset_slots` before an instance is made: called by
/// every kind of call site.
pub fn configure() {
    let mode = match guc::RESET_SLOTS.get() {
        ResetSlots::Immediately => Mode::Inline,
        ResetSlots::AfterReply => Mode::Deferred,
        ResetSlots::Thread => Mode::Thread,
    };
    if mode == Mode::Deferred && !install() {
        reaper::set_mode(Mode::Inline);
        return;
    }
    reaper::set_mode(mode);
}

/// Puts our `flush` in front of the backend's; false when there is no
/// output to hook (nothing to wrap).
fn install() -> bool {
    if INSTALLED.load(Ordering::Relaxed) {
        return true;
    }
    // SAFETY: a backend's only thread reads and replaces the pointer, as
    // pq_redirect_to_shm_mq does; the copy lives for the process, and every
    // method but `flush` is the original's.
    unsafe {
        let current = PqCommMethods;
        if current.is_null() || (*current).flush.is_none() {
            return false;
        }
        let wrapped = &raw mut WRAPPED;
        *wrapped = *current;
        ORIGINAL_FLUSH = (*current).flush;
        (*wrapped).flush = Some(flush_then_reset);
        PqCommMethods = wrapped;
    }
    INSTALLED.store(true, Ordering::Relaxed);
    true
}

/// `pq_flush`: the original, then the drops kept since the last one.
unsafe extern "C" fn flush_then_reset() -> c_int {
    // SAFETY: the function `install` found there, called as pq_flush
    // would. It does not raise an ERROR (a lost connection is reported as
    // COMMERROR, which returns), and nothing of this frame needs dropping
    // if it ever did.
    let rc = unsafe { ORIGINAL_FLUSH.map_or(0, |flush| flush()) };
    // Plain Rust (wasmtime's stores, their hosts already gone): no
    // PostgreSQL call, and panics are caught inside.
    reaper::run_deferred();
    rc
}
