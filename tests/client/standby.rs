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

/// Runs a PostgreSQL tool as the postgres OS user.
fn as_postgres(tool: &str, args: &[&str]) {
    let bin = pg_bin(tool);
    let running_as_postgres = std::env::var("USER").is_ok_and(|u| u == "postgres");
    let status = if running_as_postgres {
        Command::new(&bin).args(args).status()
    } else {
        Command::new("sudo")
            .args(["-u", "postgres"])
            .arg(&bin)
            .args(args)
            .status()
    }
    .unwrap();
    assert!(status.success(), "{tool} {args:?} failed");
}

fn standby_dsn(db: &str) -> String {
    format!("host={} port={} user=postgres dbname={db}", root(), port())
}

struct Standby;

impl Standby {
    fn start() -> Standby {
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
        Standby
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
