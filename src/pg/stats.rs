//! Per-backend call statistics behind `wasm.stats`.
//!
//! A call site counts into its own [`Counters`] (plain adds on the hot
//! path) and folds them into the backend's table when it is dropped, at
//! the end of its statement.

use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub calls: u64,
    pub nanos: u64,
    pub fuel: u64,
    pub traps: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.calls += o.calls;
        self.nanos += o.nanos;
        self.fuel += o.fuel;
        self.traps += o.traps;
    }
}

thread_local! {
    static TABLE: RefCell<HashMap<pg_sys::Oid, Counters>> = RefCell::new(HashMap::new());
}

pub fn flush(fn_oid: pg_sys::Oid, c: &Counters) {
    if c.calls == 0 && c.traps == 0 {
        return;
    }
    // try_with: a drop during backend exit may run after thread-locals are gone.
    let _ = TABLE.try_with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            t.entry(fn_oid).or_default().add(c)
        }
    });
}

pub fn snapshot() -> Vec<(pg_sys::Oid, Counters)> {
    TABLE.with(|t| {
        let mut v: Vec<_> = t.borrow().iter().map(|(k, c)| (*k, *c)).collect();
        v.sort_by_key(|(k, _)| k.to_u32());
        v
    })
}

pub fn reset() {
    TABLE.with(|t| t.borrow_mut().clear());
}
