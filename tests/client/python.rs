//! LANGUAGE python from separate connections: a spinning function is
//! stopped by pg_cancel_backend and statement_timeout; random Python
//! bodies and arguments, created and called by a role with no privilege
//! beyond CREATE on a schema, end in a result or an ordinary error and
//! never take the server down; a new connection's first call maps the
//! engine compiled by another.

#[path = "fuzz_language.rs"]
mod fuzz_language;
#[path = "support.rs"]
mod support;
use fuzz_language::Rng;
use postgres::error::SqlState;
use std::time::{Duration, Instant};
use support::*;

/// A connection with a spinning Python function and fuel unlimited.
fn py_spinner(db: &str) -> (Client, i32) {
    let mut c = fresh_db(db);
    c.batch_execute(
        "CREATE FUNCTION spin() RETURNS int LANGUAGE python AS $$
i = 0
while True:
    i += 1
$$;
         SET pg_wasm.fuel_limit = 0;",
    )
    .unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    (c, pid)
}

#[test]
fn pg_cancel_backend_stops_spinning_python() {
    let db = "pg_wasm_client_py_cancel";
    let (mut c, pid) = py_spinner(db);
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
    eprintln!("pg_cancel_backend: Python stopped after {took:?}");
    assert_eq!(call_i32(&mut c, "SELECT 41 + 1"), 42);
}

#[test]
fn statement_timeout_stops_spinning_python() {
    let (mut c, _) = py_spinner("pg_wasm_client_py_timeout");
    c.batch_execute("SET statement_timeout = '250ms'").unwrap();
    let started = Instant::now();
    let err = c.batch_execute("SELECT spin()").unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    assert!(format!("{err:?}").contains("statement timeout"), "{err:?}");
    assert!(took < Duration::from_millis(1250), "took {took:?}");
    eprintln!("statement_timeout 250 ms: Python stopped after {took:?}");
    // Also inside a subtransaction with SQL: rolled back, the session fine.
    c.batch_execute(
        "CREATE TABLE t (x int);
         CREATE FUNCTION spin_in_sub() RETURNS int LANGUAGE python AS $$
with plpy.subtransaction():
    plpy.execute('INSERT INTO t VALUES (1)')
    while True:
        pass
$$;",
    )
    .unwrap();
    let err = c.batch_execute("SELECT spin_in_sub()").unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    c.batch_execute("RESET statement_timeout").unwrap();
    assert_eq!(call_i32(&mut c, "SELECT count(*)::int FROM t"), 0);
}

#[test]
fn a_new_connection_maps_the_compiled_engine() {
    let db = "pg_wasm_client_py_first_call";
    let mut c = fresh_db(db);
    c.batch_execute(
        "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE python AS $$ return a + b $$",
    )
    .unwrap();
    assert_eq!(call_i32(&mut c, "SELECT add(1, 2)"), 3);
    for _ in 0..3 {
        let mut fresh = connect(db);
        let started = Instant::now();
        assert_eq!(call_i32(&mut fresh, "SELECT add(20, 22)"), 42);
        let took = started.elapsed();
        eprintln!("first Python call in a new connection: {took:?}");
        assert!(
            took < Duration::from_millis(500),
            "the engine was compiled again ({took:?})"
        );
    }
}

/// SQLSTATEs random Python may legitimately end in.
const STATES: &[&str] = &[
    "P0001", // an exception
    "42P13", // a syntax error at CREATE FUNCTION
    "54000", // fuel
    "53200", // memory
    "57014", // timeout
    "38000", // a trap (none expected, but not a crash)
    "22003", // a number out of range for the result type
    "22P02", // a result that does not parse as its type
    "42704", // a plan parameter of an unknown type
    "22007", // a result that does not parse as a date
    "22008", // a date out of range
    "22021", // a string that is not valid in the server encoding
    "22P05", // a NUL in text
    "42501", // plpy.execute of something the role may not do
    "42601", // plpy.execute of a syntax error
    "42883", // plpy.execute of a missing function
    "42P01", // plpy.execute of a missing table
    "42703", // plpy.execute of a missing column
    "22012", // plpy.error(sqlstate='22012'), or a division by zero in SQL
    "25006", // plpy.execute writing in a read-only function
    "0A000", // idem, in a STABLE function
    "54001", // stack depth, through plpy.execute recursion
    "XX000", // not expected; reported below if it happens
];

/// Snippets that try to hurt: recursion, huge strings and lists,
/// allocation loops, catastrophic regexps, the sandbox's walls, plpy
/// misuse, the prelude's internals.
const SNIPPETS: &[&str] = &[
    "def r():\n    return r()\nreturn r()",
    "return 'x' * (1 << 28)",
    "a = []\nwhile True:\n    a.append({'k': len(a)})",
    "return len([1] * 10**9)",
    "import re\nreturn bool(re.match(r'^(a+)+$', 'a' * 40 + 'b'))",
    "return open('/etc/passwd').read()",
    "import os\nreturn os.listdir('/')",
    "import os\nreturn os.environ",
    "import sys\nsys.exit(3)",
    "import os\nos._exit(1)",
    "raise SystemExit",
    "raise KeyboardInterrupt",
    "import gc\ngc.collect()\nreturn 1",
    "import sys\nsys.setrecursionlimit(10**6)\ndef r(n):\n    return r(n + 1)\nreturn r(0)",
    "return plpy.execute('SELECT ' + str(a))",
    "return plpy.execute('DROP TABLE pg_class')",
    "return plpy.execute('SELECT pg_sleep(100)')",
    "return sum(1 for r in plpy.cursor('SELECT g FROM generate_series(1, 1000000000) g'))",
    "return plpy.cursor(plpy.prepare('SELECT $1', ['no_such_type']), [a]).fetch(10**9)",
    "return [plpy.cursor('SELECT 1') for i in range(100)]",
    "c = plpy.cursor('SELECT 1 / (g - 3) FROM generate_series(1, 5) g')\nc.close()\nc.close()\nreturn c.fetch(1)",
    "return [x for x in plpy.cursor('SELECT generate_series(1, 1000000)')]",
    "with plpy.subtransaction():\n    raise ValueError('x')",
    "s = plpy.subtransaction()\ns.__enter__()\nreturn 1",
    "return 10 ** 10000",
    "return '\\x00'",
    "return '\\ud800'",
    "return object()",
    "return {1: object()}",
    "o = {}\no['self'] = o\nreturn o",
    "return bytes(1 << 27)",
    "yield from range(10**6)",
    "while True:\n    bytearray(1 << 20)",
    "import _pg_native\nreturn _pg_native.execute('SELECT 1', '[]')",
    "import builtins\nbuiltins.__import__ = None\nreturn 1",
    "import sys\nsys.modules.clear()\nreturn 1",
    "GD['x'] = GD\nreturn len(GD)",
    "plpy.error('e', sqlstate='22012')",
    "plpy.error('e', sqlstate='bad')",
    "plpy.fatal('f')",
    "exec('import os; os.system(\"id\")')",
    "return eval('1 + ' + str(a))",
    "import ctypes",
    "import socket\nreturn socket.socket()",
    "import time\ntime.sleep(100)",
    "import threading\nthreading.Thread(target=lambda: 1).start()",
];

/// Tokens random bodies are built from.
const TOKENS: &[&str] = &[
    "return",
    "a",
    "b",
    "args",
    "[0]",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    ".",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "=",
    "==",
    "!=",
    "not",
    "and",
    "or",
    "if",
    "else",
    "for",
    "in",
    "while",
    "lambda",
    "x",
    "1",
    "0",
    "-1",
    "1e308",
    "float('nan')",
    "None",
    "True",
    "'s'",
    "\"é\"",
    "len",
    "str",
    "int",
    "list",
    "dict",
    "range",
    "sorted",
    "map",
    "sum",
    "plpy",
    "execute",
    "notice",
    "quote_literal",
    "GD",
    "SD",
    "TD",
    "yield",
    "raise",
    "ValueError",
    "try",
    "except",
    "import",
    "re",
    "json",
    "datetime",
    "decimal",
    "Decimal",
    "\n",
    "\n    ",
    "pass",
    "global",
    "del",
    "is",
    "assert",
    "with",
    "as",
    "class",
    "def",
    "*args",
    "b'x'",
    "[1, 2]",
    "{'k': 1}",
];

fn random_body(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => SNIPPETS[rng.below(SNIPPETS.len())].to_string(),
        1 => {
            let mut s = String::new();
            for _ in 0..rng.below(4) {
                s.push_str(TOKENS[rng.below(TOKENS.len())]);
                s.push(' ');
            }
            s.push('\n');
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
fn random_python_never_crashes_the_server() {
    fuzz_language::run(&fuzz_language::Fuzz {
        language: "python",
        settings: "SET pg_wasm.fuel_limit = 50000000; SET pg_wasm.memory_limit_mb = 64; SET statement_timeout = '2s';",
        random_body,
        signatures: SIGNATURES,
        args: ARGS,
        states: STATES,
    });
}
