//! What guests write to the server log and the client, within the budgets
//! of `pg_wasm.max_log_kb_per_call` and `pg_wasm.max_log_kb_per_statement`
//! (the accounting is `pg_wasm_runtime::output`).
//!
//! Every record is written without the `STATEMENT:` line PostgreSQL would
//! append at LOG level and without CONTEXT lines, so a record's size is the
//! guest's message plus a bounded prefix, whatever the statement's text. A
//! component's stdout and stderr become one record per stream and call, not
//! one per line. What is dropped is reported once per statement, by a
//! NOTICE at the end of the statement's executor (or at the next guest
//! write, for a statement that has no executor of its own, such as CALL).

use pg_wasm_runtime::output::{self, Admit, LogUse};
use pgrx::{pg_sys, PgLogLevel};
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};

/// One statement's use of the budget.
#[derive(Default)]
struct Statement {
    /// `GetCurrentStatementStartTimestamp()` of the statement counted.
    start: i64,
    used: LogUse,
    /// Dropped bytes and messages not yet reported.
    unreported: (usize, usize),
}

thread_local! {
    static STATEMENT: RefCell<Statement> = RefCell::default();
}

/// One call's use of the budget, kept by whoever makes the call's records
/// (a core module's host, a component's call site).
#[derive(Default)]
pub struct CallLog {
    call: u64,
    used: LogUse,
}

impl CallLog {
    /// Writes `message` at `level` if the budgets allow (cut if they allow
    /// part of it). `call` numbers the SQL call
    /// within the instance; a new number starts a new call's budget.
    /// Nothing is written while a cancel is pending: the guest is about to
    /// be stopped, and writing must not delay that.
    pub fn write(&mut self, level: c_int, call: u64, message: &str) {
        if call != self.call {
            self.call = call;
            self.used = LogUse::default();
        }
        // SAFETY: a plain check of log_min_messages/client_min_messages.
        if !unsafe { pg_sys::message_level_is_interesting(level) } {
            return;
        }
        let admit = STATEMENT.with_borrow_mut(|s| {
            s.refresh();
            if super::host::cancel_pending() {
                s.dropped(message.len());
                return Admit::Nothing;
            }
            let before = s.used;
            let admit = output::admit(
                crate::guc::log_limits(),
                &mut self.used,
                &mut s.used,
                output::weight(message),
            );
            s.unreported.0 += s.used.dropped - before.dropped;
            s.unreported.1 += s.used.dropped_messages - before.dropped_messages;
            admit
        });
        match admit {
            Admit::All => emit(level, message),
            Admit::Prefix(n) => {
                let kept = output::cut(message, n);
                emit(
                    level,
                    &format!(
                        "{kept} [pg_wasm: cut, {} of {} bytes written]",
                        kept.len(),
                        message.len()
                    ),
                )
            }
            Admit::Nothing => {}
        }
    }

    /// Counts bytes a component wrote past its pipe's capacity (never
    /// written anywhere) as dropped.
    pub fn dropped_in_pipe(&mut self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        STATEMENT.with_borrow_mut(|s| {
            s.refresh();
            s.dropped(bytes);
        });
    }
}

impl Statement {
    /// Counts one message of `bytes` as dropped without charging it.
    fn dropped(&mut self, bytes: usize) {
        self.used.dropped += bytes;
        self.used.dropped_messages += 1;
        self.unreported.0 += bytes;
        self.unreported.1 += 1;
    }

    /// Starts counting afresh when a new statement has begun; reports
    /// what the previous one dropped if nobody has yet.
    fn refresh(&mut self) {
        // SAFETY: reads a backend-local timestamp.
        let start = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
        if start != self.start {
            let (bytes, messages) = std::mem::take(&mut self.unreported);
            *self = Statement {
                start,
                ..Statement::default()
            };
            if messages > 0 {
                notice_dropped(bytes, messages, "the previous statement");
            }
        }
    }
}

/// Reports what the current statement dropped so far, once; called at the
/// end of every executor run.
pub fn report_dropped() {
    let (bytes, messages) = STATEMENT.with_borrow_mut(|s| std::mem::take(&mut s.unreported));
    if messages > 0 {
        notice_dropped(bytes, messages, "this statement");
    }
}

#[cold]
fn notice_dropped(bytes: usize, messages: usize, whose: &str) {
    let limits = crate::guc::log_limits();
    emit(
        PgLogLevel::NOTICE as c_int,
        &format!(
            "pg_wasm: dropped {bytes} bytes of guest output ({messages} messages) in {whose}: \
             over pg_wasm.max_log_kb_per_call ({} kB) or pg_wasm.max_log_kb_per_statement ({} kB)",
            limits.per_call >> 10,
            limits.per_statement >> 10
        ),
    );
}

// errstart/errfinish/errcode are left out of pgrx's bindings (it wants
// every report to go through its ErrorReport, which cannot hide the
// statement); declared here as PostgreSQL's elog.h has them.
extern "C-unwind" {
    fn errstart(elevel: c_int, domain: *const c_char) -> bool;
    fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
    fn errcode(sqlerrcode: c_int) -> c_int;
}

/// One record at `level` (below ERROR), without the statement's text or
/// context lines.
fn emit(level: c_int, message: &str) {
    debug_assert!(level < PgLogLevel::ERROR as c_int);
    let Ok(text) = CString::new(message) else {
        return; // guests' messages are checked for NUL before they get here
    };
    // SAFETY: the elog.h protocol for a report below ERROR: errstart, then
    // the fields, then errfinish, which returns. An ERROR raised inside
    // (out of memory) is turned into a Rust panic by the guard, which our
    // callers catch (host calls run under catch_unwind).
    unsafe {
        pg_sys::ffi::pg_guard_ffi_boundary(|| {
            if errstart(level, std::ptr::null()) {
                errcode(0); // ERRCODE_SUCCESSFUL_COMPLETION
                pg_sys::errmsg_internal(c"%s".as_ptr(), text.as_ptr());
                pg_sys::errhidestmt(true);
                pg_sys::errhidecontext(true);
                errfinish(c"guest_log.rs".as_ptr(), line!() as c_int, c"emit".as_ptr());
            }
        })
    }
}

/// PostgreSQL's level for a guest's `pg.log` level.
pub fn level_of(level: pg_wasm_runtime::LogLevel) -> c_int {
    use pg_wasm_runtime::LogLevel;
    (match level {
        LogLevel::Debug => PgLogLevel::DEBUG1,
        LogLevel::Log => PgLogLevel::LOG,
        LogLevel::Info => PgLogLevel::INFO,
        LogLevel::Notice => PgLogLevel::NOTICE,
        LogLevel::Warning => PgLogLevel::WARNING,
    }) as c_int
}

/// The level of a component's stdout and stderr: the server log only.
pub const SERVER_ONLY: c_int = PgLogLevel::LOG_SERVER_ONLY as c_int;

static mut PREV_EXECUTOR_END: pg_sys::ExecutorEnd_hook_type = None;

/// Installs the hook that reports dropped output at the end of a
/// statement's executor.
pub fn install_hook() {
    // SAFETY: called once from _PG_init, on the backend's only thread,
    // chaining whatever hook was there.
    unsafe {
        PREV_EXECUTOR_END = pg_sys::ExecutorEnd_hook;
        pg_sys::ExecutorEnd_hook = Some(executor_end);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn executor_end(query_desc: *mut pg_sys::QueryDesc) {
    // SAFETY: chains to the previous hook or the standard function with
    // the executor's own argument.
    unsafe {
        match PREV_EXECUTOR_END {
            Some(prev) => prev(query_desc),
            None => pg_sys::standard_ExecutorEnd(query_desc),
        }
    }
    report_dropped();
}
