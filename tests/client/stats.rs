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

/// The cluster table is shared fairly: the functions of one owner take at
/// most a quarter of a database's share (256 entries), so a role that makes
/// and calls many functions cannot keep another role's new function out,
/// its own extra functions show `scope = backend` (incomplete), and the
/// entries of dropped functions are given back.
#[test]
fn one_role_cannot_take_every_slot_and_dropped_functions_give_theirs_back() {
    let db = "pg_wasm_client_stats_share";
    let mut admin = fresh_db(db);
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS st_hog; DROP ROLE IF EXISTS st_fair;
             CREATE ROLE st_hog; CREATE ROLE st_fair;
             GRANT CREATE ON SCHEMA public TO st_hog, st_fair;
             GRANT EXECUTE ON FUNCTION wasm.load_wat(text, text, jsonb) TO st_hog, st_fair;
             SET ROLE st_hog;
             SELECT wasm.load_wat('hog', '(module (func (export \"f\") (param i32) (result i32) local.get 0))',
                                  '{\"functions\": \"none\"}');
             RESET ROLE",
        )
        .unwrap();
    let hogs = 300;
    let make = |from: usize, to: usize| -> String {
        (from..to)
            .map(|i| format!("CREATE FUNCTION hog_{i}(int) RETURNS int LANGUAGE wasm AS 'hog.f';"))
            .collect()
    };
    let call_all = |from: usize, to: usize| -> String {
        let calls: Vec<String> = (from..to).map(|i| format!("hog_{i}(1)")).collect();
        format!("SELECT {}", calls.join(" + "))
    };
    let mut hog = connect(db);
    hog.batch_execute(&format!("SET ROLE st_hog; {}", make(0, hogs)))
        .unwrap();
    hog.batch_execute(&call_all(0, hogs)).unwrap();
    let scopes = |c: &mut Client, like: &str| -> Vec<(String, i64)> {
        c.query(
            "SELECT scope, count(*) FROM wasm.stats WHERE function::text LIKE $1 GROUP BY 1 ORDER BY 1",
            &[&like],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    // The hog's own connection: 256 in the cluster table, the rest its own.
    assert_eq!(
        scopes(&mut hog, "hog\\_%"),
        [("backend".to_string(), 44), ("cluster".to_string(), 256)]
    );
    // Another role's new function is still counted for the cluster.
    let mut fair = connect(db);
    fair.batch_execute(
        "SET ROLE st_fair;
         SELECT wasm.load_wat('fair', '(module (func (export \"f\") (param i32) (result i32) local.get 0))');
         SELECT fair_f(7)",
    )
    .unwrap();
    let mut other = connect(db);
    let (calls, _, _, scope) = stats(&mut other, "fair_f(int4)");
    assert_eq!((calls, scope.as_str()), (1, "cluster"));
    // The hog drops its functions; reading wasm.stats gives their entries
    // back, and new functions of the hog are counted for the cluster again.
    hog.batch_execute(&format!(
        "RESET ROLE; DROP FUNCTION {}",
        (0..hogs)
            .map(|i| format!("hog_{i}(int)"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .unwrap();
    drop(hog);
    assert_eq!(scopes(&mut other, "hog\\_%"), []);
    let mut hog = connect(db);
    hog.batch_execute(&format!("SET ROLE st_hog; {}", make(1000, 1010)))
        .unwrap();
    hog.batch_execute(&call_all(1000, 1010)).unwrap();
    drop(hog);
    assert_eq!(scopes(&mut other, "hog\\_%"), [("cluster".to_string(), 10)]);
    drop((fair, other));
    admin
        .batch_execute(
            "SELECT wasm.unload('hog', true); SELECT wasm.unload('fair', true);
             DROP OWNED BY st_hog, st_fair; DROP ROLE st_hog; DROP ROLE st_fair",
        )
        .unwrap();
}
