//! Helpers shared by the client test binaries.
#![allow(dead_code)]

pub use postgres::{Client, NoTls};

pub fn dsn(db: &str) -> String {
    let base = std::env::var("PG_WASM_TEST_DSN").unwrap_or_else(|_| {
        format!(
            "host={} port={} user=postgres",
            cluster_dir(),
            cluster_port()
        )
    });
    format!("{base} dbname={db}")
}

/// The test cluster's socket directory and port (the Makefile's, one per
/// PostgreSQL version).
pub fn cluster_dir() -> String {
    std::env::var("PG_WASM_CLUSTER").unwrap_or_else(|_| "/tmp/pg_wasm_cluster".into())
}

pub fn cluster_port() -> u16 {
    std::env::var("PG_WASM_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(28815)
}

/// A program of the PostgreSQL under test (PG_CONFIG's bindir).
pub fn pg_bin(tool: &str) -> std::path::PathBuf {
    let pg_config = std::env::var("PG_CONFIG")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pg_config".into());
    let out = std::process::Command::new(pg_config)
        .arg("--bindir")
        .output()
        .expect("pg_config");
    std::path::Path::new(String::from_utf8_lossy(&out.stdout).trim()).join(tool)
}

/// A fresh database with the extension, for one test.
pub fn fresh_db(name: &str) -> Client {
    empty_db(name);
    let mut c = connect(name);
    c.batch_execute("SET client_min_messages = warning; CREATE EXTENSION pg_wasm")
        .unwrap();
    c
}

/// A fresh database without the extension.
pub fn empty_db(name: &str) {
    let mut admin = Client::connect(&dsn("postgres"), NoTls).expect("connect to postgres");
    // Two statements: DROP/CREATE DATABASE refuse to run in one implicit
    // transaction block.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
}

pub fn connect(db: &str) -> Client {
    Client::connect(&dsn(db), NoTls).expect("connect")
}

/// What a connection's notices said, collected as they arrive.
pub type Notices = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A connection that keeps every notice the server sends it.
pub fn connect_collecting_notices(db: &str) -> (Client, Notices) {
    let notices = Notices::default();
    let sink = notices.clone();
    let c = dsn(db)
        .parse::<postgres::Config>()
        .unwrap()
        .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_string()))
        .connect(NoTls)
        .unwrap();
    (c, notices)
}

pub fn call_i32(c: &mut Client, sql: &str) -> i32 {
    c.query_one(sql, &[]).unwrap().get(0)
}

pub fn wat_add(op: &str) -> String {
    format!(
        r#"(module (func (export "f") (param i32 i32) (result i32) local.get 0 local.get 1 i32.{op}))"#
    )
}

/// `pg_dump -Fc` of one database restored with `pg_restore` into a new,
/// empty one.
pub fn dump_and_restore(from: &str, to: &str) {
    let dump = std::env::temp_dir().join(format!("{from}.pgdump"));
    let status = std::process::Command::new(pg_bin("pg_dump"))
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg(dsn(from))
        .status()
        .unwrap();
    assert!(status.success(), "pg_dump failed");
    empty_db(to);
    let status = std::process::Command::new(pg_bin("pg_restore"))
        .args(["--exit-on-error", "-d"])
        .arg(dsn(to))
        .arg(&dump)
        .status()
        .unwrap();
    assert!(status.success(), "pg_restore failed");
    let _ = std::fs::remove_file(dump);
}

/// Waits (up to 30 s, polling every 50 ms) until `ready`, for changes that
/// arrive asynchronously (replay on a standby, logical replication).
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "never saw {what} within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs a PostgreSQL tool as the postgres OS user.
pub fn as_postgres(tool: &str, args: &[&str]) {
    let bin = pg_bin(tool);
    let running_as_postgres = std::env::var("USER").is_ok_and(|u| u == "postgres");
    let status = if running_as_postgres {
        std::process::Command::new(&bin)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
    } else {
        std::process::Command::new("sudo")
            .args(["-u", "postgres"])
            .arg(&bin)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
    }
    .unwrap();
    assert!(status.success(), "{tool} {args:?} failed");
}
