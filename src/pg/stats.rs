//! Call statistics behind `wasm.stats`.
//!
//! A call site counts into its own [`Counters`] (plain adds on the hot
//! path) and folds them in when it is dropped, at the end of its statement
//! (also when the statement fails): into a table in shared memory that
//! every backend and parallel worker of the cluster adds to, when the
//! library is in `shared_preload_libraries`, else into this backend's own
//! table. One lock per call site and statement, never per row.

use pgrx::pg_catalog::pg_proc::PgProc;
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
    /// Whether every figure is the cluster's (false: some or all are this
    /// backend's own, because the cluster table had no room for the
    /// function, or the library is not preloaded).
    pub cluster: bool,
}

/// A failed call's message and the role that made the call.
#[derive(Clone, Debug)]
pub struct LastError {
    pub message: String,
    pub role: pg_sys::Oid,
}

/// Functions the cluster-wide table holds; calls of further functions are
/// counted in their backend only (`wasm.stats` says which).
pub const SHARED_CAPACITY: usize = 4096;
/// Entries one database may hold: no database takes every slot.
pub const PER_DATABASE: usize = SHARED_CAPACITY / 4;
/// Entries the functions of one owner may hold in one database: no role
/// takes all of its database's slots.
pub const PER_OWNER: usize = PER_DATABASE / 4;
/// Bytes of the last error kept per function (cut at a character boundary).
const ERROR_BYTES: usize = 200;

#[derive(Clone, Copy)]
struct Entry {
    db: u32,
    fn_oid: u32,
    /// The function's owner when the entry was made (for [`PER_OWNER`]).
    owner: u32,
    counters: Counters,
    /// Who made the call that failed last (see `wasm.stats` visibility).
    error_role: u32,
    error_len: u16,
    error: [u8; ERROR_BYTES],
}

const EMPTY: Entry = Entry {
    db: 0,
    fn_oid: 0,
    owner: 0,
    counters: Counters {
        calls: 0,
        nanos: 0,
        fuel: 0,
        traps: 0,
    },
    error_role: 0,
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

    /// Adds to the entry of (db, fn_oid); false when there is no room for
    /// a new entry (the table, the database's share or the owner's share
    /// is full).
    ///
    /// `hint`: where this backend found the entry last time (entries move
    /// only when a sweep drops others, so it is checked, and searched for
    /// when wrong). Returns where the entry is.
    fn add(
        &mut self,
        key: Key,
        c: &Counters,
        error: Option<&LastError>,
        hint: Option<usize>,
    ) -> Option<usize> {
        let len = self.len;
        let live = &self.entries[..len];
        let hinted = hint.filter(|&i| {
            live.get(i)
                .is_some_and(|e| e.fn_oid == key.fn_oid && e.db == key.db)
        });
        let index = match hinted.or_else(|| {
            live.iter()
                .position(|e| e.fn_oid == key.fn_oid && e.db == key.db)
        }) {
            Some(i) => i,
            None => {
                let in_db = live.iter().filter(|e| e.db == key.db);
                let (db_count, owner_count) = in_db.fold((0, 0), |(d, o), e| {
                    (d + 1, o + usize::from(e.owner == key.owner))
                });
                if len == SHARED_CAPACITY || db_count >= PER_DATABASE || owner_count >= PER_OWNER {
                    return None;
                }
                self.entries[len] = Entry {
                    db: key.db,
                    fn_oid: key.fn_oid,
                    owner: key.owner,
                    ..EMPTY
                };
                self.len += 1;
                len
            }
        };
        let e = &mut self.entries[index];
        e.counters.add(c);
        if let Some(err) = error {
            let msg = &err.message;
            let mut n = msg.len().min(ERROR_BYTES);
            while !msg.is_char_boundary(n) {
                n -= 1;
            }
            e.error[..n].copy_from_slice(&msg.as_bytes()[..n]);
            e.error_len = n as u16;
            e.error_role = err.role.to_u32();
        }
        Some(index)
    }

    /// Keeps only the entries `keep` says yes to, in order.
    fn retain(&mut self, keep: impl Fn(&Entry) -> bool) {
        let mut kept = 0;
        for i in 0..self.len {
            let e = self.entries[i];
            if keep(&e) {
                self.entries[kept] = e;
                kept += 1;
            }
        }
        self.len = kept;
    }
}

#[derive(Clone, Copy)]
struct Key {
    db: u32,
    fn_oid: u32,
    owner: u32,
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
    last_error: Option<LastError>,
}

thread_local! {
    /// Where each function's entry was in the shared table at this
    /// backend's last flush (a hint, checked before use).
    static HINTS: RefCell<HashMap<u32, usize>> = RefCell::new(HashMap::new());
    static TABLE: RefCell<HashMap<pg_sys::Oid, Local>> = RefCell::new(HashMap::new());
}

/// Folds a call site's counters in (from its `Drop`, so it must not raise:
/// no catalog access here, which may run while a transaction aborts).
/// `owner` owns function `fn_oid`.
pub fn flush(
    fn_oid: pg_sys::Oid,
    owner: pg_sys::Oid,
    c: &Counters,
    last_error: Option<&LastError>,
) {
    if c.is_empty() && last_error.is_none() {
        return;
    }
    // SAFETY: set once per backend before any query runs.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let key = Key {
        db,
        fn_oid: fn_oid.to_u32(),
        owner: owner.to_u32(),
    };
    if cluster_wide() {
        // The entry's place from this backend's last flush of the function:
        // a statement's flush then finds it without scanning the table.
        let hint = HINTS
            .try_with(|h| h.borrow().get(&key.fn_oid).copied())
            .ok()
            .flatten();
        let added = SHARED.exclusive().add(key, c, last_error, hint);
        if let Some(index) = added {
            if hint != Some(index) {
                let _ = HINTS.try_with(|h| {
                    let mut h = h.borrow_mut();
                    if h.len() >= SHARED_CAPACITY {
                        h.clear();
                    }
                    h.insert(key.fn_oid, index);
                });
            }
            return;
        }
    }
    // try_with: a drop during backend exit may run after thread-locals are gone.
    let _ = TABLE.try_with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            let local = t.entry(fn_oid).or_default();
            local.counters.add(c);
            if let Some(err) = last_error {
                local.last_error = Some(err.clone());
            }
        }
    });
}

/// What the current role may see of one function.
enum Visible {
    /// Not at all: no EXECUTE on it or no USAGE on its schema, and not its
    /// owner.
    No,
    /// Its figures; its last error only if raised by a call of this role.
    Figures,
    /// Everything (superusers, members of the function's owner).
    All,
}

fn visibility(fn_oid: pg_sys::Oid, user: pg_sys::Oid, superuser: bool) -> Option<Visible> {
    let proc = PgProc::new(fn_oid)?;
    if superuser {
        return Some(Visible::All);
    }
    // SAFETY: role membership and ACL lookups for an existing function.
    unsafe {
        if pg_sys::has_privs_of_role(user, proc.proowner()) {
            Some(Visible::All)
        } else if super::compat::may_execute(fn_oid, pg_sys::get_func_namespace(fn_oid), user) {
            Some(Visible::Figures)
        } else {
            Some(Visible::No)
        }
    }
}

/// This database's functions as the current role may see them: the
/// cluster's figures, plus any this backend kept for itself (no room in the
/// shared table, or no shared memory). Entries of functions that no longer
/// exist are dropped from both tables.
///
/// Who sees what: superusers everything; a function's owner (and members of
/// the owning role) its figures and last error; a role that may execute a
/// function (EXECUTE on it, USAGE on its schema) its figures, and its last
/// error only when that role's own call raised it; other roles nothing of it.
pub fn snapshot() -> Vec<Row> {
    let mut rows: HashMap<pg_sys::Oid, (Row, pg_sys::Oid)> = HashMap::new();
    // SAFETY: as in flush.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    if cluster_wide() {
        let table = SHARED.share();
        for e in table.entries[..table.len].iter().filter(|e| e.db == db) {
            let error = (e.error_len > 0)
                .then(|| String::from_utf8_lossy(&e.error[..e.error_len as usize]).into_owned());
            let oid = pg_sys::Oid::from(e.fn_oid);
            let row = Row {
                fn_oid: oid,
                counters: e.counters,
                last_error: error,
                cluster: true,
            };
            rows.insert(oid, (row, pg_sys::Oid::from(e.error_role)));
        }
    }
    TABLE.with(|t| {
        for (oid, local) in t.borrow().iter() {
            let (row, role) = rows.entry(*oid).or_insert_with(|| {
                (
                    Row {
                        fn_oid: *oid,
                        counters: Counters::default(),
                        last_error: None,
                        cluster: false,
                    },
                    pg_sys::InvalidOid,
                )
            });
            row.counters.add(&local.counters);
            row.cluster = false;
            if let Some(err) = &local.last_error {
                row.last_error = Some(err.message.clone());
                *role = err.role;
            }
        }
    });
    // SAFETY: reads the current role and its superuser flag.
    let (user, superuser) = unsafe { (pg_sys::GetUserId(), pg_sys::superuser()) };
    let mut gone = Vec::new();
    let mut v = Vec::new();
    for (oid, (mut row, error_role)) in rows {
        match visibility(oid, user, superuser) {
            None => gone.push(oid),
            Some(Visible::No) => {}
            Some(Visible::Figures) => {
                if error_role != user {
                    row.last_error = None;
                }
                v.push(row);
            }
            Some(Visible::All) => v.push(row),
        }
    }
    if !gone.is_empty() {
        forget(db, &gone);
    }
    v.sort_by_key(|r| r.fn_oid.to_u32());
    v
}

/// Drops the figures of functions of database `db` that no longer exist.
fn forget(db: u32, gone: &[pg_sys::Oid]) {
    if cluster_wide() {
        let ids: Vec<u32> = gone.iter().map(|o| o.to_u32()).collect();
        SHARED
            .exclusive()
            .retain(|e| !(e.db == db && ids.contains(&e.fn_oid)));
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        for oid in gone {
            t.remove(oid);
        }
    });
}

/// Forgets the counters of the current database's functions: the
/// cluster's and this backend's.
pub fn reset() {
    // SAFETY: as in flush.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    if cluster_wide() {
        SHARED.exclusive().retain(|e| e.db != db);
    }
    TABLE.with(|t| t.borrow_mut().clear());
}
