//! A guest spinning with unlimited fuel is stopped by every way PostgreSQL
//! has of stopping a query, within a second, and the server stays up.

#[path = "support.rs"]
mod support;
use postgres::error::SqlState;
use std::time::{Duration, Instant};
use support::*;

const SPIN: &str = r#"(module (func (export "forever") (loop br 0)))"#;

/// A connection that has loaded the spinning guest, with fuel unlimited.
fn spinner(db: &str) -> (Client, i32) {
    let mut c = fresh_db(db);
    c.execute("SELECT wasm.load_wat('spin', $1)", &[&SPIN])
        .unwrap();
    c.batch_execute("SET pg_wasm.fuel_limit = 0").unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    (c, pid)
}

/// Starts `SELECT spin_forever()` on another thread, waits until the
/// backend is running it, runs `stop`, and returns the error the spinning
/// query ended with, how long after `stop` it ended, and the connection.
fn spin_then(db: &str, stop: impl FnOnce(i32, &Client)) -> (postgres::Error, Duration, Client) {
    let (mut c, pid) = spinner(db);
    let token = c.cancel_token();
    let handle = std::thread::spawn(move || {
        let r = c.batch_execute("SELECT spin_forever()");
        (r, Instant::now(), c)
    });
    let mut watcher = connect(db);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let active: bool = watcher
            .query_one(
                "SELECT state = 'active' AND query LIKE '%spin_forever%' FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .unwrap()
            .get(0);
        if active {
            break;
        }
        assert!(Instant::now() < deadline, "spin_forever never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Give the guest time to be deep in its loop.
    std::thread::sleep(Duration::from_millis(300));
    let stopped_at = Instant::now();
    let _ = token;
    stop(pid, &watcher);
    let (r, ended_at, c) = handle.join().unwrap();
    let err = r.expect_err("spin_forever returned");
    (err, ended_at.duration_since(stopped_at), c)
}

fn pid_call(sql: &str, pid: i32, db: &str) {
    connect(db).query_one(sql, &[&pid]).unwrap();
}

#[test]
fn pg_cancel_backend_stops_a_spinning_guest() {
    let db = "pg_wasm_client_cancel";
    let (err, took, mut c) = spin_then(db, |pid, _| {
        pid_call("SELECT pg_cancel_backend($1)", pid, db)
    });
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    assert!(
        format!("{err:?}").contains("canceling statement due to user request"),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
    eprintln!("pg_cancel_backend: stopped after {took:?}");
    assert_eq!(
        call_i32(&mut c, "SELECT 41 + 1"),
        42,
        "connection still usable"
    );
}

#[test]
fn protocol_cancel_request_stops_a_spinning_guest() {
    // What psql sends on Ctrl-C.
    let db = "pg_wasm_client_ctrl_c";
    let (mut c, pid) = spinner(db);
    let token = c.cancel_token();
    let handle = std::thread::spawn(move || {
        let r = c.batch_execute("SELECT spin_forever()");
        (r, Instant::now(), c)
    });
    std::thread::sleep(Duration::from_millis(700));
    let active: bool = connect(db)
        .query_one(
            "SELECT state = 'active' FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .unwrap()
        .get(0);
    assert!(active, "spin_forever should be running");
    let stopped_at = Instant::now();
    token.cancel_query(NoTls).unwrap();
    let (r, ended_at, mut c) = handle.join().unwrap();
    let err = r.expect_err("spin_forever returned");
    let took = ended_at.duration_since(stopped_at);
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    eprintln!("cancel request: stopped after {took:?}");
    assert_eq!(call_i32(&mut c, "SELECT 1"), 1);
}

#[test]
fn statement_timeout_stops_a_spinning_guest() {
    let (mut c, _) = spinner("pg_wasm_client_stmt_timeout");
    c.batch_execute("SET statement_timeout = '250ms'").unwrap();
    let started = Instant::now();
    let err = c.batch_execute("SELECT spin_forever()").unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    assert!(format!("{err:?}").contains("statement timeout"), "{err:?}");
    assert!(took < Duration::from_millis(1250), "took {took:?}");
    eprintln!("statement_timeout 250 ms: stopped after {took:?}");
    c.batch_execute("RESET statement_timeout").unwrap();
    assert_eq!(call_i32(&mut c, "SELECT 1"), 1);
}

#[test]
fn pg_terminate_backend_ends_only_that_session() {
    let db = "pg_wasm_client_terminate";
    let (err, took, mut c) = spin_then(db, |pid, _| {
        pid_call("SELECT pg_terminate_backend($1)", pid, db)
    });
    assert!(
        err.code() == Some(&SqlState::ADMIN_SHUTDOWN) || err.is_closed() || err.code().is_none(),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(c.batch_execute("SELECT 1").is_err(), "the session is gone");
    // The server did not restart: other sessions, and new ones, work.
    let mut other = connect(db);
    assert_eq!(call_i32(&mut other, "SELECT 7"), 7);
}
