//! Every SQL statement pg_wasm runs for itself (catalog reads and writes,
//! CREATE/DROP FUNCTION, transition tables) runs under a pinned
//! `search_path = pg_catalog, pg_temp` and names every type, function and
//! operator with its schema. A caller's search_path can otherwise put a
//! temporary type, or an operator in a schema of theirs, in front of
//! pg_catalog, and that code would run inside our statement — as the
//! catalog's owner when the statement runs with raised rights
//! (docs/security.md, "The search_path rule").
//!
//! The one exception is the guest's own SQL (`pg.query`): it runs as the
//! calling role under the caller's search_path, like the body of a SECURITY
//! INVOKER function.

use pgrx::pg_sys;

/// `pg_temp` last: temporary types and tables are found only after
/// pg_catalog's (functions and operators are never looked up in pg_temp).
const PINNED: &std::ffi::CStr = c"pg_catalog, pg_temp";

/// Runs `f` with the pinned search_path, restored on return and on
/// unwinding, as PostgreSQL does for a function declared with
/// `SET search_path` (a GUC nest level saved and popped).
pub fn pinned<T>(f: impl FnOnce() -> T) -> T {
    struct Pop(i32);
    impl Drop for Pop {
        fn drop(&mut self) {
            // SAFETY: pops exactly the nest level pushed below. On an ERROR
            // PostgreSQL's (sub)transaction abort would pop it too; popping
            // it here first is what a normal return does.
            unsafe { pg_sys::AtEOXact_GUC(true, self.0) }
        }
    }
    // SAFETY: a GUC nest level with GUC_ACTION_SAVE is what fmgr does for
    // `SET` clauses; it is allowed in parallel mode (SAVE is exempt) and in
    // security-restricted operations (search_path is not restricted). An
    // invalid value cannot happen: the string is constant.
    let level = unsafe {
        let level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            PINNED.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        level
    };
    let _pop = Pop(level);
    f()
}
