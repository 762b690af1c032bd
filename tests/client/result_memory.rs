//! Host memory for a guest's result is bounded (pg_wasm.max_result_mb):
//! for each kind of result, the backend's peak resident size (VmHWM,
//! read through pg_read_file) above its size before the call is compared
//! with the guest's own memory plus the documented bound, and a result
//! over the budget fails with 54000 before it is converted — also for a
//! role that is not a superuser at the largest memory limit it may set.
//! A component's result is bounded by the budget as a whole: the `Val`s
//! wasmtime lifts it into are capped at half of it, the conversion at it.

#[path = "support.rs"]
mod support;
use support::*;

/// `fill(n)` exports: the guest writes `pre`, `n` times `unit`, and `post`
/// (the unit's trailing comma overwritten by `post`'s first byte) and
/// returns it. Memory grows to fit.
const GUEST: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 0)
  (func $fill (param $n i32) (param $unit i32) (param $ulen i32)
              (param $pre i32) (param $plen i32) (param $post i32) (param $qlen i32) (result i64)
    (local $i i32) (local $p i32) (local $q i32) (local $len i32)
    (local.set $len (i32.add (i32.mul (local.get $n) (local.get $ulen))
                             (i32.add (local.get $plen) (local.get $qlen))))
    (drop (memory.grow (i32.add (i32.shr_u (local.get $len) (i32.const 16)) (i32.const 2))))
    (local.set $p (i32.const 65536))
    (memory.copy (local.get $p) (local.get $pre) (local.get $plen))
    (local.set $q (i32.add (local.get $p) (local.get $plen)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (local.get $n)))
      (memory.copy (local.get $q) (local.get $unit) (local.get $ulen))
      (local.set $q (i32.add (local.get $q) (local.get $ulen)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    ;; drop the last unit's comma
    (local.set $q (i32.sub (local.get $q) (i32.const 1)))
    (memory.copy (local.get $q) (local.get $post) (local.get $qlen))
    (local.set $len (i32.sub (i32.add (local.get $q) (local.get $qlen)) (local.get $p)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  (data (i32.const 100) "0,")
  (data (i32.const 110) "\"\",")
  (data (i32.const 120) "{\"a\":0},")
  (data (i32.const 130) "xxxxxxxxxxxxxxxx")
  (data (i32.const 200) "[")
  (data (i32.const 202) "]")
  (data (i32.const 204) "[[")
  (data (i32.const 208) "]]")
  (data (i32.const 212) "{\"a\":[")
  (data (i32.const 220) "]}")
  (data (i32.const 224) "\"")
  (func (export "zeros") (param i32) (result i64)
    (call $fill (local.get 0) (i32.const 100) (i32.const 2) (i32.const 200) (i32.const 1) (i32.const 202) (i32.const 1)))
  (func (export "empties") (param i32) (result i64)
    (call $fill (local.get 0) (i32.const 110) (i32.const 3) (i32.const 200) (i32.const 1) (i32.const 202) (i32.const 1)))
  (func (export "objects") (param i32) (result i64)
    (call $fill (local.get 0) (i32.const 120) (i32.const 8) (i32.const 200) (i32.const 1) (i32.const 202) (i32.const 1)))
  (func (export "one_row") (param i32) (result i64)
    (call $fill (local.get 0) (i32.const 100) (i32.const 2) (i32.const 204) (i32.const 2) (i32.const 208) (i32.const 2)))
  (func (export "in_column") (param i32) (result i64)
    (call $fill (local.get 0) (i32.const 100) (i32.const 2) (i32.const 212) (i32.const 6) (i32.const 220) (i32.const 2)))
  ;; n x 16 bytes of text (the "comma" dropped is one x)
  (func (export "text") (param i32) (result i64)
    (call $fill (local.get 0) (i32.const 130) (i32.const 16) (i32.const 224) (i32.const 0) (i32.const 224) (i32.const 0))))"#;

const MB: i64 = 1 << 20;
/// What a backend's peak may move by for reasons of its own (catalog
/// caches, plans, the guest's instance and the allocator's slack).
const SLACK: i64 = 24 * MB;

fn setup(db: &str) -> Client {
    let mut c = fresh_db(db);
    c.batch_execute(&format!(
        "SELECT wasm.load_wat('g', $w${GUEST}$w$, '{{\"functions\": \"none\"}}');
         CREATE TYPE holder AS (a int[]);
         CREATE TYPE jholder AS (a jsonb);
         CREATE FUNCTION int_array(int) RETURNS int[] LANGUAGE wasm STRICT AS 'g.zeros';
         CREATE FUNCTION text_array(int) RETURNS text[] LANGUAGE wasm STRICT AS 'g.empties';
         CREATE FUNCTION jsonb_zeros(int) RETURNS jsonb LANGUAGE wasm STRICT AS 'g.zeros';
         CREATE FUNCTION jsonb_objects(int) RETURNS jsonb LANGUAGE wasm STRICT AS 'g.objects';
         CREATE FUNCTION json_zeros(int) RETURNS json LANGUAGE wasm STRICT AS 'g.zeros';
         CREATE FUNCTION composite(int) RETURNS holder LANGUAGE wasm STRICT AS 'g.in_column';
         CREATE FUNCTION jcomposite(int) RETURNS jholder LANGUAGE wasm STRICT AS 'g.in_column';
         CREATE FUNCTION set_of_int(int) RETURNS SETOF int LANGUAGE wasm STRICT AS 'g.zeros';
         CREATE FUNCTION set_of_arrays(int) RETURNS SETOF int[] LANGUAGE wasm STRICT AS 'g.one_row';
         CREATE FUNCTION plain_text(int) RETURNS text LANGUAGE wasm STRICT AS 'g.text';
         CREATE FUNCTION plain_bytea(int) RETURNS bytea LANGUAGE wasm STRICT AS 'g.text';
         DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_tenant') THEN
             CREATE ROLE rm_tenant;
           END IF;
         END $$;
         GRANT pg_read_server_files TO rm_tenant;
         GRANT EXECUTE ON FUNCTION pg_read_file(text) TO rm_tenant;"
    ))
    .unwrap();
    c
}

/// Peak resident bytes of the backend above its peak before `sql`, and
/// the statement's outcome (`Err(SQLSTATE)`).
fn peak(db: &str, role: Option<&str>, sql: &str) -> (i64, Result<(), String>) {
    peak_with(db, "", role, sql)
}

/// [`peak`] after `settings` (run as the superuser, before `SET ROLE`).
fn peak_with(db: &str, settings: &str, role: Option<&str>, sql: &str) -> (i64, Result<(), String>) {
    let mut c = connect(db);
    c.batch_execute(settings).unwrap();
    if let Some(r) = role {
        c.batch_execute(&format!("SET ROLE {r}")).unwrap();
    }
    c.batch_execute(
        "SET pg_wasm.memory_limit_mb = 4096; SET pg_wasm.fuel_limit = 0;
         SET work_mem = '4MB'",
    )
    .unwrap();
    let hwm = |c: &mut Client| -> i64 {
        let kb: i32 = c
            .query_one(
                "SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1]::int",
                &[],
            )
            .unwrap()
            .get(0);
        kb as i64 * 1024
    };
    let before = hwm(&mut c);
    let outcome = c
        .batch_execute(sql)
        .map_err(|e| e.code().map(|s| s.code().to_string()).unwrap_or_default());
    (hwm(&mut c) - before, outcome)
}

struct Case {
    sql: String,
    /// Bytes of JSON (or text) the guest returns.
    bytes: i64,
    /// The documented bound for the host's share (limits.md).
    bound: i64,
}

/// `3 × bytes + 96 × values` (parsed as a tree), plus what jsonb_in adds;
/// arrays are read element by element: `3 × bytes + 64 × values`.
fn tree(bytes: i64, values: i64) -> i64 {
    3 * bytes + 96 * values
}
fn array(bytes: i64, values: i64) -> i64 {
    3 * bytes + 64 * values
}
fn jsonb(bytes: i64, values: i64) -> i64 {
    tree(bytes, values) + 2 * bytes + 320 * values
}

fn cases() -> Vec<(&'static str, Case)> {
    let n = 1_000_000i64;
    vec![
        (
            "int[]",
            Case {
                sql: format!("SELECT cardinality(int_array({n}))"),
                bytes: 2 * n + 1,
                bound: array(2 * n, n + 1),
            },
        ),
        (
            "text[]",
            Case {
                sql: format!("SELECT cardinality(text_array({n}))"),
                bytes: 3 * n + 1,
                bound: array(3 * n, n + 1),
            },
        ),
        (
            "jsonb",
            Case {
                sql: format!("SELECT length(jsonb_zeros({})::text)", n / 4),
                bytes: n / 2,
                bound: jsonb(n / 2, n / 4),
            },
        ),
        (
            "jsonb objects",
            Case {
                sql: format!("SELECT length(jsonb_objects({})::text)", n / 8),
                bytes: n,
                bound: jsonb(n, 3 * n / 8),
            },
        ),
        (
            "json",
            Case {
                sql: format!("SELECT length(json_zeros({})::text)", 10 * n),
                bytes: 20 * n,
                // json keeps its text: checked, copied once (and once more by
                // ::text here)
                bound: 3 * 20 * n,
            },
        ),
        (
            "composite",
            Case {
                sql: format!("SELECT cardinality((composite({n})).a)"),
                bytes: 2 * n + 8,
                bound: tree(2 * n, n + 2),
            },
        ),
        (
            "composite with jsonb",
            Case {
                sql: format!("SELECT length((jcomposite({})).a::text)", n / 4),
                bytes: n / 2 + 8,
                bound: jsonb(n / 2, n / 4 + 2),
            },
        ),
        (
            "SETOF int",
            Case {
                sql: format!("SELECT count(*) FROM set_of_int({})", 10 * n),
                bytes: 20 * n,
                // one row at a time; the tuplestore spills past work_mem
                bound: 8 * MB,
            },
        ),
        (
            "text",
            Case {
                sql: format!("SELECT length(plain_text({}))", 4 * n),
                bytes: 64 * n,
                bound: 2 * 64 * n,
            },
        ),
        (
            "bytea",
            Case {
                sql: format!("SELECT length(plain_bytea({}))", 4 * n),
                bytes: 64 * n,
                bound: 2 * 64 * n,
            },
        ),
    ]
}

#[test]
fn every_result_kind_stays_within_its_bound() {
    let db = "pg_wasm_client_result_memory";
    setup(db);
    for (kind, case) in cases() {
        let (used, outcome) = peak(db, None, &case.sql);
        outcome.unwrap_or_else(|e| panic!("{kind}: {e}"));
        // The guest's memory holds the bytes (and is resident too).
        let limit = case.bytes + case.bound + SLACK;
        eprintln!(
            "{kind}: {} bytes from the guest, peak +{:.1} MB (bound {:.1} MB), {:.1}x",
            case.bytes,
            used as f64 / MB as f64,
            limit as f64 / MB as f64,
            used as f64 / case.bytes as f64
        );
        assert!(used <= limit, "{kind}: peak +{used} bytes > {limit}");
    }
}

#[test]
fn results_over_the_budget_fail_before_they_are_converted() {
    let db = "pg_wasm_client_result_budget";
    setup(db);
    // 40 M values of int[] (80 MB of JSON) as a tenant at the largest
    // memory limit: before the budget, 2 GB of host memory.
    let over = [
        ("int[]", "SELECT cardinality(int_array(40000000))", 80 * MB),
        (
            "text[]",
            "SELECT cardinality(text_array(10000000))",
            30 * MB,
        ),
        (
            "jsonb",
            "SELECT length(jsonb_zeros(10000000)::text)",
            20 * MB,
        ),
        (
            "composite",
            "SELECT (composite(10000000)).a IS NULL",
            20 * MB,
        ),
        (
            "one row of a set",
            "SELECT count(*) FROM set_of_arrays(10000000)",
            20 * MB,
        ),
    ];
    for (kind, sql, guest) in over {
        let (used, outcome) = peak(db, Some("rm_tenant"), sql);
        assert_eq!(outcome, Err("54000".to_string()), "{kind}");
        eprintln!(
            "{kind} over the budget: refused, peak +{:.1} MB for {:.1} MB of guest JSON",
            used as f64 / MB as f64,
            guest as f64 / MB as f64
        );
        assert!(used <= guest + SLACK, "{kind}: peak +{used} bytes");
    }
    // The tenant cannot raise the budget.
    let mut c = connect(db);
    c.batch_execute("SET ROLE rm_tenant").unwrap();
    let err = c
        .batch_execute("SET pg_wasm.max_result_mb = 100000")
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42501", "{err}");
}

/// A component (only roles granted wasm.load load one; a tenant calls
/// it): `bytes(n)` a `list<u8>`, `words(n)` n one-letter strings,
/// `rows(n)` n records `{a: u8}` (one guest byte each), `text(n)` a
/// string of n bytes.
const COMPONENT: &str = r#"(component
  (core module $m
    (memory (export "memory") 1)
    (func $grow (param $n i32)
      (drop (memory.grow (i32.add (i32.shr_u (local.get $n) (i32.const 16)) (i32.const 2)))))
    (func $list (param $n i32) (result i32)
      (i32.store (i32.const 16) (i32.const 65536))
      (i32.store (i32.const 20) (local.get $n))
      (i32.const 16))
    (func (export "bytes") (param $n i32) (result i32)
      (call $grow (local.get $n))
      (call $list (local.get $n)))
    (func (export "words") (param $n i32) (result i32) (local $i i32) (local $p i32)
      (call $grow (i32.mul (local.get $n) (i32.const 8)))
      (i32.store8 (i32.const 8) (i32.const 120))
      (local.set $p (i32.const 65536))
      (block $d (loop $l
        (br_if $d (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (local.get $p) (i32.const 8))
        (i32.store (i32.add (local.get $p) (i32.const 4)) (i32.const 1))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (call $list (local.get $n)))
    (func (export "text") (param $n i32) (result i32)
      (call $grow (local.get $n))
      (memory.fill (i32.const 65536) (i32.const 120) (local.get $n))
      (call $list (local.get $n))))
  (core instance $i (instantiate $m))
  (type $row (record (field "a" u8)))
  (export $row_t "row" (type $row))
  (func (export "bytes") (param "n" u32) (result (list u8))
    (canon lift (core func $i "bytes") (memory (core memory $i "memory"))))
  (func (export "rows") (param "n" u32) (result (list $row_t))
    (canon lift (core func $i "bytes") (memory (core memory $i "memory"))))
  (func (export "words") (param "n" u32) (result (list string))
    (canon lift (core func $i "words") (memory (core memory $i "memory"))))
  (func (export "text") (param "n" u32) (result string)
    (canon lift (core func $i "text") (memory (core memory $i "memory")))))"#;

#[test]
fn component_results_stay_within_the_budget() {
    let db = "pg_wasm_client_component_results";
    let mut c = setup(db);
    c.batch_execute(&format!(
        "SELECT wasm.load_wat('c', $w${COMPONENT}$w$, '{{\"functions\": \"none\"}}');
         CREATE TYPE crow AS (a smallint);
         CREATE FUNCTION c_bytes(bigint) RETURNS bytea LANGUAGE wasm STRICT AS 'c.bytes';
         CREATE FUNCTION c_words(bigint) RETURNS text[] LANGUAGE wasm STRICT AS 'c.words';
         CREATE FUNCTION c_text(bigint) RETURNS text LANGUAGE wasm STRICT AS 'c.text';
         CREATE FUNCTION c_rows(bigint) RETURNS crow[] LANGUAGE wasm STRICT AS 'c.rows';
         CREATE FUNCTION c_row_set(bigint) RETURNS SETOF crow LANGUAGE wasm STRICT AS 'c.rows';"
    ))
    .unwrap();
    // A small budget keeps the test quick: the bound scales with it.
    let budget = 64 * MB;
    let settings = "SET pg_wasm.max_result_mb = 64";
    // (kind, statement, guest bytes, refused?)
    let cases: [(&str, &str, i64, bool); 12] = [
        (
            "list<u8> as bytea",
            "SELECT length(c_bytes(600000))",
            600_000,
            false,
        ),
        (
            "list<string> as text[]",
            "SELECT cardinality(c_words(300000))",
            2_400_000,
            false,
        ),
        (
            "string as text",
            "SELECT length(c_text(20000000))",
            20_000_000,
            false,
        ),
        (
            "list<record> as crow[]",
            "SELECT cardinality(c_rows(100000))",
            100_000,
            false,
        ),
        (
            "list<record> as SETOF crow",
            "SELECT count(*) FROM c_row_set(150000)",
            150_000,
            false,
        ),
        // Records just within what the lift may count (81 bytes each of
        // 32 MB) are the most the lift builds (~340 bytes each): the set
        // converts them one at a time, the array is refused before it is
        // converted.
        (
            "list<record> at the lift's limit as SETOF crow",
            "SELECT count(*) FROM c_row_set(400000)",
            400_000,
            false,
        ),
        (
            "list<record> at the lift's limit as crow[]",
            "SELECT cardinality(c_rows(400000))",
            400_000,
            true,
        ),
        // Over: before the budget, list<u8> took ~45x its bytes, records
        // ~340x (1.6 M records took 530 MB).
        (
            "list<u8> as bytea",
            "SELECT length(c_bytes(20000000))",
            20_000_000,
            true,
        ),
        (
            "list<string> as text[]",
            "SELECT cardinality(c_words(4000000))",
            32_000_000,
            true,
        ),
        (
            "string as text",
            "SELECT length(c_text(100000000))",
            100_000_000,
            true,
        ),
        (
            "list<record> as crow[]",
            "SELECT cardinality(c_rows(2000000))",
            2_000_000,
            true,
        ),
        (
            "list<record> as SETOF crow",
            "SELECT count(*) FROM c_row_set(2000000)",
            2_000_000,
            true,
        ),
    ];
    for (kind, sql, guest, refused) in cases {
        let (used, outcome) = peak_with(db, settings, Some("rm_tenant"), sql);
        if refused {
            assert_eq!(outcome, Err("54000".to_string()), "{kind}: {sql}");
        } else {
            outcome.unwrap_or_else(|e| panic!("{kind}: {sql}: {e}"));
        }
        // The lift at most ~2x the half it is allowed, the conversion the
        // budget: 2.5x the budget, on top of the guest's own memory.
        let limit = guest + budget * 5 / 2 + SLACK;
        eprintln!(
            "component {kind}{}: {guest} guest bytes, peak +{:.1} MB (bound {:.1} MB)",
            if refused { " (refused)" } else { "" },
            used as f64 / MB as f64,
            limit as f64 / MB as f64
        );
        assert!(used <= limit, "{kind}: {sql}: peak +{used} bytes > {limit}");
    }
}
