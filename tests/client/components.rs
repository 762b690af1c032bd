//! Components (SPEC §10) from separate connections: compiled once by
//! `wasm.load`, mapped by every other backend and by parallel workers, a
//! damaged artifact rebuilt; the JavaScript guest in a new connection.
//! Proved by each backend's `wasm.cache_stats()` counters, never by timing.

#[path = "support.rs"]
mod support;
use support::*;

/// (compiled, mapped, stored, rejected) of this backend.
fn stats(c: &mut Client) -> (i64, i64, i64, i64) {
    let r = c
        .query_one("SELECT * FROM wasm.cache_stats()", &[])
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

fn calc_wat() -> String {
    let dir = std::env::var("PG_WASM_GUESTS").expect("PG_WASM_GUESTS (make test-client sets it)");
    std::fs::read_to_string(format!("{dir}/calc_component.wat")).unwrap()
}

/// The stored artifact of module `name`: the shared object and this
/// database's link to it.
fn files_of(c: &mut Client, name: &str) -> [std::path::PathBuf; 2] {
    let data: String = c.query_one("SHOW data_directory", &[]).unwrap().get(0);
    let key: String = c
        .query_one(
            "SELECT key FROM wasm.cache WHERE $1 = ANY(modules)",
            &[&name],
        )
        .unwrap()
        .get(0);
    let db: i64 = c
        .query_one(
            "SELECT oid::int8 FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .unwrap()
        .get(0);
    let root = std::path::PathBuf::from(data).join("pg_wasm");
    [
        root.join("objects").join(format!("{key}.cwasm")),
        root.join("db")
            .join(db.to_string())
            .join(format!("{key}.cwasm")),
    ]
}

#[test]
fn other_connections_and_parallel_workers_map_a_component() {
    let db = "pg_wasm_client_components";
    let mut a = fresh_db(db);
    a.execute("SELECT wasm.load_wat('calc', $1)", &[&calc_wat()])
        .unwrap();
    // The load compiles (not counted: no backend cache involved) unless an
    // artifact of the same code exists already (another test database
    // loaded it), which it maps; either way it stores this database's one.
    let (compiled, mapped, stored, rejected) = stats(&mut a);
    assert!(mapped <= 1, "mapped at most once, got {mapped}");
    assert_eq!((compiled, stored, rejected), (0, 1, 0), "load stored once");

    let mut b = connect(db);
    assert_eq!(call_i32(&mut b, "SELECT calc_add(40, 2)"), 42);
    assert_eq!(stats(&mut b), (0, 1, 0, 0), "mapped, not compiled");
    let upper: String = b
        .query_one("SELECT calc_upper('mapped')", &[])
        .unwrap()
        .get(0);
    assert_eq!(upper, "MAPPED");

    // Parallel workers map it too and give the serial answer.
    b.batch_execute("CREATE TABLE t AS SELECT i FROM generate_series(1, 200000) i")
        .unwrap();
    b.batch_execute("VACUUM ANALYZE t").unwrap();
    b.batch_execute("SET max_parallel_workers_per_gather = 0")
        .unwrap();
    let serial: i64 = b
        .query_one("SELECT sum(calc_add(i, 1))::int8 FROM t", &[])
        .unwrap()
        .get(0);
    b.batch_execute(
        "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0;
         SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
         SET parallel_leader_participation = off",
    )
    .unwrap();
    let plan: String = b
        .query(
            "EXPLAIN (ANALYZE, COSTS OFF) SELECT sum(calc_add(i, 1))::int8 FROM t",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("Workers Launched: 2"), "{plan}");
    let parallel: i64 = b
        .query_one("SELECT sum(calc_add(i, 1))::int8 FROM t", &[])
        .unwrap()
        .get(0);
    assert_eq!(parallel, serial);
    assert_eq!(serial, 200_000 * 200_001 / 2 + 200_000);
    assert_eq!(stats(&mut b).0, 0, "the leader compiled nothing");

    // A damaged artifact is ignored, rebuilt and stored again.
    for file in files_of(&mut a, "calc") {
        // By rename, as a torn copy would leave it: files are never
        // edited in place.
        let tmp = file.with_extension("damaged");
        std::fs::write(&tmp, b"not a compiled component").unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    }
    let mut c = connect(db);
    assert_eq!(call_i32(&mut c, "SELECT calc_add(1, 2)"), 3);
    assert_eq!(stats(&mut c), (1, 0, 1, 1), "rejected, compiled, stored");
    let mut d = connect(db);
    assert_eq!(call_i32(&mut d, "SELECT calc_add(2, 2)"), 4);
    assert_eq!(stats(&mut d), (0, 1, 0, 0), "the rebuilt one is mapped");
}

#[test]
fn a_javascript_component_runs_in_a_new_connection_without_compiling() {
    let db = "pg_wasm_client_components_js";
    let mut a = fresh_db(db);
    let dir = std::env::var("PG_WASM_GUESTS").unwrap();
    a.execute(
        "SELECT count(*) FROM wasm.load('tenant', pg_read_binary_file($1))",
        &[&format!("{dir}/js_tenant.wasm")],
    )
    .unwrap();
    let mut b = connect(db);
    let slug: String = b
        .query_one("SELECT tenant_slugify('New Connection, Même Code')", &[])
        .unwrap()
        .get(0);
    assert_eq!(slug, "new-connection-meme-code");
    assert_eq!(stats(&mut b), (0, 1, 0, 0), "mapped, not compiled");
}

/// What a component writes to stdout goes to the server log, never to the
/// client, even one that asks for every message (the Python guest prints
/// in `classify`).
#[test]
fn a_components_stdout_goes_to_the_server_log_only() {
    let db = "pg_wasm_client_component_output";
    let dir = std::env::var("PG_WASM_GUESTS").expect("PG_WASM_GUESTS (make test-client sets it)");
    fresh_db(db)
        .batch_execute(&format!(
            "SELECT count(*) FROM wasm.load('pricing', pg_read_binary_file('{dir}/py_pricing.wasm'))"
        ))
        .unwrap();
    let (mut c, seen) = connect_collecting_notices(db);
    c.batch_execute("SET client_min_messages = debug5").unwrap();
    let marker = format!("stdout marker {}", std::process::id());
    let label: String = c
        .query_one("SELECT pricing_classify($1)", &[&marker])
        .unwrap()
        .get(0);
    assert_eq!(label, "other");
    // One record per stream and call: a header line naming the function,
    // then what the guest printed (PostgreSQL indents continuation lines).
    let line = format!(
        "pg_wasm: pricing.classify stdout:\n\tclassify: {} characters: {marker}",
        marker.len()
    );
    let log = format!("{}/server.log", cluster_dir());
    wait_until("the line in the server log", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(&line)
    });
    let notices = seen.lock().unwrap();
    assert!(
        !notices.iter().any(|n| n.contains(&marker)),
        "the client got the guest's output: {notices:?}"
    );
}
