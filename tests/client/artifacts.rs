//! Compiled artifacts shared by the cluster (SPEC §11): new connections,
//! other databases and parallel workers map what `wasm.load` compiled;
//! damaged files are rebuilt; rollbacks, replaces and unloads leave nothing
//! in use; a restart keeps them. Proved by each backend's
//! `wasm.cache_stats()` counters and the `wasm.cache` view, never by timing.

#[path = "support.rs"]
mod support;
use std::path::PathBuf;
use support::*;

/// (compiled, mapped, stored, rejected) of this backend.
fn stats(c: &mut Client) -> (i64, i64, i64, i64) {
    let r = c
        .query_one("SELECT * FROM wasm.cache_stats()", &[])
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

fn wat_const(v: i32) -> String {
    format!(
        r#"(module (func (export "f") (param i32) (result i32) local.get 0 i32.const {v} i32.add))"#
    )
}

/// The artifact key of `wat`'s module, if this database uses a stored one
/// (another database may store the same code: only our link counts).
fn key_of(c: &mut Client, wat: &str) -> Option<String> {
    let key: String = c
        .query_opt(
            "SELECT key FROM wasm.cache
              WHERE sha256 = encode(sha256(wasm.wat_to_wasm($1)), 'hex')",
            &[&wat],
        )
        .unwrap()?
        .get(0);
    paths(c, &key).1.exists().then_some(key)
}

fn paths(c: &mut Client, key: &str) -> (PathBuf, PathBuf) {
    let data: String = c.query_one("SHOW data_directory", &[]).unwrap().get(0);
    let db: i64 = c
        .query_one(
            "SELECT oid::int8 FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .unwrap()
        .get(0);
    let root = PathBuf::from(data).join("pg_wasm");
    (
        root.join("objects").join(format!("{key}.cwasm")),
        root.join("db")
            .join(db.to_string())
            .join(format!("{key}.cwasm")),
    )
}

/// Puts `bytes` in place of `path` the way a torn copy or a bad disk
/// would leave it, but by rename: files are never edited in place.
fn damage(path: &PathBuf, bytes: &[u8]) {
    let tmp = path.with_extension("damaged");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_new_connection_maps_what_load_compiled() {
    let db = "pg_wasm_client_artifacts";
    let mut a = fresh_db(db);
    let wat = wat_const(911_000);
    a.execute("SELECT wasm.load_wat('art', $1)", &[&wat])
        .unwrap();
    assert_eq!(stats(&mut a), (0, 0, 1, 0), "load compiled and stored once");
    assert!(key_of(&mut a, &wat).is_some());

    let mut b = connect(db);
    assert_eq!(call_i32(&mut b, "SELECT art_f(1)"), 911_001);
    assert_eq!(stats(&mut b), (0, 1, 0, 0), "mapped, not compiled");

    // Another database with the same code maps the same object and counts
    // as a second user of it.
    let other = "pg_wasm_client_artifacts2";
    let mut o = fresh_db(other);
    // wasm.load validates (compiles) the bytes again; the first call in a
    // new connection of this database maps the shared object.
    o.execute("SELECT wasm.load_wat('same', $1)", &[&wat])
        .unwrap();
    let mut o2 = connect(other);
    assert_eq!(call_i32(&mut o2, "SELECT same_f(2)"), 911_002);
    assert_eq!(stats(&mut o2), (0, 1, 0, 0));
    let dbs: i64 = a
        .query_one(
            "SELECT databases FROM wasm.cache WHERE sha256 = encode(sha256(wasm.wat_to_wasm($1)), 'hex')",
            &[&wat],
        )
        .unwrap()
        .get(0);
    assert_eq!(dbs, 2);
    // Dropping the other database drops its link at the next sweep.
    drop(o);
    drop(o2);
    let mut admin = connect("postgres");
    admin
        .batch_execute(&format!("DROP DATABASE {other} WITH (FORCE)"))
        .unwrap();
    a.batch_execute("SELECT wasm.clear_cache()").unwrap();
    let dbs: i64 = a
        .query_one(
            "SELECT databases FROM wasm.cache WHERE sha256 = encode(sha256(wasm.wat_to_wasm($1)), 'hex')",
            &[&wat],
        )
        .unwrap()
        .get(0);
    assert_eq!(dbs, 1);
}

#[test]
fn a_damaged_artifact_is_ignored_and_rebuilt() {
    let db = "pg_wasm_client_artifacts_damaged";
    let mut a = fresh_db(db);
    let wat = wat_const(911_007);
    a.execute("SELECT wasm.load_wat('dmg', $1)", &[&wat])
        .unwrap();
    let key = key_of(&mut a, &wat).expect("stored");
    let (object, link) = paths(&mut a, &key);
    let good = std::fs::read(&link).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 3].to_vec()),
        ("garbage", vec![0xa5; good.len()]),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in cases {
        damage(&link, &bytes);
        damage(&object, &bytes);
        let mut b = connect(db);
        b.batch_execute("SET client_min_messages = notice").unwrap();
        assert_eq!(call_i32(&mut b, "SELECT dmg_f(1)"), 911_008, "{what}");
        assert_eq!(
            stats(&mut b),
            (1, 0, 1, 1),
            "{what}: rejected, compiled, stored"
        );
        assert_eq!(
            std::fs::read(&link).unwrap().len(),
            good.len(),
            "{what}: rebuilt"
        );
        let mut c = connect(db);
        assert_eq!(call_i32(&mut c, "SELECT dmg_f(2)"), 911_009, "{what}");
        assert_eq!(
            stats(&mut c),
            (0, 1, 0, 0),
            "{what}: the rebuilt one is mapped"
        );
    }
}

#[test]
fn an_unwritable_store_only_costs_a_compile() {
    use std::os::unix::fs::PermissionsExt;
    let db = "pg_wasm_client_artifacts_ro";
    let mut a = fresh_db(db);
    let wat = wat_const(911_030);
    a.execute("SELECT wasm.load_wat('ro', $1)", &[&wat])
        .unwrap();
    let key = key_of(&mut a, &wat).expect("stored");
    let (object, link) = paths(&mut a, &key);
    std::fs::remove_file(&link).unwrap();
    std::fs::remove_file(&object).unwrap();
    let objects = object.parent().unwrap().to_path_buf();
    // Read and search only, as after a disk or permission problem.
    std::fs::set_permissions(&objects, std::fs::Permissions::from_mode(0o500)).unwrap();
    let mut b = connect(db);
    let result = b
        .query_one("SELECT ro_f(1)", &[])
        .map(|r| r.get::<_, i32>(0));
    let counters = stats(&mut b);
    std::fs::set_permissions(&objects, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(result.unwrap(), 911_031, "the call works without a store");
    assert_eq!(counters, (1, 0, 0, 0), "compiled, nothing stored, no error");
    let mut c = connect(db);
    assert_eq!(call_i32(&mut c, "SELECT ro_f(2)"), 911_032);
    assert_eq!(stats(&mut c), (1, 0, 1, 0), "stored again once writable");
}

#[test]
fn rollback_replace_and_unload_leave_nothing_in_use() {
    let db = "pg_wasm_client_artifacts_life";
    let mut a = fresh_db(db);
    // A rolled-back load.
    let gone = wat_const(911_001);
    let mut tx = a.transaction().unwrap();
    tx.execute("SELECT wasm.load_wat('rb', $1)", &[&gone])
        .unwrap();
    tx.rollback().unwrap();
    assert_eq!(key_of(&mut a, &gone), None, "rolled back");

    // A replace: a connection with the old code cached runs the new code,
    // and the old artifact goes when the replace commits.
    let (v1, v2) = (wat_const(911_010), wat_const(911_020));
    a.execute("SELECT wasm.load_wat('life', $1)", &[&v1])
        .unwrap();
    let mut b = connect(db);
    assert_eq!(call_i32(&mut b, "SELECT life_f(1)"), 911_011);
    let mut tx = a.transaction().unwrap();
    tx.execute("SELECT wasm.replace('life', wasm.wat_to_wasm($1))", &[&v2])
        .unwrap();
    assert!(
        key_of(&mut b, &v1).is_some(),
        "the old artifact stays until the replace commits"
    );
    tx.commit().unwrap();
    assert_eq!(call_i32(&mut b, "SELECT life_f(1)"), 911_021);
    assert_eq!(key_of(&mut a, &v1), None, "old artifact removed");
    let mut c = connect(db);
    assert_eq!(call_i32(&mut c, "SELECT life_f(1)"), 911_021);
    assert_eq!(stats(&mut c), (0, 1, 0, 0));

    // An unload removes it; a rolled-back unload keeps it.
    let mut tx = a.transaction().unwrap();
    tx.execute("SELECT wasm.unload('life', true)", &[]).unwrap();
    tx.rollback().unwrap();
    assert!(key_of(&mut a, &v2).is_some());
    a.execute("SELECT wasm.unload('life', true)", &[]).unwrap();
    assert_eq!(key_of(&mut a, &v2), None);
}

#[test]
fn parallel_workers_and_a_restart_use_the_artifact() {
    let db = "pg_wasm_client_artifacts_par";
    let mut a = fresh_db(db);
    let wat = wat_const(911_003);
    a.execute(
        "SELECT wasm.load_wat('par', $1, '{\"functions\": {\"f\": {\"volatility\": \"immutable\", \"parallel\": \"safe\"}}}')",
        &[&wat],
    )
    .unwrap();
    a.batch_execute("CREATE TABLE t AS SELECT i FROM generate_series(1, 300000) i")
        .unwrap();
    a.batch_execute("VACUUM ANALYZE t").unwrap();
    let files_before: i64 = a
        .query_one("SELECT count(*) FROM wasm.cache", &[])
        .unwrap()
        .get(0);

    let mut b = connect(db);
    b.batch_execute("SET max_parallel_workers_per_gather = 0")
        .unwrap();
    let serial: i64 = b
        .query_one("SELECT sum(par_f(i))::int8 FROM t", &[])
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
            "EXPLAIN (ANALYZE, COSTS OFF) SELECT sum(par_f(i))::int8 FROM t",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("Workers Launched: 2"), "{plan}");
    let parallel: i64 = b
        .query_one("SELECT sum(par_f(i))::int8 FROM t", &[])
        .unwrap()
        .get(0);
    assert_eq!(parallel, serial);
    let files_after: i64 = b
        .query_one("SELECT count(*) FROM wasm.cache", &[])
        .unwrap()
        .get(0);
    assert_eq!(files_after, files_before, "workers stored nothing new");

    // A restart keeps the artifact: the first backend after it maps.
    drop(a);
    drop(b);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = std::process::Command::new(root.join("scripts/cluster.sh"))
        .arg("restart")
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(status.success());
    let mut c = connect(db);
    assert_eq!(call_i32(&mut c, "SELECT par_f(1)"), 911_004);
    assert_eq!(stats(&mut c), (0, 1, 0, 0));
}
