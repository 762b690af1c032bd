//! Client tests: separate connections to the running cluster (started by
//! `make test`), for what one backend cannot show by itself.
//! The DSN comes from PG_WASM_TEST_DSN (see the Makefile).

#[path = "support.rs"]
mod support;
use support::*;

#[test]
fn replace_is_seen_by_a_connection_with_the_old_code_cached() {
    let mut a = fresh_db("pg_wasm_client_replace");
    a.execute("SELECT wasm.load_wat('calc', $1)", &[&wat_add("add")])
        .unwrap();

    let mut b = connect("pg_wasm_client_replace");
    assert_eq!(call_i32(&mut b, "SELECT calc_f(6, 7)"), 13);
    // b has compiled and cached "calc"; a replaces it.
    a.execute(
        "SELECT wasm.replace('calc', wasm.wat_to_wasm($1))",
        &[&wat_add("mul")],
    )
    .unwrap();
    assert_eq!(
        call_i32(&mut b, "SELECT calc_f(6, 7)"),
        42,
        "next statement runs new code"
    );

    // Inside an open transaction too: the next statement sees the change.
    let mut tx = b.transaction().unwrap();
    assert_eq!(
        tx.query_one("SELECT calc_f(6, 7)", &[])
            .unwrap()
            .get::<_, i32>(0),
        42
    );
    a.execute(
        "SELECT wasm.replace('calc', wasm.wat_to_wasm($1))",
        &[&wat_add("sub")],
    )
    .unwrap();
    assert_eq!(
        tx.query_one("SELECT calc_f(6, 7)", &[])
            .unwrap()
            .get::<_, i32>(0),
        -1
    );
    tx.commit().unwrap();

    // An uncommitted replace is invisible to others, and gone after rollback.
    let mut ta = a.transaction().unwrap();
    ta.execute(
        "SELECT wasm.replace('calc', wasm.wat_to_wasm($1))",
        &[&wat_add("xor")],
    )
    .unwrap();
    assert_eq!(
        ta.query_one("SELECT calc_f(6, 7)", &[])
            .unwrap()
            .get::<_, i32>(0),
        1,
        "the replacing transaction sees its own code"
    );
    assert_eq!(call_i32(&mut b, "SELECT calc_f(6, 7)"), -1, "others do not");
    ta.rollback().unwrap();
    assert_eq!(call_i32(&mut a, "SELECT calc_f(6, 7)"), -1);
    assert_eq!(call_i32(&mut b, "SELECT calc_f(6, 7)"), -1);
}

#[test]
fn unload_and_reload_in_another_session() {
    let mut a = fresh_db("pg_wasm_client_unload");
    a.execute("SELECT wasm.load_wat('m', $1)", &[&wat_add("add")])
        .unwrap();
    let mut b = connect("pg_wasm_client_unload");
    assert_eq!(call_i32(&mut b, "SELECT m_f(1, 1)"), 2);
    a.batch_execute("SELECT wasm.unload('m', cascade => true)")
        .unwrap();
    let err = b.query_one("SELECT m_f(1, 1)", &[]).unwrap_err();
    let msg = err.as_db_error().map(|e| e.message()).unwrap_or_default();
    assert!(
        msg.contains("m_f(integer, integer) does not exist"),
        "{msg}"
    );
    a.execute("SELECT wasm.load_wat('m', $1)", &[&wat_add("mul")])
        .unwrap();
    assert_eq!(call_i32(&mut b, "SELECT m_f(3, 3)"), 9);
}

#[test]
fn a_trap_leaves_the_connection_usable() {
    let mut a = fresh_db("pg_wasm_client_trap");
    a.execute("SELECT wasm.load_wat('m', $1)", &[&wat_add("div_s")])
        .unwrap();
    let err = a.query_one("SELECT m_f(1, 0)", &[]).unwrap_err();
    let db = err.as_db_error().expect("a database error");
    assert_eq!(db.code().code(), "38000");
    assert!(db.message().contains("\"m.f\""), "{}", db.message());
    assert!(db.detail().unwrap_or("").contains("wasm backtrace"));
    assert_eq!(call_i32(&mut a, "SELECT m_f(9, 3)"), 3);
}

/// Modules are catalog rows dumped with the extension's data, functions are
/// ordinary functions: a dump restores into a working database.
#[test]
fn pg_dump_and_restore_keep_modules_and_functions() {
    let mut a = fresh_db("pg_wasm_client_dump");
    a.execute("SELECT wasm.load_wat('calc', $1)", &[&wat_add("mul")])
        .unwrap();
    a.batch_execute(
        "SELECT wasm.configure('calc', '{\"fuel\": 5000}');
         CREATE FUNCTION times(integer, integer) RETURNS integer
           LANGUAGE wasm IMMUTABLE STRICT AS 'calc.f';
         CREATE TABLE facts AS SELECT g, times(g, g) AS sq FROM generate_series(1, 5) g;",
    )
    .unwrap();
    dump_and_restore("pg_wasm_client_dump", "pg_wasm_client_restored");
    let mut r = connect("pg_wasm_client_restored");
    assert_eq!(call_i32(&mut r, "SELECT times(6, 7)"), 42);
    assert_eq!(call_i32(&mut r, "SELECT calc_f(3, 4)"), 12);
    let limits: String = r
        .query_one(
            "SELECT limits::text FROM wasm.modules WHERE name = 'calc'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(limits, r#"{"fuel": 5000}"#);
    let sum: i64 = r
        .query_one("SELECT sum(sq) FROM facts", &[])
        .unwrap()
        .get(0);
    assert_eq!(sum, 55);
}

/// Eight sessions call a function in a loop while a ninth replaces its module
/// twenty times: no error, and every answer comes from one of the versions.
#[test]
fn concurrent_callers_during_replaces() {
    let version = |k: i32| {
        format!(
            r#"(module (func (export "f") (param i32 i32) (result i32)
                 local.get 0 local.get 1 i32.add i32.const {k} i32.add))"#
        )
    };
    let mut admin = fresh_db("pg_wasm_client_concurrent");
    admin
        .execute("SELECT wasm.load_wat('calc', $1)", &[&version(0)])
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = connect("pg_wasm_client_concurrent");
                let mut seen = std::collections::BTreeSet::new();
                let mut calls = 0;
                loop {
                    // Read before calling: a call that starts after the stop
                    // flag must see the last version, committed before it.
                    let stopping = stop.load(std::sync::atomic::Ordering::SeqCst);
                    let v: i32 = c
                        .query_one("SELECT calc_f(1000, 0)", &[])
                        .expect("call during replace")
                        .get(0);
                    seen.insert(v - 1000);
                    calls += 1;
                    if stopping && calls >= 50 {
                        break (seen, v - 1000);
                    }
                }
            })
        })
        .collect();
    for k in 1..=20 {
        admin
            .execute(
                "SELECT wasm.replace('calc', wasm.wat_to_wasm($1))",
                &[&version(k)],
            )
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut all = std::collections::BTreeSet::new();
    for t in callers {
        let (seen, last) = t.join().expect("caller thread");
        assert_eq!(
            last, 20,
            "a call after the last replace runs the last version"
        );
        all.extend(seen);
    }
    assert!(all.iter().all(|k| (0..=20).contains(k)), "{all:?}");
    assert!(all.len() > 2, "callers saw versions change: {all:?}");
}
