//! A hot standby (read-only, its own data directory) runs wasm functions:
//! it compiles what it has no artifact for, stores the artifact in its own
//! data directory, maps it in its next connections, and follows a replace
//! made on the primary. The standby is made by pg_basebackup from the test
//! cluster and removed at the end.

#[path = "support.rs"]
mod support;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

/// The standby sits next to the test cluster: port + 100, its directory
/// beside the cluster's (so each PostgreSQL version has its own).
fn port() -> u16 {
    cluster_port() + 100
}

fn root() -> String {
    format!("{}_standby", cluster_dir())
}

fn standby_dsn(db: &str) -> String {
    format!("host={} port={} user=postgres dbname={db}", root(), port())
}

/// One standby at a time (they share a directory and port), even when the
/// test harness runs this file's tests in parallel.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Standby(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

impl Standby {
    fn start() -> Standby {
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        Standby::stop_and_remove();
        let root = root();
        std::fs::create_dir_all(&root).unwrap();
        let _ = Command::new("chown").args(["postgres", &root]).status();
        let primary = cluster_dir();
        let primary_port = cluster_port().to_string();
        let data = format!("{root}/data");
        as_postgres(
            "pg_basebackup",
            &[
                "-h",
                &primary,
                "-p",
                &primary_port,
                "-U",
                "postgres",
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        );
        // Another machine would have no usable artifacts: start without any.
        let _ = std::fs::remove_dir_all(Path::new(&data).join("pg_wasm"));
        let conf = format!(
            "\nport = {}\nunix_socket_directories = '{root}'\nhot_standby = on\n",
            port()
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(Path::new(&data).join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut f, conf.as_bytes()).unwrap();
        as_postgres(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &format!("{root}/server.log"),
                "-w",
                "start",
            ],
        );
        Standby(guard)
    }

    fn connect(&self, db: &str) -> Client {
        Client::connect(&standby_dsn(db), NoTls).expect("connect to the standby")
    }

    fn stop_and_remove() {
        let data = format!("{}/data", root());
        if Path::new(&data).join("PG_VERSION").exists() {
            as_postgres("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(root());
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        let log = std::fs::read_to_string(format!("{}/server.log", root())).unwrap_or_default();
        assert!(
            !log.contains("terminated by signal"),
            "a standby backend crashed:\n{log}"
        );
        Standby::stop_and_remove();
    }
}

fn stats(c: &mut Client) -> (i64, i64, i64, i64) {
    let r = c
        .query_one("SELECT * FROM wasm.cache_stats()", &[])
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

#[test]
fn a_hot_standby_compiles_once_maps_and_follows_replace() {
    let db = "pg_wasm_client_standby";
    let mut p = fresh_db(db);
    let wat = |v: i32| {
        format!(
            r#"(module (func (export "f") (param i32) (result i32) local.get 0 i32.const {v} i32.add))"#
        )
    };
    p.execute("SELECT wasm.load_wat('sb', $1)", &[&wat(100)])
        .unwrap();
    let standby = Standby::start();

    let mut s1 = standby.connect(db);
    let ro: bool = s1
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(ro);
    assert_eq!(call_i32(&mut s1, "SELECT sb_f(1)"), 101);
    assert_eq!(
        stats(&mut s1),
        (1, 0, 1, 0),
        "compiled and stored on the standby"
    );
    let mut s2 = standby.connect(db);
    assert_eq!(call_i32(&mut s2, "SELECT sb_f(2)"), 102);
    assert_eq!(
        stats(&mut s2),
        (0, 1, 0, 0),
        "mapped from the standby's own store"
    );
    let stored: i64 = s2
        .query_one(
            "SELECT count(*) FROM wasm.cache WHERE 'sb' = ANY (modules)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);

    // A replace on the primary reaches the standby by replay.
    p.execute(
        "SELECT wasm.replace('sb', wasm.wat_to_wasm($1))",
        &[&wat(200)],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if call_i32(&mut s2, "SELECT sb_f(1)") == 201 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby never ran the new code"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The sweep works read-only too.
    s2.execute("SELECT wasm.clear_cache()", &[]).unwrap();
    let left: Vec<String> = s2
        .query("SELECT unnest(modules) FROM wasm.cache", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        left,
        vec!["sb".to_string()],
        "only the new code's artifact stays"
    );
}

fn has_module(c: &mut Client, name: &str) -> bool {
    c.query_one(
        "SELECT count(*) FROM wasm.modules WHERE name = $1",
        &[&name],
    )
    .unwrap()
    .get::<_, i64>(0)
        == 1
}

/// Functions, aggregates and SETOF functions run on the standby; what the
/// primary commits (load, replace, unload) is what it runs after replay, a
/// rolled-back load never appears, and writes are refused as PostgreSQL
/// refuses them on a standby.
#[test]
fn a_hot_standby_runs_what_the_primary_committed() {
    let guests = std::env::var("PG_WASM_GUESTS").expect("PG_WASM_GUESTS (make guests)");
    let db = "pg_wasm_client_standby_runs";
    let mut p = fresh_db(db);
    let textkit = std::fs::read(format!("{guests}/textkit.wasm")).unwrap();
    p.batch_execute("CREATE TYPE textkit_stats AS (bytes int, words int, longest text)")
        .unwrap();
    p.execute("SELECT wasm.load('textkit', $1)", &[&textkit])
        .unwrap();
    p.batch_execute(
        "CREATE AGGREGATE approx_distinct(text) (
           SFUNC = textkit_hll_add, STYPE = bytea, FINALFUNC = textkit_hll_count);
         SELECT wasm.load_wat('acc', '(module
           (func (export \"add\") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1))))');
         CREATE AGGREGATE wasm_sum(bigint) (SFUNC = acc_add, STYPE = bigint, INITCOND = '0');
         CREATE FUNCTION js_title(t text) RETURNS text LANGUAGE javascript IMMUTABLE AS $$
           return t.split(' ').map(w => w[0].toUpperCase() + w.slice(1)).join(' ');
         $$;
         CREATE FUNCTION js_rows(n int) RETURNS SETOF jsonb LANGUAGE javascript AS $$
           for (let i = 1; i <= n; i++) plv8.return_next({i, sq: plv8.execute('SELECT $1::int * $1::int AS s', [i])[0].s});
         $$;
         CREATE FUNCTION py_rows(n int) RETURNS SETOF text LANGUAGE python AS $$
plan = plpy.prepare('SELECT $1 * $1 AS s', ['int'])
for i in range(1, n + 1):
    yield '%d:%d' % (i, plan.execute([i])[0]['s'])
$$;",
    )
    .unwrap();
    let standby = Standby::start();
    let mut s = standby.connect(db);

    // JavaScript (SPEC §15) gives the same results on the standby, its SQL
    // read-only there.
    let title: String = s
        .query_one("SELECT js_title('hello hot standby')", &[])
        .unwrap()
        .get(0);
    assert_eq!(title, "Hello Hot Standby");
    let rows: Vec<String> = s
        .query("SELECT js_rows(3)::text", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        rows,
        [
            r#"{"i": 1, "sq": 1}"#,
            r#"{"i": 2, "sq": 4}"#,
            r#"{"i": 3, "sq": 9}"#
        ]
    );

    // So does Python (SPEC §16).
    let rows: Vec<String> = s
        .query("SELECT py_rows(3)", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, ["1:1", "2:4", "3:9"]);

    // Scalar, SETOF and aggregates (wasm state functions) on the standby.
    let slug: String = s
        .query_one("SELECT textkit_slugify('Hello, Standby!')", &[])
        .unwrap()
        .get(0);
    assert_eq!(slug, "hello-standby");
    let words: Vec<String> = s
        .query("SELECT textkit_tokenize('one two three')", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(words, ["one", "two", "three"]);
    let sum: i64 = s
        .query_one("SELECT wasm_sum(g) FROM generate_series(1, 1000) g", &[])
        .unwrap()
        .get(0);
    assert_eq!(sum, 500_500);
    let distinct: i32 = s
        .query_one(
            "SELECT approx_distinct(g::text)::int FROM generate_series(1, 10000) g",
            &[],
        )
        .unwrap()
        .get(0);
    assert!((9000..11000).contains(&distinct), "{distinct}");

    // Writes are refused with PostgreSQL's read-only error, and change
    // nothing.
    for sql in [
        "SELECT wasm.load_wat('w', '(module)')",
        "SELECT wasm.replace('acc', wasm.wat_to_wasm('(module)'))",
        "SELECT wasm.unload('acc', true)",
        "SELECT wasm.configure('acc', '{\"fuel\": 10}')",
    ] {
        let err = s.query(sql, &[]).unwrap_err();
        let db = err.as_db_error().expect("a database error");
        assert_eq!(db.code().code(), "25006", "{sql}: {}", db.message());
    }
    assert_eq!(
        s.query_one("SELECT wasm_sum(g) FROM generate_series(1, 10) g", &[])
            .unwrap()
            .get::<_, i64>(0),
        55
    );

    // A load rolled back on the primary never appears; the commit after it
    // (marker) shows the standby has replayed past it.
    p.batch_execute(
        "BEGIN;
         SELECT wasm.load_wat('ghost', '(module (func (export \"f\") (result i32) i32.const 1))');
         ROLLBACK;",
    )
    .unwrap();
    p.batch_execute(
        "SELECT wasm.load_wat('marker', '(module (func (export \"f\") (result i32) i32.const 7))')",
    )
    .unwrap();
    wait_until("the marker module", || has_module(&mut s, "marker"));
    assert_eq!(call_i32(&mut s, "SELECT marker_f()"), 7);
    assert!(!has_module(&mut s, "ghost"));
    let err = s.query_one("SELECT ghost_f()", &[]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42883"), "{err}");

    // Replace: the session that has the old code cached runs the new code
    // once replayed (the aggregate's state function too).
    p.batch_execute(
        "SELECT wasm.replace('acc', wasm.wat_to_wasm('(module
           (func (export \"add\") (param i64 i64) (result i64)
             (i64.add (i64.add (local.get 0) (local.get 1)) (i64.const 1))))'))",
    )
    .unwrap();
    wait_until("the replaced acc", || {
        s.query_one("SELECT wasm_sum(g) FROM generate_series(1, 10) g", &[])
            .unwrap()
            .get::<_, i64>(0)
            == 65
    });

    // Unload with cascade: the functions are gone on the standby as well.
    p.batch_execute("SELECT wasm.unload('marker', true)")
        .unwrap();
    wait_until("the unload", || !has_module(&mut s, "marker"));
    let err = s.query_one("SELECT marker_f()", &[]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42883"), "{err}");
    drop(s);
    drop(standby);
}
