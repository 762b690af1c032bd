//! Call statistics behind `wasm.stats`.
//!
//! A call site counts into its own [`Counters`] (plain adds on the hot
//! path) and folds them in when it is dropped, at the end of its statement
//! (also when the statement fails): into a table in shared memory that
//! every backend and parallel worker of the cluster adds to, when the
//! library is in `shared_preload_libraries`, else into this backend's own
//! table. One lock per call site and statement, never per row.

use pgrx::pg_sys;
use pgrx::{pg_guard, pg_shmem_init, PGRXSharedMemory, PgLwLock};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

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

    fn is_empty(&self) -> bool {
        self.calls == 0 && self.traps == 0
    }
}

/// One function's figures as `wasm.stats` shows them.
pub struct Row {
    pub fn_oid: pg_sys::Oid,
    pub counters: Counters,
    pub last_error: Option<String>,
}

/// Functions the cluster-wide table holds; calls of further functions are
/// counted in their backend only (`wasm.stats` says which).
pub const SHARED_CAPACITY: usize = 4096;
/// Bytes of the last error kept per function (cut at a character boundary).
const ERROR_BYTES: usize = 200;

#[derive(Clone, Copy)]
struct Entry {
    db: u32,
    fn_oid: u32,
    counters: Counters,
    error_len: u16,
    error: [u8; ERROR_BYTES],
}

const EMPTY: Entry = Entry {
    db: 0,
    fn_oid: 0,
    counters: Counters {
        calls: 0,
        nanos: 0,
        fuel: 0,
        traps: 0,
    },
    error_len: 0,
    error: [0; ERROR_BYTES],
};

#[derive(Clone, Copy)]
pub struct SharedTable {
    len: usize,
    entries: [Entry; SHARED_CAPACITY],
}

// SAFETY: plain data (integers and byte arrays), no pointers; valid in any
// process that maps the segment.
unsafe impl PGRXSharedMemory for SharedTable {}

impl SharedTable {
    const fn new() -> Self {
        SharedTable {
            len: 0,
            entries: [EMPTY; SHARED_CAPACITY],
        }
    }

    /// Adds to the entry of (db, fn_oid); false when the table is full.
    fn add(&mut self, db: u32, fn_oid: u32, c: &Counters, error: Option<&str>) -> bool {
        let len = self.len;
        let index = match self.entries[..len]
            .iter()
            .position(|e| e.fn_oid == fn_oid && e.db == db)
        {
            Some(i) => i,
            None if len < SHARED_CAPACITY => {
                self.entries[len] = Entry {
                    db,
                    fn_oid,
                    ..EMPTY
                };
                self.len += 1;
                len
            }
            None => return false,
        };
        let e = &mut self.entries[index];
        e.counters.add(c);
        if let Some(msg) = error {
            let mut n = msg.len().min(ERROR_BYTES);
            while !msg.is_char_boundary(n) {
                n -= 1;
            }
            e.error[..n].copy_from_slice(&msg.as_bytes()[..n]);
            e.error_len = n as u16;
        }
        true
    }
}

static SHARED: PgLwLock<SharedTable> = unsafe { PgLwLock::new(c"pg_wasm stats") };
static SHARED_ON: AtomicBool = AtomicBool::new(false);

/// From `_PG_init`: reserve the cluster-wide table when the library is
/// being preloaded (the only time shared memory can be requested).
pub fn init() {
    // SAFETY: a plain global PostgreSQL sets before loading preloaded
    // libraries; read in the postmaster's single thread.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        pg_shmem_init!(SHARED = SharedTable::new());
        SHARED_ON.store(true, Ordering::Relaxed);
    }
}

/// Whether the counts are the cluster's (true) or this backend's.
pub fn cluster_wide() -> bool {
    SHARED_ON.load(Ordering::Relaxed)
}

#[derive(Default)]
struct Local {
    counters: Counters,
    last_error: Option<String>,
}

thread_local! {
    static TABLE: RefCell<HashMap<pg_sys::Oid, Local>> = RefCell::new(HashMap::new());
}

/// Folds a call site's counters in (from its `Drop`, so it must not raise).
pub fn flush(fn_oid: pg_sys::Oid, c: &Counters, last_error: Option<&str>) {
    if c.is_empty() && last_error.is_none() {
        return;
    }
    // SAFETY: set once per backend before any query runs.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    if cluster_wide() && SHARED.exclusive().add(db, fn_oid.to_u32(), c, last_error) {
        return;
    }
    // try_with: a drop during backend exit may run after thread-locals are gone.
    let _ = TABLE.try_with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            let local = t.entry(fn_oid).or_default();
            local.counters.add(c);
            if let Some(msg) = last_error {
                local.last_error = Some(msg.to_owned());
            }
        }
    });
}

/// This database's functions: the cluster's figures, plus any this backend
/// kept for itself (a full shared table, or no shared memory).
pub fn snapshot() -> Vec<Row> {
    let mut rows: HashMap<pg_sys::Oid, Row> = HashMap::new();
    if cluster_wide() {
        // SAFETY: as in flush.
        let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
        let table = SHARED.share();
        for e in table.entries[..table.len].iter().filter(|e| e.db == db) {
            let error = (e.error_len > 0)
                .then(|| String::from_utf8_lossy(&e.error[..e.error_len as usize]).into_owned());
            let oid = pg_sys::Oid::from(e.fn_oid);
            rows.insert(
                oid,
                Row {
                    fn_oid: oid,
                    counters: e.counters,
                    last_error: error,
                },
            );
        }
    }
    TABLE.with(|t| {
        for (oid, local) in t.borrow().iter() {
            let row = rows.entry(*oid).or_insert_with(|| Row {
                fn_oid: *oid,
                counters: Counters::default(),
                last_error: None,
            });
            row.counters.add(&local.counters);
            if local.last_error.is_some() {
                row.last_error.clone_from(&local.last_error);
            }
        }
    });
    let mut v: Vec<Row> = rows.into_values().collect();
    v.sort_by_key(|r| r.fn_oid.to_u32());
    v
}

/// Forgets the counters: the cluster's (every database) and this backend's.
pub fn reset() {
    if cluster_wide() {
        let mut table = SHARED.exclusive();
        table.len = 0;
    }
    TABLE.with(|t| t.borrow_mut().clear());
}
