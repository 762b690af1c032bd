//! A hot standby (read-only, its own data directory) runs wasm functions:
//! it compiles what it has no artifact for, stores the artifact in its own
//! data directory, maps it in its next connections, and follows a replace
//! made on the primary. The standby is made by pg_basebackup from the test
//! cluster and removed at the end.

#[path = "support.rs"]
mod support;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

const PORT: u16 = 28816;
const ROOT: &str = "/tmp/pg_wasm_standby";

fn bindir() -> PathBuf {
    let pg_config = std::env::var("PG_CONFIG")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pg_config".into());
    let out = Command::new(pg_config).arg("--bindir").output().unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs a PostgreSQL tool as the postgres OS user.
fn as_postgres(tool: &str, args: &[&str]) {
    let bin = bindir().join(tool);
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
    format!("host={ROOT} port={PORT} user=postgres dbname={db}")
}

struct Standby;

impl Standby {
    fn start() -> Standby {
        Standby::stop_and_remove();
        std::fs::create_dir_all(ROOT).unwrap();
        let _ = Command::new("chown").args(["postgres", ROOT]).status();
        let primary =
            std::env::var("PG_WASM_CLUSTER").unwrap_or_else(|_| "/tmp/pg_wasm_cluster".into());
        let data = format!("{ROOT}/data");
        as_postgres(
            "pg_basebackup",
            &[
                "-h", &primary, "-p", "28815", "-U", "postgres", "-D", &data, "-R", "-X", "stream",
                "-c", "fast",
            ],
        );
        // Another machine would have no usable artifacts: start without any.
        let _ = std::fs::remove_dir_all(Path::new(&data).join("pg_wasm"));
        let conf =
            format!("\nport = {PORT}\nunix_socket_directories = '{ROOT}'\nhot_standby = on\n");
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
                &format!("{ROOT}/server.log"),
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
        let data = format!("{ROOT}/data");
        if Path::new(&data).join("PG_VERSION").exists() {
            as_postgres("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(ROOT);
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        let log = std::fs::read_to_string(format!("{ROOT}/server.log")).unwrap_or_default();
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
