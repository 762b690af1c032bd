//! wasm.stats for the whole cluster: the test cluster preloads pg_wasm
//! (scripts/cluster.sh), so calls made by other connections and by
//! parallel workers are counted, and a third connection sees their sum.

#[path = "support.rs"]
mod support;
use support::*;

fn stats(c: &mut Client, function: &str) -> (i64, i64, Option<String>, String) {
    let row = c
        .query_one(
            "SELECT calls, traps, last_error, scope FROM wasm.stats
              WHERE function = $1::text::regprocedure",
            &[&function],
        )
        .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

#[test]
fn other_connections_and_parallel_workers_are_counted() {
    let db = "pg_wasm_client_stats";
    let mut admin = fresh_db(db);
    admin
        .batch_execute(
            "SELECT wasm.load_wat('st', '(module
               (func (export \"f\") (param i32) (result i32) local.get 0 i32.const 1 i32.add)
               (func (export \"d\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s))',
               '{\"functions\": {\"f\": {\"volatility\": \"immutable\", \"parallel\": \"safe\"}, \"d\": {}}}');
             CREATE TABLE t AS SELECT i FROM generate_series(1, 200000) i;",
        )
        .unwrap();
    admin.batch_execute("VACUUM ANALYZE t").unwrap();
    admin.batch_execute("SELECT wasm.reset_stats()").unwrap();

    // Two connections, one statement each.
    let mut a = connect(db);
    let mut b = connect(db);
    a.query_one(
        "SELECT sum(st_f(i))::int8 FROM generate_series(1, 1000) i",
        &[],
    )
    .unwrap();
    b.query_one(
        "SELECT sum(st_f(i))::int8 FROM generate_series(1, 2000) i",
        &[],
    )
    .unwrap();
    // A parallel query: the leader stays out, so every call is a worker's.
    b.batch_execute(
        "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0;
         SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
         SET parallel_leader_participation = off",
    )
    .unwrap();
    let plan: Vec<String> = b
        .query(
            "EXPLAIN (ANALYZE, COSTS OFF) SELECT sum(st_f(i))::int8 FROM t",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter().any(|l| l.contains("Workers Launched: 2")),
        "{plan:?}"
    );
    // A failing call in a third connection keeps its message.
    let mut e = connect(db);
    let err = e.query_one("SELECT st_d(1, 0)", &[]).unwrap_err();
    assert_eq!(err.code().unwrap().code(), "38000", "{err}");
    drop(e);

    let mut third = connect(db);
    let (calls, traps, _, scope) = stats(&mut third, "st_f(int4)");
    assert_eq!(scope, "cluster");
    assert_eq!(traps, 0);
    assert_eq!(calls, 1000 + 2000 + 200_000, "the workers' calls included");
    let (calls, traps, last_error, _) = stats(&mut third, "st_d(int4,int4)");
    assert_eq!((calls, traps), (1, 1), "a trapping call counts as a call");
    let msg = last_error.expect("a last error");
    assert!(
        msg.contains("\"st.d\"") && msg.contains("divide by zero"),
        "{msg}"
    );
    // Connections still open add their next statements too.
    a.query_one("SELECT st_f(1)", &[]).unwrap();
    assert_eq!(stats(&mut third, "st_f(int4)").0, 203_001);
    let mean: f64 = third
        .query_one(
            "SELECT coalesce(mean_time_ms, 0) FROM wasm.stats WHERE function = 'st_f(int4)'::regprocedure",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(mean >= 0.0);

    // Resetting is the superuser's (or a role granted it) and clears the
    // cluster's counters.
    third
        .batch_execute("DROP ROLE IF EXISTS st_user; CREATE ROLE st_user")
        .unwrap();
    third.batch_execute("SET ROLE st_user").unwrap();
    let err = third
        .query_one("SELECT wasm.reset_stats()", &[])
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42501", "{err}");
    third.batch_execute("RESET ROLE").unwrap();
    third
        .batch_execute("GRANT EXECUTE ON FUNCTION wasm.reset_stats() TO st_user; SET ROLE st_user")
        .unwrap();
    third.query_one("SELECT wasm.reset_stats()", &[]).unwrap();
    third.batch_execute("RESET ROLE").unwrap();
    let left: i64 = a
        .query_one("SELECT count(*) FROM wasm.stats", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    drop((a, b, third));
    admin
        .batch_execute("DROP OWNED BY st_user; DROP ROLE st_user")
        .unwrap();
}
