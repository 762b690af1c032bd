//! Client-tier tests of the `pg-wasm` command: each runs the built binary
//! as a separate process, against the test cluster of `make test`
//! (PG_WASM_TEST_DSN) where a command needs a server, and checks its
//! output, exit status and what it did in the database.

use postgres::{Client, NoTls};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn pg_wasm(args: &[&str]) -> Out {
    pg_wasm_in(None, args, &[], None)
}

fn pg_wasm_in(dir: Option<&Path>, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pg-wasm"));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The cache of the JavaScript engine's image, shared by the tests.
    cmd.env("XDG_CACHE_HOME", target().join("cli-test-cache"));
    for k in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGPASSFILE",
    ] {
        cmd.env_remove(k);
    }
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("pg-wasm runs");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn target() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target")
}

fn guests() -> PathBuf {
    std::env::var("PG_WASM_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| target().join("guests"))
}

fn guest(name: &str) -> String {
    guests().join(name).display().to_string()
}

fn base_dsn() -> String {
    std::env::var("PG_WASM_TEST_DSN")
        .unwrap_or_else(|_| "host=/tmp/pg_wasm_cluster port=28815 user=postgres".into())
}

fn dsn(db: &str) -> String {
    format!("{} dbname={db}", base_dsn())
}

/// A fresh database with pg_wasm.
fn fresh_db(db: &str) -> Client {
    let mut admin = Client::connect(&dsn("postgres"), NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let mut c = Client::connect(&dsn(db), NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION pg_wasm").unwrap();
    c
}

/// A scratch directory under target/, empty.
fn scratch(name: &str) -> PathBuf {
    let d = target().join("cli-test").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn help_version_and_usage_errors() {
    let o = pg_wasm(&["--help"]);
    assert_eq!(o.code, 0, "{o:?}");
    for cmd in ["new", "build", "run", "deploy", "inspect", "stats"] {
        assert!(o.stdout.contains(cmd), "{cmd} in --help: {o:?}");
        let h = pg_wasm(&[cmd, "--help"]);
        assert_eq!(h.code, 0, "{cmd} --help: {h:?}");
        assert!(h.stdout.contains("Usage: pg-wasm"), "{h:?}");
    }
    assert!(pg_wasm(&["deploy", "--help"]).stdout.contains("--dbname"));
    assert_eq!(pg_wasm(&["--version"]).code, 0);
    let o = pg_wasm(&["frobnicate"]);
    assert_eq!(o.code, 2, "{o:?}");
    let o = pg_wasm(&["run"]);
    assert_eq!(o.code, 2, "{o:?}");
    let o = pg_wasm(&["new", "Bad-Name", "--lang", "js"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("lower-case"), "{o:?}");
}

#[test]
fn run_calls_exports_locally_with_the_servers_limits() {
    // A C module with a pg_wasm section: text in, text out.
    let o = pg_wasm(&[
        "run",
        &guest("textkit.wasm"),
        "slugify",
        "Hello, World!  Ünïcode",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        o.stdout, "hello-world-Ünïcode\n",
        "bytes >= 0x80 are kept as they are"
    );
    assert!(o.stderr.contains("fuel"), "fuel is reported: {o:?}");
    // bytea in hex, bigint out
    let o = pg_wasm(&["run", &guest("textkit.wasm"), "checksum", "\\x00ff"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.trim().parse::<i64>().is_ok(), "{o:?}");
    // WebAssembly text, numbers only: typed from the Wasm signature.
    let dir = scratch("run");
    let wat = dir.join("calc.wat");
    write(
        &wat,
        r#"(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "spin") (result i32) (loop (br 0)) i32.const 0)
  (func (export "boom") (result i32) unreachable))"#,
    );
    let w = wat.display().to_string();
    let o = pg_wasm(&["run", &w, "add", "2", "40"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "42\n"), "{o:?}");
    let o = pg_wasm(&["run", &w, "add", "2", "40", "--repeat", "50"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "42\n"), "{o:?}");
    assert!(
        o.stderr.contains("median") && o.stderr.contains("of 50 calls"),
        "{o:?}"
    );
    // One call per JSON line on stdin.
    let o = pg_wasm_in(None, &["run", &w, "add"], &[], Some("[1, 2]\n[3, 4]\n"));
    assert_eq!((o.code, o.stdout.as_str()), (0, "3\n7\n"), "{o:?}");
    // Limits and traps end the command with status 1 and say what happened.
    let o = pg_wasm(&["run", &w, "spin", "--fuel", "100000"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("calc.wat: spin:") && o.stderr.contains("fuel"),
        "{o:?}"
    );
    let o = pg_wasm(&["run", &w, "spin", "--fuel", "0", "--timeout-ms", "200"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("time"), "{o:?}");
    let o = pg_wasm(&["run", &w, "boom"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("unreachable"), "{o:?}");
    // Wrong arguments and unknown exports: usage (2) and failure (1).
    let o = pg_wasm(&["run", &w, "add", "2"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("takes 2 argument"), "{o:?}");
    let o = pg_wasm(&["run", &w, "nope"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("no export nope") && o.stderr.contains("add"),
        "{o:?}"
    );
    let o = pg_wasm(&["run", &dir.join("missing.wasm").display().to_string(), "f"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("missing.wasm"), "{o:?}");
    // A component, WIT-typed, named by its WIT or its SQL name.
    let calc = guest("calc_component.wat");
    let o = pg_wasm(&["run", &calc, "upper", "héllo"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "HéLLO\n"), "{o:?}");
    let o = pg_wasm_in(None, &["run", &calc, "or_zero"], &[], Some("[null]\n[5]\n"));
    assert_eq!((o.code, o.stdout.as_str()), (0, "0\n10\n"), "{o:?}");
    let o = pg_wasm(&["run", &calc, "checked-div", "7", "0"]);
    assert_eq!(o.code, 1, "an err result fails the call: {o:?}");
    let o = pg_wasm(&["run", &calc, "add", "x", "1"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("argument a"), "{o:?}");
}

#[test]
fn javascript_file_runs_and_reports_exceptions() {
    let dir = scratch("js");
    let f = dir.join("rules.js");
    write(
        &f,
        "// @sql shout(s text) RETURNS text IMMUTABLE\nexports.shout = (s) => s.toUpperCase() + '!';\n\
         // @sql total(items jsonb) RETURNS float8\nexports.total = (items) => items.reduce((t, i) => t + i.qty * i.price, 0);\n\
         // @sql fail(n int) RETURNS int\nexports.fail = (n) => { throw new Error('bad n ' + n); };\n",
    );
    let p = f.display().to_string();
    let o = pg_wasm(&["run", &p, "shout", "hey"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "HEY!\n"), "{o:?}");
    let o = pg_wasm(&[
        "run",
        &p,
        "total",
        r#"[{"qty": 2, "price": 1.5}, {"qty": 1, "price": 4}]"#,
    ]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "7\n"), "{o:?}");
    let o = pg_wasm(&["run", &p, "fail", "3"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("Error: bad n 3"), "{o:?}");
    assert!(
        o.stderr.contains("rules.js") || o.stderr.contains("at "),
        "a stack: {o:?}"
    );
    let o = pg_wasm(&["run", &p, "missing"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("shout, total, fail"), "{o:?}");
    let o = pg_wasm(&["inspect", &p]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("shout(s text) RETURNS text IMMUTABLE"),
        "{o:?}"
    );
    // A syntax error is caught by build, with its line.
    write(&f, "// @sql f() RETURNS int\nexports.f = () => {;\n");
    let o = pg_wasm(&["build", &dir.display().to_string()]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("SyntaxError"), "{o:?}");
}

#[test]
fn inspect_shows_exports_and_the_functions_a_load_creates() {
    let o = pg_wasm(&["inspect", &guest("textkit.wasm")]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("core module"), "{o:?}");
    assert!(o.stdout.contains("pg_wasm section:"), "{o:?}");
    assert!(
        o.stdout
            .contains("textkit_slugify(text) RETURNS text IMMUTABLE"),
        "{o:?}"
    );
    let o = pg_wasm(&[
        "inspect",
        &guest("textkit.wasm"),
        "--name",
        "tk",
        "--prefix",
        "",
    ]);
    assert!(o.stdout.contains("\n  slugify(text) RETURNS text"), "{o:?}");
    let o = pg_wasm(&["inspect", &guest("orders.wasm")]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("component"), "{o:?}");
    assert!(o.stdout.contains("pg:wasm/host"), "{o:?}");
}

#[test]
fn deploy_as_a_role_granted_wasm_load_then_replace() {
    let db = "pg_wasm_client_cli_deploy";
    let mut c = fresh_db(db);
    c.batch_execute(
        "DROP ROLE IF EXISTS client_cli_deployer;
         CREATE ROLE client_cli_deployer LOGIN;
         GRANT EXECUTE ON FUNCTION wasm.load(text, bytea, jsonb) TO client_cli_deployer;
         GRANT EXECUTE ON FUNCTION wasm.replace(text, bytea, jsonb) TO client_cli_deployer;
         GRANT CREATE ON SCHEMA public TO client_cli_deployer;",
    )
    .unwrap();
    let dir = scratch("deploy");
    let v1 = dir.join("pricing.wat");
    write(
        &v1,
        r#"(module (func (export "net") (param f64 f64) (result f64) local.get 0 local.get 1 f64.mul))"#,
    );
    let conn = format!("{} user=client_cli_deployer", dsn(db));
    let o = pg_wasm(&["deploy", &v1.display().to_string(), "-d", &conn]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("loaded module pricing"), "{o:?}");
    assert!(
        o.stdout
            .contains("pricing_net(double precision,double precision) RETURNS double precision"),
        "{o:?}"
    );
    assert!(
        o.stderr.contains("validates and compiles"),
        "progress: {o:?}"
    );
    let owner: String = c
        .query_one(
            "SELECT owner::text FROM wasm.modules WHERE name = 'pricing'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "client_cli_deployer");
    let net: f64 = c
        .query_one("SELECT pricing_net(10, 0.5)", &[])
        .unwrap()
        .get(0);
    assert_eq!(net, 5.0);

    // Again without --replace: refused, nothing changed.
    let o = pg_wasm(&["deploy", &v1.display().to_string(), "-d", &conn]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("exists") && o.stderr.contains("--replace"),
        "{o:?}"
    );

    // --replace with compatible code and a new export: the diff shows it.
    let v2 = dir.join("pricing.wasm.wat");
    write(
        &v2,
        r#"(module
  (func (export "net") (param f64 f64) (result f64) local.get 0 local.get 1 f64.mul f64.const 1 f64.add)
  (func (export "vat") (param f64) (result f64) local.get 0 f64.const 1.2 f64.mul))"#,
    );
    let o = pg_wasm(&[
        "deploy",
        &v2.display().to_string(),
        "--name",
        "pricing",
        "--replace",
        "-d",
        &conn,
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("replaced module pricing"), "{o:?}");
    assert!(
        o.stdout.contains("+ pricing_vat(double precision)"),
        "{o:?}"
    );
    assert!(o.stdout.contains("1 function unchanged"), "{o:?}");
    let net: f64 = c
        .query_one("SELECT pricing_net(10, 0.5)", &[])
        .unwrap()
        .get(0);
    assert_eq!(net, 6.0);

    // A replace that would change an export in use: the server refuses.
    let v3 = dir.join("v3.wat");
    write(
        &v3,
        r#"(module (func (export "net") (param i32) (result i32) local.get 0))"#,
    );
    let o = pg_wasm(&[
        "deploy",
        &v3.display().to_string(),
        "--name",
        "pricing",
        "--replace",
        "-d",
        &conn,
    ]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("ERROR") && o.stderr.contains("net"),
        "{o:?}"
    );
    let net: f64 = c
        .query_one("SELECT pricing_net(10, 0.5)", &[])
        .unwrap()
        .get(0);
    assert_eq!(net, 6.0, "the refused replace changed nothing");

    // --schema and --options reach wasm.load.
    c.batch_execute("CREATE SCHEMA tools AUTHORIZATION client_cli_deployer")
        .unwrap();
    let o = pg_wasm(&[
        "deploy",
        &v1.display().to_string(),
        "--name",
        "pricing2",
        "--schema",
        "tools",
        "--options",
        r#"{"prefix": "p_", "fuel": 5000}"#,
        "-d",
        &conn,
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("tools.p_net("), "{o:?}");
    let o = pg_wasm(&[
        "deploy",
        &v1.display().to_string(),
        "--options",
        "[1]",
        "-d",
        &conn,
    ]);
    assert_eq!(o.code, 2, "{o:?}");

    // stats: the calls made above, as a table.
    let o = pg_wasm(&["stats", "-d", &dsn(db), "--module", "pricing"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout
            .contains("pricing_net(double precision,double precision)"),
        "{o:?}"
    );
    assert!(o.stdout.contains("calls"), "{o:?}");

    // A role without wasm.load gets the server's permission error.
    c.batch_execute("DROP ROLE IF EXISTS client_cli_nobody; CREATE ROLE client_cli_nobody LOGIN")
        .unwrap();
    let o = pg_wasm(&[
        "deploy",
        &v1.display().to_string(),
        "--name",
        "other",
        "-d",
        &format!("{} user=client_cli_nobody", dsn(db)),
    ]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("permission denied"), "{o:?}");
    assert!(
        o.stderr.contains("GRANT EXECUTE ON FUNCTION wasm.load"),
        "the hint: {o:?}"
    );
}

#[test]
fn deploy_reports_connection_and_size_errors() {
    let db = "pg_wasm_client_cli_errors";
    let mut c = fresh_db(db);
    let dir = scratch("errors");
    let wat = dir.join("m.wat");
    write(
        &wat,
        r#"(module (func (export "f") (result i32) i32.const 1))"#,
    );
    let w = wat.display().to_string();
    // No server there: exit 2, and the message says where it tried.
    let o = pg_wasm(&[
        "deploy",
        &w,
        "-h",
        &dir.display().to_string(),
        "-p",
        "1",
        "-U",
        "postgres",
    ]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(
        o.stderr.contains("could not connect") && o.stderr.contains("port 1"),
        "{o:?}"
    );
    // A database without the extension.
    let o = pg_wasm(&["deploy", &w, "-d", &dsn("postgres")]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("CREATE EXTENSION pg_wasm"), "{o:?}");
    // PG* variables work like psql's.
    let (host, port) = parts(&base_dsn());
    let o = pg_wasm_in(
        None,
        &["deploy", &w, "--name", "from_env"],
        &[
            ("PGHOST", &host),
            ("PGPORT", &port),
            ("PGUSER", "postgres"),
            ("PGDATABASE", db),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{o:?}");
    // A module over the server's size limit: the server's error.
    c.batch_execute("ALTER DATABASE pg_wasm_client_cli_errors SET pg_wasm.max_module_size_mb = 1")
        .unwrap();
    let big = dir.join("big.wat");
    write(
        &big,
        &format!(
            "(module (memory 40) (data (i32.const 0) \"{}\") (func (export \"f\") (result i32) i32.const 1))",
            "x".repeat(1_200_000)
        ),
    );
    let o = pg_wasm(&["deploy", &big.display().to_string(), "-d", &dsn(db)]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("ERROR") && o.stderr.contains("big"),
        "{o:?}"
    );

    // Passwords: a scram role (scripts/cluster.sh), from ~/.pgpass-style
    // files and PGPASSWORD; a wrong one is a connection error.
    c.batch_execute(
        "DROP ROLE IF EXISTS client_cli_password_user;
         CREATE ROLE client_cli_password_user LOGIN PASSWORD 's3cret:pw';
         GRANT EXECUTE ON FUNCTION wasm.load(text, bytea, jsonb) TO client_cli_password_user;
         GRANT CREATE ON SCHEMA public TO client_cli_password_user;",
    )
    .unwrap();
    let as_pw_user = format!("{} user=client_cli_password_user", dsn(db));
    let o = pg_wasm_in(
        None,
        &["stats", "-d", &as_pw_user],
        &[("PGPASSWORD", "wrong")],
        None,
    );
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("password authentication failed"), "{o:?}");
    let pgpass = dir.join("pgpass");
    write(
        &pgpass,
        &format!("localhost:{port}:{db}:client_cli_password_user:s3cret\\:pw\n"),
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let o = pg_wasm_in(
        None,
        &["deploy", &w, "--name", "with_pgpass", "-d", &as_pw_user],
        &[("PGPASSFILE", &pgpass.display().to_string())],
        None,
    );
    assert_eq!(o.code, 0, "{o:?}");
}

/// host and port of a key=value DSN.
fn parts(dsn: &str) -> (String, String) {
    let get = |k: &str| {
        dsn.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    (get("host"), get("port"))
}

/// new → build → run → deploy → call, for one language.
fn round_trip(lang: &str, artifact: &str, sql_prefix: &str, db: &str) {
    // The templates that need a compiler are built once per `make test`
    // (on its first PostgreSQL version): what differs between versions is
    // the deploy, which the js and c round trips cover on each.
    let first_version = std::env::var("PG").map_or(true, |v| v.is_empty() || v == "15");
    if !first_version && !matches!(lang, "js" | "c") {
        eprintln!("{lang} round trip: built and deployed on PostgreSQL 15 already");
        return;
    }
    let root = scratch(&format!("new-{lang}"));
    let name = format!("hello_{}", lang.replace('-', "_"));
    let o = pg_wasm_in(Some(&root), &["new", &name, "--lang", lang], &[], None);
    assert_eq!(o.code, 0, "{o:?}");
    let dir = root.join(&name);
    // componentize-py as scripts/build-guests.sh installed it (pinned by
    // hash), found on PATH as a user's would be; without it, build
    // installs it into the project's .venv.
    let path = format!(
        "{}:{}",
        target().join("componentize-py/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // One cargo target directory for the Rust templates, kept between runs.
    let cargo_target = target().join("cli-test-cargo").display().to_string();
    let o = pg_wasm_in(
        Some(&dir),
        &["build"],
        &[("PATH", &path), ("CARGO_TARGET_DIR", &cargo_target)],
        None,
    );
    assert_eq!(o.code, 0, "{lang} template builds as generated: {o:?}");
    let artifact = artifact.replace("NAME", &name);
    let o = pg_wasm_in(Some(&dir), &["run", &artifact, "greet", "World"], &[], None);
    assert_eq!((o.code, o.stdout.as_str()), (0, "Hello, World!\n"), "{o:?}");
    let o = pg_wasm_in(Some(&dir), &["run", &artifact, "add", "2", "40"], &[], None);
    assert_eq!((o.code, o.stdout.as_str()), (0, "42\n"), "{o:?}");
    let mut c = fresh_db(db);
    let o = pg_wasm_in(
        Some(&dir),
        &["deploy", &artifact, "-d", &dsn(db)],
        &[],
        None,
    );
    assert_eq!(o.code, 0, "{o:?}");
    let prefix = sql_prefix.replace("NAME", &name);
    let row = c
        .query_one(
            &format!("SELECT {prefix}greet('World'), {prefix}add(2, 40)"),
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Hello, World!");
    assert_eq!(row.get::<_, i32>(1), 42);
    // The template's own test passes too (pg-wasm on its PATH).
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_pg-wasm"));
    let path = format!("{}:{path}", bin.parent().unwrap().display());
    let o = Command::new(dir.join("test.sh"))
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", &cargo_target)
        .env("XDG_CACHE_HOME", target().join("cli-test-cache"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "test.sh: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn new_js_round_trip() {
    round_trip("js", "NAME.js", "", "pg_wasm_client_cli_js");
}

#[test]
fn new_c_round_trip() {
    round_trip("c", "build/NAME.wasm", "NAME_", "pg_wasm_client_cli_c");
}

#[test]
fn new_rust_round_trip() {
    round_trip(
        "rust",
        "build/NAME.wasm",
        "NAME_",
        "pg_wasm_client_cli_rust",
    );
}

#[test]
fn new_component_rust_round_trip() {
    round_trip(
        "component-rust",
        "build/NAME.wasm",
        "NAME_",
        "pg_wasm_client_cli_comp",
    );
}

#[test]
fn new_assemblyscript_round_trip() {
    round_trip(
        "assemblyscript",
        "build/NAME.wasm",
        "NAME_",
        "pg_wasm_client_cli_as",
    );
}

#[test]
fn new_python_round_trip() {
    round_trip(
        "python",
        "build/NAME.wasm",
        "NAME_",
        "pg_wasm_client_cli_py",
    );
}

#[test]
fn build_says_what_to_install_when_a_toolchain_is_missing() {
    let root = scratch("missing-toolchain");
    let o = pg_wasm_in(Some(&root), &["new", "m", "--lang", "c"], &[], None);
    assert_eq!(o.code, 0, "{o:?}");
    let empty = root.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let o = pg_wasm_in(
        Some(&root.join("m")),
        &["build"],
        &[("PATH", &empty.display().to_string())],
        None,
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("apt-get install clang"), "{o:?}");
    // Not a project at all.
    let o = pg_wasm_in(Some(&empty), &["build"], &[], None);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("pg-wasm new"), "{o:?}");
    // new refuses to write over a directory with files.
    let o = pg_wasm_in(Some(&root), &["new", "m", "--lang", "js"], &[], None);
    assert_eq!(o.code, 1, "{o:?}");
}

/// The psql-only forms docs/cli.md shows: the file read on the client, as a
/// hex variable or a large object.
#[test]
fn psql_alone_loads_a_module_from_the_client() {
    let db = "pg_wasm_client_cli_psql";
    let mut c = fresh_db(db);
    let dir = scratch("psql");
    let geo = guest("geo.wasm");
    let script = dir.join("load.sql");
    write(
        &script,
        &format!(
            "\\set hex `xxd -p {geo} | tr -d '\\n'`\n\
             SELECT count(*) FROM wasm.load('g1', decode(:'hex', 'hex'));\n\
             \\lo_import {geo}\n\
             SELECT count(*) FROM wasm.load('g2', lo_get(:LASTOID));\n\
             SELECT lo_unlink(:LASTOID);\n"
        ),
    );
    // Debian's psql, for every server version (as the Makefile's pg_regress).
    let o = Command::new("/usr/lib/postgresql/15/bin/psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &dsn(db), "-f"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let row = c
        .query_one("SELECT g1_gcd(12, 18), g2_gcd(12, 18)", &[])
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (6, 6));
}

/// The PostgreSQL under test's programs (PG_CONFIG's bindir).
fn pg_bindir() -> PathBuf {
    let pg_config = std::env::var("PG_CONFIG")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pg_config".into());
    let out = Command::new(pg_config).arg("--bindir").output().unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// `cmd` as the postgres user (the tests run as root or as postgres).
fn as_postgres(program: &Path) -> Command {
    if unsafe_is_root() {
        let mut c = Command::new("sudo");
        c.args(["-u", "postgres"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn unsafe_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A cluster of its own that accepts TCP connections over TLS only,
/// with a self-signed certificate for "localhost"; stopped when dropped.
struct TlsCluster {
    data: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = as_postgres(&pg_bindir().join("pg_ctl"))
            .args([
                "-D",
                &self.data.display().to_string(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

fn tls_cluster() -> TlsCluster {
    let dir = scratch("tls");
    let data = dir.join("data");
    let port = 28790;
    let sh = |cmd: &mut Command, what: &str| {
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    // A cluster left running by an interrupted run goes first.
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("fuser -k {port}/tcp >/dev/null 2>&1"))
        .output();
    sh(
        Command::new("openssl")
            .current_dir(&dir)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            ])
            .args([
                "-keyout",
                "server.key",
                "-out",
                "server.crt",
                "-subj",
                "/CN=localhost",
            ]),
        "openssl",
    );
    if unsafe_is_root() {
        sh(
            Command::new("chown").args(["-R", "postgres"]).arg(&dir),
            "chown",
        );
    }
    sh(
        Command::new("chmod").arg("600").arg(dir.join("server.key")),
        "chmod",
    );
    sh(
        as_postgres(&pg_bindir().join("initdb")).args([
            "-D",
            &data.display().to_string(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ]),
        "initdb",
    );
    let conf = format!(
        "port = {port}\nlisten_addresses = 'localhost'\nunix_socket_directories = '{d}'\n\
         ssl = on\nssl_cert_file = '{d}/server.crt'\nssl_key_file = '{d}/server.key'\n",
        d = dir.display()
    );
    let append = |file: &str, text: &str, replace: bool| {
        let path = data.join(file);
        let mut old = if replace {
            String::new()
        } else {
            std::fs::read_to_string(&path).unwrap()
        };
        old.push_str(text);
        std::fs::write(&path, old).unwrap();
    };
    append("postgresql.conf", &conf, false);
    append(
        "pg_hba.conf",
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        true,
    );
    sh(
        as_postgres(&pg_bindir().join("pg_ctl")).args([
            "-D",
            &data.display().to_string(),
            "-l",
            &dir.join("server.log").display().to_string(),
            "-w",
            "start",
        ]),
        "pg_ctl start",
    );
    let cluster = TlsCluster { data, dir, port };
    let mut c = Client::connect(
        &format!(
            "host={} port={port} user=postgres dbname=postgres",
            cluster.dir.display()
        ),
        NoTls,
    )
    .unwrap();
    c.batch_execute("CREATE EXTENSION pg_wasm").unwrap();
    cluster
}

/// Whether the PostgreSQL under test was built with TLS (the PyPI builds
/// of 16 and 18 used for the other versions' tiers are not).
fn server_has_ssl() -> bool {
    let pg_config = std::env::var("PG_CONFIG")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pg_config".into());
    let out = Command::new(pg_config).arg("--configure").output().unwrap();
    let flags = String::from_utf8_lossy(&out.stdout);
    flags.contains("--with-openssl") || flags.contains("--with-ssl")
}

#[test]
fn deploy_over_tls_checks_the_certificate_as_sslmode_asks() {
    if !server_has_ssl() {
        eprintln!("this PostgreSQL is built without TLS: the TLS test runs on PostgreSQL 15");
        return;
    }
    let cluster = tls_cluster();
    let wat = cluster.dir.join("t.wat");
    write(
        &wat,
        r#"(module (func (export "one") (result i32) i32.const 1))"#,
    );
    let w = wat.display().to_string();
    let dsn = |extra: &str| {
        format!(
            "host=localhost port={} user=postgres dbname=postgres {extra}",
            cluster.port
        )
    };
    let ca = cluster.dir.join("server.crt").display().to_string();
    // verify-full against the server's own certificate: the chain and the
    // host name check out.
    let o = pg_wasm(&[
        "deploy",
        &w,
        "--name",
        "over_tls",
        "-d",
        &dsn(&format!("sslmode=verify-full sslrootcert={ca}")),
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    // The server takes TLS only: without it there is no way in.
    let o = pg_wasm(&["stats", "-d", &dsn("sslmode=disable")]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("pg_hba.conf"), "{o:?}");
    // verify-full without the root certificate: a self-signed one fails.
    let o = pg_wasm(&["stats", "-d", &dsn("sslmode=verify-full")]);
    assert_eq!(o.code, 2, "{o:?}");
    // require encrypts without checking (libpq's meaning), from PGSSLMODE
    // too; a URI works as well.
    let o = pg_wasm_in(
        None,
        &["stats", "-d", &dsn("")],
        &[("PGSSLMODE", "require")],
        None,
    );
    assert_eq!(o.code, 0, "{o:?}");
    let uri = format!(
        "postgresql://postgres@localhost:{}/postgres?sslmode=require",
        cluster.port
    );
    let o = pg_wasm(&["deploy", &w, "--name", "over_uri", "-d", &uri]);
    assert_eq!(o.code, 0, "{o:?}");
    let o = pg_wasm(&["stats", "-d", &dsn("sslmode=bogus")]);
    assert_eq!(o.code, 2, "{o:?}");
}
