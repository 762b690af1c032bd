//! Citus (SPEC §13, docs/scale-out.md): module changes on the coordinator
//! reach every worker in the same distributed transaction, all or none;
//! functions run next to the shards. Needs the three-node cluster of
//! scripts/citus-cluster.sh, so the tests are `#[ignore]`d in the plain
//! client tier and run by `make test-citus` (`-- --ignored`).

#[path = "support.rs"]
mod support;
use support::*;

const COORD: u16 = 28840;
const WORKERS: [u16; 2] = [28841, 28842];

fn node(port: u16, db: &str) -> Client {
    Client::connect(
        &format!("host=localhost port={port} user=postgres dbname={db}"),
        NoTls,
    )
    .unwrap_or_else(|e| panic!("node on port {port} (make test-citus starts it): {e}"))
}

/// A database with Citus and pg_wasm on all three nodes, `added` workers
/// in the cluster.
fn citus_db(db: &str, added: &[u16]) -> Client {
    for port in std::iter::once(COORD).chain(WORKERS) {
        let mut admin = node(port, "postgres");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        if port != COORD {
            node(port, db)
                .batch_execute("CREATE EXTENSION citus")
                .unwrap();
        }
    }
    let mut c = node(COORD, db);
    c.batch_execute(&format!(
        "SET client_min_messages = warning;
         CREATE EXTENSION citus;
         SELECT citus_set_coordinator_host('localhost', {COORD});"
    ))
    .unwrap();
    for port in added {
        c.execute(
            "SELECT citus_add_node('localhost', $1)",
            &[&i32::from(*port)],
        )
        .unwrap();
    }
    c.batch_execute("SET client_min_messages = warning; CREATE EXTENSION pg_wasm")
        .unwrap();
    c
}

/// What each worker answers to `sql` (one value, as text).
fn on_workers(db: &str, sql: &str) -> Vec<Option<String>> {
    WORKERS
        .iter()
        .map(|&port| {
            node(port, db)
                .query_one(&format!("SELECT ({sql})::text"), &[])
                .unwrap()
                .get(0)
        })
        .collect()
}

fn wat(v: i32) -> String {
    format!(
        r#"(module (func (export "f") (param i32) (result i32) local.get 0 i32.const {v} i32.add))"#
    )
}

#[test]
#[ignore = "needs the Citus cluster: make test-citus"]
fn module_changes_reach_every_node_and_functions_run_next_to_shards() {
    let db = "pg_wasm_citus";
    let mut c = citus_db(db, &WORKERS);
    c.execute("SELECT wasm.load_wat('m', $1)", &[&wat(1)])
        .unwrap();
    assert_eq!(
        on_workers(db, "SELECT m_f(41)"),
        [Some("42".into()), Some("42".into())],
        "the module and its function on both workers"
    );

    c.execute("SELECT wasm.replace('m', wasm.wat_to_wasm($1))", &[&wat(2)])
        .unwrap();
    assert_eq!(
        on_workers(db, "SELECT m_f(40)"),
        [Some("42".into()), Some("42".into())]
    );
    c.batch_execute("SELECT wasm.configure('m', '{\"fuel\": 5000}')")
        .unwrap();
    assert_eq!(
        on_workers(
            db,
            "SELECT limits->>'fuel' FROM wasm.modules WHERE name = 'm'"
        ),
        [Some("5000".into()), Some("5000".into())]
    );

    // Pushed down: the function runs in the worker tasks, next to the shards.
    c.batch_execute(
        "CREATE TABLE dist (x int);
         SELECT create_distributed_table('dist', 'x');
         INSERT INTO dist SELECT g FROM generate_series(1, 100000) g;",
    )
    .unwrap();
    let sum: i64 = c
        .query_one("SELECT sum(m_f(x))::int8 FROM dist", &[])
        .unwrap()
        .get(0);
    assert_eq!(sum, (1..=100_000i64).map(|x| x + 2).sum::<i64>());
    let plan: Vec<String> = c
        .query(
            "EXPLAIN (VERBOSE, COSTS OFF) SELECT sum(m_f(x)) FROM dist",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter()
            .any(|l| l.contains("Query: SELECT sum(public.m_f(x))")),
        "m_f inside the worker task:\n{}",
        plan.join("\n")
    );

    // All or none: a module that already exists on one worker makes the
    // load fail there, and so everywhere. (Loaded there alone, without
    // functions: a worker refuses function DDL of its own.)
    node(WORKERS[1], db)
        .execute(
            "SELECT wasm.load_wat('clash', $1, '{\"functions\": \"none\"}')",
            &[&wat(7)],
        )
        .unwrap();
    let err = c
        .execute("SELECT wasm.load_wat('clash', $1)", &[&wat(9)])
        .unwrap_err();
    let e = err.as_db_error().expect("a database error");
    assert_eq!(e.code().code(), "42710", "{}", e.message());
    let on_coord: i64 = c
        .query_one(
            "SELECT count(*) FROM wasm.modules WHERE name = 'clash'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(on_coord, 0, "nothing on the coordinator");
    assert_eq!(
        on_workers(db, "SELECT count(*) FROM wasm.modules WHERE name = 'clash'"),
        [Some("0".into()), Some("1".into())],
        "nothing new on the first worker; the second keeps its own"
    );

    // A worker that is down: the change fails naming it, and nothing
    // changes on the nodes that are up.
    let w2 = "/tmp/pg_wasm_citus/w2";
    as_postgres("pg_ctl", &["-D", w2, "-m", "fast", "-w", "stop"]);
    let err = c
        .execute("SELECT wasm.load_wat('down', $1)", &[&wat(5)])
        .unwrap_err();
    as_postgres(
        "pg_ctl",
        &["-D", w2, "-l", "/tmp/pg_wasm_citus/w2.log", "-w", "start"],
    );
    let msg = err
        .as_db_error()
        .expect("a database error")
        .message()
        .to_string();
    assert!(msg.contains("28842"), "{msg}");
    let on_coord: i64 = c
        .query_one("SELECT count(*) FROM wasm.modules WHERE name = 'down'", &[])
        .unwrap()
        .get(0);
    assert_eq!(on_coord, 0);
    assert_eq!(
        on_workers(db, "SELECT count(*) FROM wasm.modules WHERE name = 'down'"),
        [Some("0".into()), Some("0".into())]
    );

    // Unload with cascade: module and functions gone everywhere.
    c.batch_execute("DROP TABLE dist; SELECT wasm.unload('m', true)")
        .unwrap();
    assert_eq!(
        on_workers(db, "SELECT count(*) FROM wasm.modules WHERE name = 'm'"),
        [Some("0".into()), Some("0".into())]
    );
    assert_eq!(
        on_workers(db, "SELECT count(*) FROM pg_proc WHERE proname = 'm_f'"),
        [Some("0".into()), Some("0".into())]
    );
}

/// A worker added after the modules were loaded gets the functions from
/// Citus but not the modules. It catches up from the op log the first time
/// one of its functions misses its module — here in the task backends of a
/// distributed query, which miss at once — with the last code of each
/// module, its settings, and nothing of an unloaded one.
/// `wasm.citus_sync()` on the coordinator does the same eagerly, on every
/// worker (idempotent: nothing left to do here).
#[test]
#[ignore = "needs the Citus cluster: make test-citus"]
fn a_worker_added_later_catches_up_from_the_op_log() {
    let db = "pg_wasm_citus_added";
    let mut c = citus_db(db, &WORKERS[..1]);
    c.batch_execute(&format!(
        "SELECT wasm.load_wat('one', '{}');
         SELECT wasm.load_wat('two', '{}');
         SELECT wasm.replace('two', wasm.wat_to_wasm('{}'));
         SELECT wasm.configure('two', '{{\"fuel\": 4242}}');
         SELECT wasm.load_wat('gone', '{}');
         SELECT wasm.unload('gone', true);",
        wat(1),
        wat(2),
        wat(20),
        wat(3)
    ))
    .unwrap();
    c.execute(
        "SELECT citus_add_node('localhost', $1)",
        &[&i32::from(WORKERS[1])],
    )
    .unwrap();
    let mut late = node(WORKERS[1], db);
    let count = |n: &mut Client| -> i64 {
        n.query_one("SELECT count(*) FROM wasm.modules", &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(
        count(&mut late),
        0,
        "Citus alone gives the new worker no module"
    );

    // Shards on both workers: the new worker's task backends run two_f
    // before it has the module.
    c.batch_execute(
        "CREATE TABLE d (x int);
         SELECT create_distributed_table('d', 'x', shard_count => 8);
         INSERT INTO d SELECT g FROM generate_series(1, 1000) g;",
    )
    .unwrap();
    let shards: i64 = c
        .query_one(
            "SELECT count(*) FROM citus_shards WHERE table_name = 'd'::regclass AND nodeport = $1",
            &[&i32::from(WORKERS[1])],
        )
        .unwrap()
        .get(0);
    assert!(shards > 0, "the new worker holds shards of d");
    let sum: i64 = c
        .query_one("SELECT sum(two_f(x)) FROM d", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        sum,
        500_500 + 20 * 1000,
        "the replaced code, on every shard"
    );
    assert_eq!(count(&mut late), 2, "one and two, not the unloaded gone");
    assert_eq!(call_i32(&mut late, "SELECT one_f(1)"), 2);
    let fuel: String = late
        .query_one(
            "SELECT limits->>'fuel' FROM wasm.modules WHERE name = 'two'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(fuel, "4242");
    let missing = late.query_one("SELECT gone_f(1)", &[]);
    assert!(missing.is_err(), "gone's function was dropped with it");

    let again: i64 = c.query_one("SELECT wasm.citus_sync()", &[]).unwrap().get(0);
    assert_eq!(again, 0, "nothing left for citus_sync");
}

/// `wasm.citus_sync()` gives a new worker every module at once, before
/// any call.
#[test]
#[ignore = "needs the Citus cluster: make test-citus"]
fn citus_sync_gives_a_new_worker_the_modules_at_once() {
    let db = "pg_wasm_citus_sync";
    let mut c = citus_db(db, &WORKERS[..1]);
    c.batch_execute(&format!(
        "SELECT wasm.load_wat('one', '{}'); SELECT wasm.load_wat('two', '{}');",
        wat(1),
        wat(2)
    ))
    .unwrap();
    c.execute(
        "SELECT citus_add_node('localhost', $1)",
        &[&i32::from(WORKERS[1])],
    )
    .unwrap();
    let changed: i64 = c.query_one("SELECT wasm.citus_sync()", &[]).unwrap().get(0);
    assert_eq!(changed, 2, "one and two added on the new worker");
    let mut late = node(WORKERS[1], db);
    let n: i64 = late
        .query_one("SELECT count(*) FROM wasm.modules", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    assert_eq!(call_i32(&mut late, "SELECT two_f(1)"), 3);
}

/// A wasm aggregate whose combine function is wasm runs as partial
/// aggregates on the workers; a wasm BEFORE ROW trigger on a distributed
/// table fires on the workers (Citus asks for citus.enable_unsafe_triggers).
#[test]
#[ignore = "needs the Citus cluster: make test-citus"]
fn aggregates_and_triggers_run_on_the_workers() {
    let guests = std::env::var("PG_WASM_GUESTS").expect("PG_WASM_GUESTS (make guests)");
    let db = "pg_wasm_citus_agg";
    let mut c = citus_db(db, &WORKERS);
    c.batch_execute(
        "SELECT wasm.load_wat('acc', '(module (func (export \"add\") (param i64 i64) (result i64)
           (i64.add (local.get 0) (local.get 1))))',
           '{\"functions\": {\"add\": {\"volatility\": \"immutable\", \"parallel\": \"safe\"}}}');
         CREATE AGGREGATE wsum(bigint) (SFUNC = acc_add, STYPE = bigint, COMBINEFUNC = acc_add,
                                        INITCOND = '0', PARALLEL = SAFE);
         CREATE TABLE d (k int, v bigint);
         SELECT create_distributed_table('d', 'k');
         INSERT INTO d SELECT g, g FROM generate_series(1, 10000) g;",
    )
    .unwrap();
    let total: i64 = c.query_one("SELECT wsum(v) FROM d", &[]).unwrap().get(0);
    assert_eq!(total, 50_005_000);
    let plan: Vec<String> = c
        .query("EXPLAIN (VERBOSE, COSTS OFF) SELECT wsum(v) FROM d", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter()
            .any(|l| l.contains("worker_partial_agg('public.wsum(bigint)'")),
        "partial aggregates on the workers:\n{}",
        plan.join("\n")
    );

    let triggers = std::fs::read(format!("{guests}/triggers.wasm")).unwrap();
    c.execute("SELECT wasm.load('trg', $1, '{}')", &[&triggers])
        .unwrap();
    // One statement at a time: Citus forwards the text of a DDL statement
    // to the workers, and a multi-statement string is refused there.
    for sql in [
        "CREATE TABLE people (id int, email text)",
        "SELECT create_distributed_table('people', 'id')",
        "SET citus.enable_unsafe_triggers = on",
        "CREATE TRIGGER people_email BEFORE INSERT OR UPDATE ON people
           FOR EACH ROW EXECUTE FUNCTION trg_require_email()",
        "INSERT INTO people VALUES (1, 'ada@example.com'), (2, 'grace@example.com')",
    ] {
        c.batch_execute(sql).unwrap();
    }
    let err = c
        .execute("INSERT INTO people VALUES (3, 'not an email')", &[])
        .unwrap_err();
    let e = err.as_db_error().expect("a database error");
    assert_eq!(e.code().code(), "P0001", "{}", e.message());
    let rows: i64 = c
        .query_one("SELECT count(*) FROM people", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 2);

    // JavaScript (SPEC §15): the function reaches the workers with its
    // DDL, runs next to the shards in a query and as a trigger, and gives
    // the same answers there.
    for sql in [
        "CREATE FUNCTION js_domain(email text) RETURNS text LANGUAGE javascript IMMUTABLE AS
           $$ return email.split('@')[1].toUpperCase(); $$",
        "CREATE FUNCTION js_lower_email() RETURNS trigger LANGUAGE javascript AS
           $$ NEW.email = NEW.email.toLowerCase(); return NEW; $$",
        "CREATE TRIGGER people_lower BEFORE INSERT ON people
           FOR EACH ROW EXECUTE FUNCTION js_lower_email()",
        "INSERT INTO people VALUES (4, 'Linus@Example.COM')",
    ] {
        c.batch_execute(sql).unwrap();
    }
    let domains: Vec<String> = c
        .query(
            "SELECT js_domain(email) FROM people WHERE js_domain(email) IS NOT NULL ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(domains, ["EXAMPLE.COM", "EXAMPLE.COM", "EXAMPLE.COM"]);
    let email: String = c
        .query_one("SELECT email FROM people WHERE id = 4", &[])
        .unwrap()
        .get(0);
    assert_eq!(email, "linus@example.com");
    let answers = on_workers(db, "SELECT js_domain('a@b.c')");
    assert!(
        !answers.is_empty() && answers.iter().all(|v| v.as_deref() == Some("B.C")),
        "{answers:?}"
    );

    // Python (SPEC §16) the same way.
    for sql in [
        "CREATE FUNCTION py_user(email text) RETURNS text LANGUAGE python IMMUTABLE AS
           $$ return email.split('@')[0].title() $$",
        "CREATE FUNCTION py_untag_email() RETURNS trigger LANGUAGE python AS
           $$
import re
TD['new']['email'] = re.sub(r'[+][^@]*@', '@', TD['new']['email'])
return 'MODIFY'
$$",
        "CREATE TRIGGER people_untag BEFORE INSERT ON people
           FOR EACH ROW EXECUTE FUNCTION py_untag_email()",
        "INSERT INTO people VALUES (5, 'grace+news@example.com')",
    ] {
        c.batch_execute(sql).unwrap();
    }
    let users: Vec<String> = c
        .query(
            "SELECT py_user(email) FROM people WHERE id IN (4, 5) ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(users, ["Linus", "Grace"]);
    let email: String = c
        .query_one("SELECT email FROM people WHERE id = 5", &[])
        .unwrap()
        .get(0);
    assert_eq!(email, "grace@example.com");
    let answers = on_workers(db, "SELECT py_user('ada@b.c')");
    assert!(
        !answers.is_empty() && answers.iter().all(|v| v.as_deref() == Some("Ada")),
        "{answers:?}"
    );
}

/// A component (the Rust orders guest) reaches every worker with the
/// composite type of its WIT record, and a query over a distributed table
/// builds and reads that record next to the shards.
#[test]
#[ignore = "needs the Citus cluster: make test-citus"]
fn components_and_their_record_types_reach_the_workers() {
    let guests = std::env::var("PG_WASM_GUESTS").expect("PG_WASM_GUESTS (make guests)");
    let db = "pg_wasm_citus_component";
    let mut c = citus_db(db, &WORKERS);
    let orders = std::fs::read(format!("{guests}/orders.wasm")).unwrap();
    c.execute("SELECT count(*) FROM wasm.load('orders', $1)", &[&orders])
        .unwrap();
    assert_eq!(
        on_workers(db, "to_regtype('orders_order_line')"),
        vec![Some("orders_order_line".to_string()); 2]
    );
    for sql in [
        "CREATE TABLE lines (id int, line text)",
        "SELECT create_distributed_table('lines', 'id')",
        "INSERT INTO lines SELECT g, g || ' x SKU-' || g || ' @ 0.5' FROM generate_series(1, 100) g",
    ] {
        c.batch_execute(sql).unwrap();
    }
    let sql = "SELECT sum(orders_line_total(orders_parse_line(line))) FROM lines";
    let total: f64 = c.query_one(sql, &[]).unwrap().get(0);
    assert_eq!(total, 2525.0);
    let plan: Vec<String> = c
        .query(&format!("EXPLAIN (VERBOSE, COSTS OFF) {sql}"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter().any(|l| l.contains(
            "Query: SELECT sum(public.orders_line_total(public.orders_parse_line(line)))"
        )),
        "the records are built and read on the workers:\n{}",
        plan.join("\n")
    );
    // The record as a value on a worker: the row a guest returned.
    let sku: String = c
        .query_one(
            "SELECT (orders_parse_line(line)).sku FROM lines WHERE id = 7",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(sku, "SKU-7");
    // A replace (without options) keeps the type on every node; an unload
    // drops it everywhere.
    c.execute(
        "SELECT count(*) FROM wasm.replace('orders', $1)",
        &[&orders],
    )
    .unwrap();
    assert_eq!(
        on_workers(db, "to_regtype('orders_order_line')"),
        vec![Some("orders_order_line".to_string()); 2]
    );
    c.batch_execute("SELECT wasm.unload('orders', true)")
        .unwrap();
    assert_eq!(
        on_workers(db, "to_regtype('orders_order_line')"),
        vec![None, None]
    );
}
