//! Instances kept for the next statement, reset in place.
//!
//! Making an instance and dropping it again (a store, the module's
//! registration in it, a slot and its `vmctx`, the exports looked up) was
//! about a third of what one call per statement cost beyond PL/pgSQL's:
//! 5–8 µs of a backend's CPU a statement in `perf` (the Rust trigger, the
//! JavaScript engine). So a finished instance of a core module is not
//! dropped: the vendored wasmtime's `Instance::reset_in_place` puts its
//! memories, tables, globals and data segments back as instantiation left
//! them (the same page-map reset the pool applies to a slot), and the
//! instance waits here, per module, for the backend's next statement.
//! Its store's data (limits, fuel, host) is made anew when it is taken.
//!
//! An instance reset in place is a fresh instance (SPEC §7, §14: a slot
//! reset to the module's image counts as fresh); one whose calls failed
//! (trap, limit, cancel) is dropped instead, and so is one wasmtime cannot
//! reset (a module whose instantiation runs code). Kept instances hold
//! their pool slots: at most [`PER_MODULE`] per module and [`KEPT`] in
//! all, the oldest dropped first; all of them are dropped when the pool
//! is full ([`clear`]) and a module's when its `Prepared` goes away
//! ([`forget`]).

use crate::{RuntimeError, TrapKind};
use std::any::Any;
use std::cell::RefCell;

/// Kept instances of one module (a statement calling several functions
/// of a module, or one function at several call sites, uses several).
pub const PER_MODULE: usize = 4;
/// Kept instances in all, per thread.
pub const KEPT: usize = 16;

thread_local! {
    /// A reset `instance::Kept<H>` of a module, oldest first.
    static PARKED: RefCell<Vec<Parked>> = const { RefCell::new(Vec::new()) };
}

struct Parked {
    module: u64,
    /// Whether it holds a memory slot (an exported memory).
    memory: bool,
    kept: Box<dyn Any>,
}

/// Keeps a reset instance of module `id`. What no longer fits is dropped
/// (its slot reset again and returned to the pool), outside the borrow.
pub(crate) fn park(id: u64, memory: bool, kept: Box<dyn Any>) {
    let dropped = PARKED.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.iter().filter(|k| k.module == id).count() >= PER_MODULE {
            return Some(kept);
        }
        p.push(Parked {
            module: id,
            memory,
            kept,
        });
        (p.len() > KEPT).then(|| p.remove(0).kept)
    });
    drop(dropped);
}

/// The most recently kept instance of module `id`, if any.
pub(crate) fn take(id: u64) -> Option<Box<dyn Any>> {
    PARKED
        .try_with(|p| {
            let mut p = p.borrow_mut();
            let i = p.iter().rposition(|k| k.module == id)?;
            Some(p.remove(i).kept)
        })
        .ok()
        .flatten()
}

/// Drops module `id`'s kept instances.
pub(crate) fn forget(id: u64) {
    let gone: Vec<_> = PARKED
        .try_with(|p| {
            let mut p = p.borrow_mut();
            let (gone, kept) = p.drain(..).partition(|k| k.module == id);
            *p = kept;
            gone
        })
        .unwrap_or_default();
    drop(gone);
}

/// Drops every kept instance of this thread (their slots go back to the
/// pool); returns how many there were.
pub fn clear() -> usize {
    let gone = PARKED
        .try_with(|p| std::mem::take(&mut *p.borrow_mut()))
        .unwrap_or_default();
    let n = gone.len();
    drop(gone);
    n
}

/// Kept instances of this thread, and how many of them hold a memory.
pub fn kept() -> (usize, usize) {
    PARKED
        .try_with(|p| {
            let p = p.borrow();
            (p.len(), p.iter().filter(|k| k.memory).count())
        })
        .unwrap_or((0, 0))
}

/// What an instantiation that hands its host back on failure returns.
pub(crate) type Made<T, H> = Result<T, (RuntimeError, Option<H>)>;

/// `first`, or, when it found the pool full while instances were kept,
/// `again` with the host back once they are dropped (kept instances hold
/// slots; they never cause a full pool on their own).
pub(crate) fn unless_pool_full<T, H>(
    first: Made<T, H>,
    again: impl FnOnce(H) -> Made<T, H>,
) -> Result<T, RuntimeError> {
    match first {
        Ok(made) => Ok(made),
        Err((
            RuntimeError::Trap {
                kind: TrapKind::PoolFull,
                ..
            },
            Some(host),
        )) if clear() > 0 => again(host).map_err(|(e, _)| e),
        Err((e, _)) => Err(e),
    }
}
