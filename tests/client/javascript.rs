//! LANGUAGE javascript from separate connections: a spinning function and
//! a long compile are stopped by cancel and statement_timeout; random
//! JavaScript sources and arguments, created and called by a role with no
//! privilege beyond CREATE on a schema, end in a result or an ordinary
//! error and never take the server down; a new connection's first call
//! maps the engine compiled by another.

#[path = "fuzz_language.rs"]
mod fuzz_language;
#[path = "support.rs"]
mod support;
use fuzz_language::Rng;
use postgres::error::SqlState;
use std::time::{Duration, Instant};
use support::*;

/// A connection with a spinning JavaScript function and fuel unlimited.
fn js_spinner(db: &str) -> (Client, i32) {
    let mut c = fresh_db(db);
    c.batch_execute(
        "CREATE FUNCTION spin() RETURNS int LANGUAGE javascript AS $$ let i = 0; for (;;) { i++; } $$;
         SET pg_wasm.fuel_limit = 0;",
    )
    .unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    (c, pid)
}

#[test]
fn pg_cancel_backend_stops_spinning_javascript() {
    let db = "pg_wasm_client_js_cancel";
    let (mut c, pid) = js_spinner(db);
    let handle = std::thread::spawn(move || {
        let r = c.batch_execute("SELECT spin()");
        (r, Instant::now(), c)
    });
    let mut watcher = connect(db);
    wait_until("spin() running", || {
        watcher
            .query_one(
                "SELECT state = 'active' AND query LIKE '%spin()%' FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .unwrap()
            .get(0)
    });
    std::thread::sleep(Duration::from_millis(300));
    let stopped_at = Instant::now();
    watcher
        .query_one("SELECT pg_cancel_backend($1)", &[&pid])
        .unwrap();
    let (r, ended_at, mut c) = handle.join().unwrap();
    let err = r.expect_err("spin() returned");
    let took = ended_at.duration_since(stopped_at);
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    eprintln!("pg_cancel_backend: JavaScript stopped after {took:?}");
    assert_eq!(call_i32(&mut c, "SELECT 41 + 1"), 42);
}

#[test]
fn statement_timeout_stops_spinning_javascript_and_a_long_compile() {
    let (mut c, _) = js_spinner("pg_wasm_client_js_timeout");
    c.batch_execute("SET statement_timeout = '250ms'").unwrap();
    let started = Instant::now();
    let err = c.batch_execute("SELECT spin()").unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    assert!(format!("{err:?}").contains("statement timeout"), "{err:?}");
    assert!(took < Duration::from_millis(1250), "took {took:?}");
    eprintln!("statement_timeout 250 ms: JavaScript stopped after {took:?}");

    // A body that takes seconds to compile (the validator compiles it at
    // CREATE FUNCTION, inside the sandbox): stopped the same way, and no
    // function is left behind.
    c.batch_execute("SET pg_wasm.memory_limit_mb = 1024; SET statement_timeout = '300ms'")
        .unwrap();
    let body = format!(
        "let a = 0;\n{}return a;",
        "a = (a + 1) * 3 % 7 - (a >> 1);\n".repeat(400_000)
    );
    let started = Instant::now();
    let err = c
        .batch_execute(&format!(
            "CREATE FUNCTION slow_to_compile() RETURNS int LANGUAGE javascript AS $js${body}$js$"
        ))
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    eprintln!(
        "statement_timeout 300 ms: a {} MB body's compile stopped after {took:?}",
        body.len() >> 20
    );
    c.batch_execute("RESET statement_timeout").unwrap();
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_proc WHERE proname = 'slow_to_compile'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert_eq!(call_i32(&mut c, "SELECT 1"), 1);
}

#[test]
fn a_new_connection_maps_the_compiled_engine() {
    let db = "pg_wasm_client_js_first_call";
    let mut c = fresh_db(db);
    c.batch_execute(
        "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE javascript AS $$ return a + b; $$",
    )
    .unwrap();
    assert_eq!(call_i32(&mut c, "SELECT add(1, 2)"), 3);
    // Every later connection maps what the first compiled: its first call
    // takes milliseconds (a compile takes over a second here).
    for _ in 0..3 {
        let mut fresh = connect(db);
        let started = Instant::now();
        assert_eq!(call_i32(&mut fresh, "SELECT add(20, 22)"), 42);
        let took = started.elapsed();
        eprintln!("first JavaScript call in a new connection: {took:?}");
        assert!(
            took < Duration::from_millis(500),
            "the engine was compiled again ({took:?})"
        );
    }
}

/// SQLSTATEs random JavaScript may legitimately end in.
const STATES: &[&str] = &[
    "P0001", // an exception
    "42P13", // a syntax error at CREATE FUNCTION
    "54000", // fuel
    "53200", // memory
    "57014", // timeout
    "38000", // a trap (none expected, but not a crash)
    "22003", // a number out of range for the result type
    "22P02", // a result that does not parse as its type
    "22007", // a result that does not parse as a date or time
    "42704", // a plan parameter of an unknown type
    "22021", // a string that is not valid in the server encoding
    "42501", // plv8.execute of something the role may not do
    "42601", // plv8.execute of a syntax error
    "42883", // plv8.execute of a missing function
    "42P01", // plv8.execute of a missing table
    "42703", // plv8.execute of a missing column
    "25006", // plv8.execute writing in a read-only function
    "0A000", // idem, in a STABLE function
    "54001", // stack depth, through plv8.execute recursion
    "2201B", // an invalid regular expression in SQL
    "22P05", // a NUL in text
    "XX000", // not expected; reported below if it happens
];

/// Snippets that try to hurt: recursion, huge strings and arrays,
/// allocation loops, catastrophic regexps, getters that throw in
/// JSON.stringify, promises, generators, Proxies, eval, plv8 misuse.
const SNIPPETS: &[&str] = &[
    "function r() { return r(); } return r();",
    "return 'x'.repeat(1 << 28);",
    "const a = []; for (;;) a.push({k: a.length});",
    "return new Array(1e9).fill(1).length;",
    "return /^(a+)+$/.test('a'.repeat(40) + 'b');",
    "return JSON.stringify({get x() { throw new Error('getter'); }});",
    "return Promise.resolve(1);",
    "function* g() { for (;;) yield 1; } let n = 0; for (const v of g()) { n += v; } return n;",
    "return new Proxy({}, { get() { throw new Error('proxy'); } }).x;",
    "return eval('1 + ' + arguments[0]);",
    "return Function('return this')().plv8 ? 1 : 0;",
    "return plv8.execute('SELECT ' + arguments[0]);",
    "return plv8.execute('DROP TABLE pg_class');",
    "return plv8.execute('SELECT pg_sleep(100)');",
    "const c = plv8.prepare('SELECT g FROM generate_series(1, 1e9::bigint) g').cursor(); let n = 0; while (c.fetch() !== undefined) n++; return n;",
    "const p = plv8.prepare('SELECT $1::int', ['no_such_type']); return p.cursor(arguments[0]).fetch(1e9);",
    "for (let i = 0; i < 100; i++) plv8.prepare('SELECT 1').cursor(); return 1;",
    "const c = plv8.prepare('SELECT 1 / (g - 3) FROM generate_series(1, 5) g').cursor(); c.close(); c.close(); return c.fetch();",
    "plv8.return_next(1); return 2;",
    "return plv8.find_function('no_such_function')(1);",
    "return 9007199254740993n ** 100n;",
    "return '\\u0000';",
    "return '\\ud800';",
    "return {a: 1n};",
    "throw {not: 'an error'};",
    "throw null;",
    "return new Date(NaN);",
    "return Symbol('s');",
    "return [].constructor.constructor('return 1')();",
    "const o = {}; o.self = o; return o;",
    "return new Uint8Array(1 << 27).length;",
    "return (function f(n) { return n ? f(n - 1) + 1 : 0; })(1e6);",
    "return Array.from({length: 1e7}, (_, i) => i).length;",
    "while (true) { new ArrayBuffer(1 << 20); }",
    "return String.fromCharCode(...new Array(200000).fill(65));",
    "return plv8.elog(ERROR, 'e');",
    "return plv8.elog(12345, 'e');",
    "return WebAssembly;",
    "return typeof globalThis.__pgjs_call_set === 'function' ? __pgjs_call_set(null, []) : 0;",
    "Object.defineProperty(Object.prototype, 'toJSON', { value() { throw 1; } }); return {};",
    "Math.random = null; return 1;",
    "globalThis.plv8 = 1; return plv8;",
];

/// Tokens random bodies are built from.
const TOKENS: &[&str] = &[
    "return",
    "a",
    "b",
    "arguments",
    "[0]",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ";",
    "+",
    "-",
    "*",
    "/",
    "%",
    "=",
    "==",
    "===",
    "!",
    "?",
    ":",
    ",",
    ".",
    "length",
    "map",
    "x => x",
    "1",
    "0",
    "-1",
    "1e308",
    "NaN",
    "null",
    "undefined",
    "'s'",
    "\"é\"",
    "`t${a}`",
    "[1,2]",
    "{k: 1}",
    "new",
    "Date",
    "Array",
    "Object",
    "JSON",
    "parse",
    "stringify",
    "Math",
    "floor",
    "random",
    "throw",
    "Error",
    "try",
    "catch",
    "(e)",
    "if",
    "else",
    "for",
    "while",
    "let",
    "const",
    "var",
    "function",
    "=>",
    "async",
    "await",
    "yield",
    "class",
    "this",
    "typeof",
    "instanceof",
    "in",
    "of",
    "delete",
    "void",
    "plv8",
    "elog",
    "execute",
    "NOTICE",
    "return_next",
    "quote_literal",
    "BigInt",
    "10n",
    "Symbol",
    "Proxy",
    "Reflect",
    "eval",
    "repeat",
    "slice",
    "split",
    "join",
    "replace",
    "/a+/g",
];

fn random_body(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => SNIPPETS[rng.below(SNIPPETS.len())].to_string(),
        1 => {
            // A snippet with some noise around it.
            let mut s = String::new();
            for _ in 0..rng.below(6) {
                s.push_str(TOKENS[rng.below(TOKENS.len())]);
                s.push(' ');
            }
            s.push_str(SNIPPETS[rng.below(SNIPPETS.len())]);
            s
        }
        _ => {
            let mut s = String::from("return ");
            for _ in 0..rng.below(30) + 1 {
                s.push_str(TOKENS[rng.below(TOKENS.len())]);
                s.push(' ');
            }
            s
        }
    }
}

const SIGNATURES: &[(&str, &str)] = &[
    ("a int, b int", "int"),
    ("a text, b text", "text"),
    ("a jsonb, b int[]", "jsonb"),
    ("a float8, b bool", "float8"),
    ("a bytea, b date", "bytea"),
    ("a numeric, b timestamptz", "numeric"),
    ("a int8, b text", "SETOF int8"),
    ("a text, b int", "TABLE(x int, y text)"),
    ("a int, b int", "bool"),
    ("a text, b text", "date"),
];

const ARGS: &[&str] = &[
    "1, 2",
    "'x', 'y'",
    "'{\"k\": [1, 2]}', ARRAY[1, NULL]",
    "1.5, true",
    "'\\x00ff', '2024-02-29'",
    "1e20, now()",
    "9007199254740993, ''",
    "'é', -1",
    "NULL, NULL",
    "'1', '2'",
];

#[test]
fn random_javascript_never_crashes_the_server() {
    fuzz_language::run(&fuzz_language::Fuzz {
        language: "javascript",
        settings: "SET pg_wasm.fuel_limit = 20000000; SET pg_wasm.memory_limit_mb = 32; SET statement_timeout = '2s';",
        random_body,
        signatures: SIGNATURES,
        args: ARGS,
        states: STATES,
    });
}

/// Two npm packages (dayjs, slugify), fetched from the registry and bundled
/// into one CommonJS file each by scripts/build-guests.sh, stored with
/// wasm.load_javascript by a role without privileges and used from SQL.
#[test]
fn npm_packages_stored_in_the_database_are_required_by_functions() {
    let guests = std::env::var("PG_WASM_GUESTS").expect("PG_WASM_GUESTS (make guests)");
    let db = "pg_wasm_client_js_npm";
    let restored = "pg_wasm_client_js_npm_restored";
    // A run before this one left the role's objects in both databases.
    connect("postgres")
        .batch_execute(&format!("DROP DATABASE IF EXISTS {restored} WITH (FORCE)"))
        .unwrap();
    let mut admin = fresh_db(db);
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS client_js_npm; CREATE ROLE client_js_npm LOGIN;
             CREATE SCHEMA app AUTHORIZATION client_js_npm;",
        )
        .unwrap();
    let mut c = Client::connect(&format!("{} user=client_js_npm", dsn(db)), NoTls).unwrap();
    for pkg in ["dayjs", "slugify"] {
        let source = std::fs::read_to_string(format!("{guests}/js/{pkg}.js")).unwrap();
        let replaced: bool = c
            .query_one("SELECT wasm.load_javascript($1, $2)", &[&pkg, &source])
            .unwrap()
            .get(0);
        assert!(!replaced);
    }
    c.batch_execute(
        "SET search_path = app;
         CREATE FUNCTION due(issued date, months int) RETURNS text LANGUAGE javascript AS $$
           const dayjs = require('dayjs');
           return dayjs(issued).add(months, 'month').format('YYYY-MM-DD dddd');
         $$;
         CREATE FUNCTION slug(t text) RETURNS text LANGUAGE javascript IMMUTABLE AS $$
           return require('slugify')(t, { lower: true, strict: true });
         $$;
         CREATE TABLE posts (id int, title text);
         INSERT INTO posts SELECT g, 'Crème Brûlée № ' || g FROM generate_series(1, 1000) g;",
    )
    .unwrap();
    let due: String = c
        .query_one("SELECT due('2024-01-31', 1)", &[])
        .unwrap()
        .get(0);
    assert_eq!(due, "2024-02-29 Thursday");
    let slug: String = c
        .query_one("SELECT slug('Crème Brûlée, Déjà Vu!')", &[])
        .unwrap()
        .get(0);
    assert_eq!(slug, "creme-brulee-deja-vu");
    // Per row: the library is loaded once per statement.
    let started = Instant::now();
    let n: i64 = c
        .query_one("SELECT count(DISTINCT slug(title)) FROM posts", &[])
        .unwrap()
        .get(0);
    eprintln!("slugify (npm) over 1 000 rows: {:?}", started.elapsed());
    assert_eq!(n, 1000);
    // Another role's function cannot require client_js_npm's libraries.
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS client_js_other; CREATE ROLE client_js_other;
             GRANT USAGE, CREATE ON SCHEMA app TO client_js_other;
             SET ROLE client_js_other;
             CREATE FUNCTION app.other_slug(t text) RETURNS text LANGUAGE javascript AS $$
               return require('slugify')(t);
             $$;
             RESET ROLE;",
        )
        .unwrap();
    let err = admin
        .query_one("SELECT app.other_slug('x')", &[])
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::RAISE_EXCEPTION), "{err:?}");
    assert!(
        format!("{err:?}").contains("belongs to role client_js_npm"),
        "{err:?}"
    );

    // pg_dump and pg_restore keep the libraries (with their owner) and the
    // functions: the restored database answers the same.
    admin
        .batch_execute("DROP FUNCTION app.other_slug(text)")
        .unwrap();
    dump_and_restore(db, restored);
    let mut r = connect(restored);
    let owner: String = r
        .query_one(
            "SELECT owner::text FROM wasm.javascript_libraries WHERE name = 'dayjs'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "client_js_npm");
    let due: String = r
        .query_one("SELECT app.due('2024-01-31', 1)", &[])
        .unwrap()
        .get(0);
    assert_eq!(due, "2024-02-29 Thursday");
}
