//! The host API as PostgreSQL answers it (SPEC §8).
//!
//! Every PostgreSQL call made on a guest's behalf runs under
//! `catch_unwind`: pgrx turns an ERROR raised inside into a Rust panic, we
//! keep its payload, return [`HostError::Failed`] so wasmtime unwinds the
//! Wasm frames as a trap, and the call site raises the kept error again once
//! the call has returned ([`PgHost::take_failure`]).

use super::guest_log::{self, CallLog};
use super::spi;
use pg_wasm_runtime::{Host, HostError, LogLevel};
use pgrx::pg_sys;
use std::any::Any;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{addr_of, read_volatile};
use std::sync::{Arc, Mutex};

pub struct PgHost {
    /// "module.export", for messages.
    target: String,
    allow_spi: bool,
    /// STABLE and IMMUTABLE functions may only read (SPEC §8).
    read_only: bool,
    /// Shared with whoever made the host, so an error caught while the
    /// module's start function runs (inside `Instance::new`, which drops the
    /// host when it fails) can still be raised again.
    failure: Failure,
    /// What the current call wrote with `pg.log` (its log budget).
    log: CallLog,
    /// The function's owner, whose JavaScript libraries `require` may load
    /// (`pg.library`); none for other hosts.
    library_owner: Option<pg_sys::Oid>,
    /// Subtransactions `plv8.subtransaction` began and has not ended: the
    /// memory context and resource owner to return to, innermost last.
    subtransactions: Vec<Saved>,
    /// The portals of the cursors the guest opened (`pg.cursor_open`), by
    /// number; `None` once closed.
    cursors: Vec<Option<CString>>,
}

/// Cursors a guest may have open at once (each holds a portal, its plan and
/// executor state until closed or until its transaction ends).
const MAX_CURSORS: usize = 64;

/// What was current before a subtransaction began.
struct Saved(pg_sys::MemoryContext, pg_sys::ResourceOwner);

// SAFETY: a host, and so these pointers, are only used on the backend's
// thread; `Send` is required because wasmtime's component stores must be,
// but pg_wasm never moves a store to another thread.
unsafe impl Send for Saved {}

/// Where a host call leaves the PostgreSQL error it caught. A mutex (never
/// contended: one backend thread) rather than a RefCell because a
/// component's store must be `Send` (wasmtime-wasi's contexts are).
pub type Failure = Arc<Mutex<Option<Box<dyn Any + Send>>>>;

impl PgHost {
    pub fn new(target: String, allow_spi: bool, read_only: bool) -> Self {
        PgHost {
            target,
            allow_spi,
            read_only,
            failure: Failure::default(),
            log: CallLog::default(),
            library_owner: None,
            subtransactions: Vec::new(),
            cursors: Vec::new(),
        }
    }

    /// A host whose guest may load `owner`'s JavaScript libraries.
    pub fn with_library_owner(mut self, owner: pg_sys::Oid) -> Self {
        self.library_owner = Some(owner);
        self
    }

    /// The slot this host leaves caught errors in.
    pub fn failure_slot(&self) -> Failure {
        self.failure.clone()
    }

    /// The error a host call caught, to be raised again now that no Wasm
    /// frame is on the stack.
    pub fn take_failure(&mut self) -> Option<Box<dyn Any + Send>> {
        take(&self.failure)
    }

    /// Rolls back the subtransactions a trapped call left open (a limit, a
    /// cancel or a PostgreSQL error while `plv8.subtransaction`'s function
    /// ran), innermost first. The prelude pairs begin and end whenever the
    /// call returns, so only a trap leaves any.
    pub fn abort_open_subtransactions(&mut self) {
        self.abort_subtransactions();
    }

    /// After a call that returned: subtransactions a Python function
    /// entered and never exited (`plpy.subtransaction().__enter__()`
    /// alone) are rolled back with a WARNING, as PL/Python does, so the
    /// caller's transaction is intact.
    pub fn close_forgotten_subtransactions(&mut self) {
        if self.subtransactions.is_empty() {
            return;
        }
        pgrx::warning!("forcibly aborting a subtransaction that has not been exited");
        self.abort_subtransactions();
    }

    fn abort_subtransactions(&mut self) {
        while let Some(Saved(context, owner)) = self.subtransactions.pop() {
            // SAFETY: each entry is a subtransaction this host began on
            // this backend's thread, still open (the innermost is popped
            // first); the context and owner are the ones current before it
            // began, which outlive it.
            unsafe {
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::CurrentResourceOwner = owner;
            }
        }
    }

    /// Writes what a component printed during call `call` (one record per
    /// stream) within the same budget as its `pg.log` messages.
    pub fn write_output(&mut self, call: u64, message: &str, dropped_in_pipe: usize) {
        self.log.dropped_in_pipe(dropped_in_pipe);
        if !message.is_empty() {
            self.log.write(guest_log::SERVER_ONLY, call, message);
        }
    }
}

/// Runs `f`; a PostgreSQL error it raises is kept in `failure` (raised
/// again after the Wasm call) and the guest gets [`HostError::Failed`].
fn guarded<T>(failure: &Failure, what: &str, f: impl FnOnce() -> T) -> Result<T, HostError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Ok(v),
        Err(payload) => {
            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(payload);
            Err(HostError::Failed(format!("{what} failed")))
        }
    }
}

impl Host for PgHost {
    fn log(&mut self, level: LogLevel, message: &str, call: u64) -> Result<(), HostError> {
        let level = guest_log::level_of(level);
        let log = &mut self.log;
        guarded(&self.failure, "pg.log", || log.write(level, call, message))
    }

    fn query(&mut self, sql: &str, params: &str) -> Result<Vec<u8>, HostError> {
        self.run_sql(sql, params, false)
    }

    fn execute(&mut self, sql: &str, params: &str) -> Result<Vec<u8>, HostError> {
        self.run_sql(sql, params, true)
    }

    fn library(&mut self, name: &str) -> Result<Vec<u8>, HostError> {
        let Some(owner) = self.library_owner else {
            return Ok(b"DOnly JavaScript functions can load libraries".to_vec());
        };
        guarded(&self.failure, "pg.library", || {
            super::javascript::library_answer(name, owner)
        })
    }

    fn subtransaction(&mut self, op: i32) -> Result<(), HostError> {
        let stack = &mut self.subtransactions;
        match op {
            0 => {
                // SAFETY: on the backend's thread inside a function call;
                // as PL/Python's subtransaction __enter__: begin, then back
                // to the caller's memory context.
                let saved = guarded(&self.failure, "plv8.subtransaction", || unsafe {
                    let context = pg_sys::CurrentMemoryContext;
                    let owner = pg_sys::CurrentResourceOwner;
                    pg_sys::BeginInternalSubTransaction(std::ptr::null());
                    pg_sys::MemoryContextSwitchTo(context);
                    Saved(context, owner)
                })?;
                stack.push(saved);
                Ok(())
            }
            1 | 2 => {
                let Some(Saved(context, owner)) = stack.pop() else {
                    return Err(HostError::Invalid(
                        "plv8.subtransaction: no subtransaction to end".into(),
                    ));
                };
                // SAFETY: the innermost subtransaction this host began is
                // the current one (each execute's own ends before it
                // returns); its saved context and owner outlive it.
                guarded(&self.failure, "plv8.subtransaction", || unsafe {
                    if op == 1 {
                        pg_sys::ReleaseCurrentSubTransaction();
                    } else {
                        pg_sys::RollbackAndReleaseCurrentSubTransaction();
                    }
                    pg_sys::MemoryContextSwitchTo(context);
                    pg_sys::CurrentResourceOwner = owner;
                })
            }
            _ => Err(HostError::Invalid(format!(
                "plv8.subtransaction: unknown operation {op}"
            ))),
        }
    }

    fn cursor_open(&mut self, sql: &str, params: &str) -> Result<Vec<u8>, HostError> {
        self.check_sql_allowed()?;
        if self.cursors.iter().flatten().count() >= MAX_CURSORS {
            return Err(HostError::Invalid(format!(
                "at most {MAX_CURSORS} cursors may be open at once: close one first"
            )));
        }
        let query = spi::Query::parse(sql, params).map_err(HostError::Invalid)?;
        let read_only = self.read_only;
        // SAFETY: on the backend's thread inside a function call, where SPI
        // may be used; a SQL error is rolled back and answered, anything
        // else unwinds into `guarded`.
        let answer = guarded(&self.failure, "opening a cursor", || unsafe {
            spi::caught(|| query.open_cursor(read_only))
        })?
        .map_err(|payload| self.keep_failure(payload, "opening a cursor failed"))?;
        if answer.first() == Some(&b'E') {
            return Ok(answer);
        }
        let name = CString::new(answer)
            .map_err(|_| HostError::Invalid("a portal name with a NUL byte".into()))?;
        let number = match self.cursors.iter().position(Option::is_none) {
            Some(free) => {
                self.cursors[free] = Some(name);
                free
            }
            None => {
                self.cursors.push(Some(name));
                self.cursors.len() - 1
            }
        };
        Ok(format!("C{number}").into_bytes())
    }

    fn cursor_fetch(&mut self, cursor: i32, count: i32) -> Result<Vec<u8>, HostError> {
        let Some(Some(name)) = usize::try_from(cursor)
            .ok()
            .and_then(|c| self.cursors.get(c))
        else {
            return Err(HostError::Invalid(format!("no open cursor {cursor}")));
        };
        // SAFETY: as in cursor_open.
        guarded(&self.failure, "fetching from a cursor", || unsafe {
            spi::caught(|| spi::fetch_cursor(name, count))
        })?
        .map_err(|payload| self.keep_failure(payload, "fetching from a cursor failed"))
    }

    fn cursor_close(&mut self, cursor: i32) -> Result<(), HostError> {
        let slot = usize::try_from(cursor)
            .ok()
            .and_then(|c| self.cursors.get_mut(c));
        if let Some(name) = slot.and_then(Option::take) {
            // SAFETY: on the backend's thread inside a function call.
            guarded(&self.failure, "closing a cursor", || unsafe {
                spi::close_cursor(&name)
            })?;
        }
        Ok(())
    }

    /// Entries are the function owner's: a tenant's engine never reads
    /// what another's kept.
    fn memo_scope(&self) -> Option<u64> {
        self.library_owner.map(|o| u64::from(o.to_u32()))
    }

    fn library_compiled(&mut self, name: &str, bytecode: &[u8]) {
        if self.library_owner.is_some() {
            super::javascript::keep_library_bytecode(name, bytecode);
        }
    }

    #[inline]
    fn cancel_requested(&self) -> bool {
        cancel_pending()
    }
}

impl PgHost {
    /// `pg.query`, or `pg.execute` (`counted`).
    fn run_sql(&mut self, sql: &str, params: &str, counted: bool) -> Result<Vec<u8>, HostError> {
        self.check_sql_allowed()?;
        let query = spi::Query::parse(sql, params).map_err(HostError::Invalid)?;
        let read_only = self.read_only;
        if counted {
            // plv8.execute: SQL errors are the script's to catch.
            // SAFETY: as below.
            let caught = guarded(&self.failure, "plv8.execute", || unsafe {
                query.run_caught(read_only)
            })?;
            return caught.map_err(|payload| self.keep_failure(payload, "plv8.execute failed"));
        }
        // SAFETY: runs on the backend's main thread inside a function call,
        // where SPI may be used; errors unwind as panics into `guarded`.
        guarded(&self.failure, "pg.query", || unsafe {
            query.run(read_only, counted)
        })
    }

    /// A payload that is not the guest's to catch (a cancel, say), kept to
    /// be raised again after the call.
    fn keep_failure(&self, payload: Box<dyn Any + Send>, what: &str) -> HostError {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(payload);
        HostError::Failed(what.into())
    }

    /// Whether this guest may run SQL at all.
    fn check_sql_allowed(&self) -> Result<(), HostError> {
        if !self.allow_spi {
            if let Some(function) = self.target.strip_suffix(" (javascript)") {
                return Err(HostError::Denied(format!(
                    "JavaScript function {function} may not run SQL: pg_wasm.javascript_sql is off"
                )));
            }
            if let Some(function) = self.target.strip_suffix(" (python)") {
                return Err(HostError::Denied(format!(
                    "Python function {function} may not run SQL: pg_wasm.python_sql is off"
                )));
            }
            return Err(HostError::Denied(format!(
                "pg.query is not allowed for \"{}\": the module's allow_spi setting is off",
                self.target
            )));
        }
        Ok(())
    }
}

/// A query cancel, statement_timeout or terminate is pending: a running
/// guest stops at its next epoch check.
#[inline]
pub fn cancel_pending() -> bool {
    // SAFETY: plain reads of PostgreSQL's interrupt flags, which its
    // signal handlers set on this same thread; volatile as in
    // CHECK_FOR_INTERRUPTS(). Inside a critical section an ERROR would
    // become a PANIC, so we never stop a guest there.
    unsafe {
        read_volatile(addr_of!(pg_sys::InterruptPending)) != 0
            && (read_volatile(addr_of!(pg_sys::QueryCancelPending)) != 0
                || read_volatile(addr_of!(pg_sys::ProcDiePending)) != 0)
            && read_volatile(addr_of!(pg_sys::CritSectionCount)) == 0
    }
}

/// Takes the error kept in `failure`, if any.
pub fn take(failure: &Failure) -> Option<Box<dyn Any + Send>> {
    failure.lock().unwrap_or_else(|p| p.into_inner()).take()
}

impl Drop for PgHost {
    /// Closes the cursors the guest left open when its instance goes (the
    /// end of the statement), unless the transaction is ending in an error:
    /// then PostgreSQL drops their portals itself.
    fn drop(&mut self) {
        // Nothing to close, or an error is unwinding (it aborts the
        // (sub)transaction, which drops the portals).
        if self.cursors.iter().all(Option::is_none) || std::thread::panicking() {
            return;
        }
        // SAFETY: a plain read of the transaction state on the backend's
        // thread.
        if !unsafe { pg_sys::IsTransactionState() } {
            return;
        }
        for name in self.cursors.drain(..).flatten() {
            // SAFETY: inside a transaction in progress on the backend's
            // thread, no error unwinding: one raised here (never expected)
            // unwinds as any ERROR does.
            unsafe { spi::close_cursor(&name) };
        }
    }
}
