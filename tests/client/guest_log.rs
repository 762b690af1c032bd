//! What a guest can write to the server log and to the client is bounded
//! per call and per statement (`pg_wasm.max_log_kb_per_call`, default
//! 64 kB; `pg_wasm.max_log_kb_per_statement`, default 1024 kB), whatever the
//! statement's text: measured in the server log file, counting only the
//! records of the test's own backend.

#[path = "support.rs"]
mod support;
use support::*;

const PER_CALL: usize = 64 << 10;
const PER_STATEMENT: usize = 1024 << 10;

/// `flood(n, len, level)`: `n` times `pg.log(level, <len bytes>)`; the
/// message starts with `marker`.
fn flood_wat(marker: &str) -> String {
    let text: String = format!("{marker}{}", "x".repeat(2000));
    format!(
        r#"(module
  (import "pg" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{text}")
  (func (export "flood") (param $n i32) (param $len i32) (param $level i32) (result i32)
    (local $i i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (call $log (local.get $level) (i32.const 0) (local.get $len))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $i)))"#
    )
}

fn log_path() -> String {
    format!("{}/server.log", cluster_dir())
}

fn log_size() -> usize {
    std::fs::metadata(log_path())
        .map(|m| m.len() as usize)
        .unwrap_or(0)
}

/// Bytes of the records backend `pid` wrote to the log after `from`
/// (the default prefix `%m [%p] ` names the process; a record's
/// continuation lines start with a tab).
fn bytes_of(pid: i32, from: usize) -> usize {
    // Records are written whole by the backend; wait for the collector-less
    // stderr log to settle.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = std::fs::read(log_path()).unwrap();
    let tag = format!("[{pid}] ");
    let mut ours = false;
    let mut total = 0;
    for line in log[from.min(log.len())..].split_inclusive(|&b| b == b'\n') {
        if !line.starts_with(b"\t") {
            ours = String::from_utf8_lossy(line).contains(&tag);
        }
        if ours {
            total += line.len();
        }
    }
    total
}

fn setup(db: &str) -> (Client, i32, Notices) {
    let marker = "flood-marker ";
    fresh_db(db)
        .batch_execute(&format!(
            "CREATE FUNCTION flood(int, int, int) RETURNS int LANGUAGE wasm STRICT AS $w${}$w$",
            flood_wat(marker)
        ))
        .unwrap();
    let (mut c, notices) = connect_collecting_notices(db);
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    (c, pid, notices)
}

#[test]
fn one_call_writes_at_most_its_budget_whatever_the_statement_text() {
    let (mut c, pid, notices) = setup("pg_wasm_client_log_call");
    // 20 000 messages of 1 000 bytes at LOG, in a statement with a 32 kB
    // comment (PostgreSQL used to append it to every LOG record): 22 MB
    // before the budget.
    let comment = "c".repeat(32 << 10);
    let before = log_size();
    let n: i32 = c
        .query_one(
            &format!("SELECT flood(20000, 1000, 1) /* {comment} */"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 20000, "the guest ran to its end");
    let written = bytes_of(pid, before);
    eprintln!("one call of 20 000 x 1 000 bytes at LOG: {written} bytes in the log");
    assert!(written <= PER_CALL, "{written} bytes > {PER_CALL}");
    assert!(written > PER_CALL / 2, "the budget was used: {written}");
    let seen = notices.lock().unwrap();
    let dropped: Vec<_> = seen.iter().filter(|n| n.contains("dropped")).collect();
    assert_eq!(dropped.len(), 1, "one notice of dropped output: {seen:?}");
    assert!(
        dropped[0].contains("bytes of guest output"),
        "{:?}",
        dropped[0]
    );
    drop(seen);

    // Empty messages are not free: each costs its record.
    let before = log_size();
    c.query_one("SELECT flood(100000, 0, 1)", &[]).unwrap();
    let written = bytes_of(pid, before);
    eprintln!("one call of 100 000 empty messages at LOG: {written} bytes in the log");
    assert!(written <= PER_CALL, "{written} bytes > {PER_CALL}");
}

#[test]
fn a_statement_writes_at_most_its_budget_over_all_calls() {
    let (mut c, pid, notices) = setup("pg_wasm_client_log_statement");
    // 200 calls, each trying 100 x 1 000 bytes (about 20 MB).
    let before = log_size();
    c.query_one(
        "SELECT sum(flood(100, 1000, 1)) FROM generate_series(1, 200)",
        &[],
    )
    .unwrap();
    let written = bytes_of(pid, before);
    eprintln!("one statement of 200 calls x 100 x 1 000 bytes: {written} bytes in the log");
    assert!(
        written <= PER_STATEMENT,
        "{written} bytes > {PER_STATEMENT}"
    );
    assert!(
        written > PER_STATEMENT / 2,
        "the budget was used: {written}"
    );
    // The next statement has a budget of its own.
    let before = log_size();
    c.query_one("SELECT flood(10, 100, 1)", &[]).unwrap();
    assert!(bytes_of(pid, before) > 10 * 100);
    let seen = notices.lock().unwrap();
    assert_eq!(
        seen.iter().filter(|n| n.contains("dropped")).count(),
        1,
        "{seen:?}"
    );
}

#[test]
fn client_facing_levels_are_bounded_too() {
    let (mut c, _pid, notices) = setup("pg_wasm_client_log_notice");
    c.query_one("SELECT flood(100000, 10, 3)", &[]).unwrap();
    let seen = notices.lock().unwrap();
    let from_guest = seen.iter().filter(|n| n.starts_with("flood-")).count();
    eprintln!("100 000 NOTICEs asked for: {from_guest} reached the client");
    assert!(from_guest > 0);
    assert!(
        from_guest <= PER_CALL / 128,
        "{from_guest} notices reached the client"
    );
}

#[test]
fn a_flooding_guest_still_stops_at_statement_timeout() {
    let (mut c, _pid, _) = setup("pg_wasm_client_log_cancel");
    c.batch_execute("SET statement_timeout = '300ms'; SET pg_wasm.fuel_limit = 0")
        .unwrap();
    let t = std::time::Instant::now();
    let err = c
        .query_one("SELECT flood(2000000000, 1000, 1)", &[])
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&postgres::error::SqlState::QUERY_CANCELED),
        "{err}"
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_components_output_is_one_record_per_call_within_the_budget() {
    let db = "pg_wasm_client_log_component";
    let dir = std::env::var("PG_WASM_GUESTS").expect("PG_WASM_GUESTS (make test-client sets it)");
    fresh_db(db)
        .batch_execute(&format!(
            "SELECT count(*) FROM wasm.load('pricing', pg_read_binary_file('{dir}/py_pricing.wasm'))"
        ))
        .unwrap();
    let mut c = connect(db);
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);

    // Every call's output is logged (the instance's second and third calls
    // too).
    let tag = format!("component-marker-{}", std::process::id());
    let before = log_size();
    c.query_one(
        "SELECT count(pricing_classify($1 || i)) FROM generate_series(1, 3) i",
        &[&tag],
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = std::fs::read(log_path()).unwrap();
    let text = String::from_utf8_lossy(&log[before..]);
    for i in 1..=3 {
        assert!(
            text.contains(&format!("{tag}{i}")),
            "call {i}'s output is missing from the log"
        );
    }

    // 5 000 newlines printed (one record per line before, each followed by
    // the statement's 4 kB text: 21 MB).
    let comment = "c".repeat(4 << 10);
    let before = log_size();
    c.query_one(
        &format!("SELECT length(pricing_classify(repeat(E'\\n', 5000))) /* {comment} */"),
        &[],
    )
    .unwrap();
    let written = bytes_of(pid, before);
    eprintln!("a component printing 5 000 lines: {written} bytes in the log");
    assert!(written <= PER_CALL, "{written} bytes > {PER_CALL}");

    // Output past the pipe's 64 kB is dropped, not a failure of the call.
    let before = log_size();
    let label: String = c
        .query_one("SELECT pricing_classify(repeat('y', 300000))", &[])
        .unwrap()
        .get(0);
    assert_eq!(label, "other");
    let written = bytes_of(pid, before);
    eprintln!("a component printing 300 kB: {written} bytes in the log");
    assert!(written <= PER_CALL, "{written} bytes > {PER_CALL}");
}
