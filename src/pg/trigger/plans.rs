//! Trigger plans kept by the backend from one statement to the next.
//!
//! A single-row INSERT through a wasm trigger is one call per statement,
//! and every statement has new call sites: making the [`Plan`] (the
//! event's prefix, each column's JSON encoding and input function) was a
//! few percent of such a statement. A call site now takes the plan for its
//! (function, event, relation, trigger) from here and gives it back when it
//! is dropped. Plans are made against a copy of the relation's descriptor
//! in a memory context of their own, and all of them are dropped at any
//! relcache invalidation (`cache::relations_epoch`: an ALTER TABLE, a
//! trigger replaced or renamed, a type changed), so a plan is only used
//! while nothing it was made from has changed.

use super::Plan;
use crate::pg::cache;
use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;

/// (function, TriggerEvent bits, relation, trigger).
pub type Key = (pg_sys::Oid, u32, pg_sys::Oid, pg_sys::Oid);

/// Plans kept at most; more are dropped (a backend serving very many
/// triggers makes some plans again).
const MAX_PLANS: usize = 256;

struct Plans {
    epoch: u64,
    map: HashMap<Key, Box<Plan>>,
}

thread_local! {
    static PLANS: RefCell<Plans> = RefCell::new(Plans {
        epoch: 0,
        map: HashMap::new(),
    });
}

/// The kept plan for `key`, if nothing changed since it was made.
pub fn take(key: &Key) -> Option<Box<Plan>> {
    let epoch = cache::relations_epoch();
    PLANS
        .try_with(|p| {
            let mut p = p.try_borrow_mut().ok()?;
            if p.epoch != epoch {
                p.map.clear();
                p.epoch = epoch;
                return None;
            }
            p.map.remove(key)
        })
        .ok()
        .flatten()
}

/// Keeps `plan` for the next statement (from a call site's `Drop`, so it
/// must not raise). A plan made before the last invalidation is dropped.
pub fn put(plan: Box<Plan>) {
    if plan.epoch != cache::relations_epoch() {
        return;
    }
    let _ = PLANS.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            if p.epoch != plan.epoch {
                p.map.clear();
                p.epoch = plan.epoch;
            }
            if p.map.len() >= MAX_PLANS {
                p.map.clear();
            }
            p.map.insert(plan.key, plan);
        }
    });
}
