//! Random modules from wasm-smith, loaded and called through SQL. The
//! backend must never crash: every module either loads or is refused with
//! 22023, and every call either returns or fails with a limit or trap
//! SQLSTATE. PG_WASM_FUZZ_CASES sets the number of modules (default 300),
//! PG_WASM_FUZZ_SEED the first seed.

#[path = "support.rs"]
mod support;
use arbitrary::Unstructured;
use support::*;

/// SQLSTATEs a random module may legitimately end a call with.
const CALL_STATES: &[&str] = &[
    "54000", // fuel
    "53200", // memory
    "57014", // timeout
    "38000", // trap
    "22003", // result out of range for int2/bool
];

/// A fixed pseudo-random stream (xorshift), so a failing seed reproduces.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn module(seed: u64) -> Option<Vec<u8>> {
    let data = bytes(seed, 4096);
    let mut u = Unstructured::new(&data);
    let config = wasm_smith::Config {
        max_imports: 0,
        min_funcs: 1,
        min_exports: 1,
        max_funcs: 8,
        max_instructions: 200,
        export_everything: true,
        max_memory32_bytes: 4 << 20,
        memory64_enabled: false,
        threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        // Typed references need wasmtime's GC support, which pg_wasm does
        // not build; such modules are refused (22023), which proves little.
        reference_types_enabled: false,
        // Multi-value results get no automatic SQL function; keep exports callable.
        multi_value_enabled: false,
        tail_call_enabled: false,
        ..wasm_smith::Config::default()
    };
    wasm_smith::Module::new(config, &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

fn state(e: &postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("{e}"))
}

#[test]
fn random_modules_never_crash_the_backend() {
    let cases: u64 = std::env::var("PG_WASM_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let first: u64 = std::env::var("PG_WASM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut c = fresh_db("pg_wasm_client_fuzz");
    c.batch_execute(
        "SET pg_wasm.fuel_limit = 200000; SET pg_wasm.timeout_ms = 1000;
         SET pg_wasm.memory_limit_mb = 16; SET client_min_messages = error",
    )
    .unwrap();
    let (mut loaded, mut refused, mut calls, mut ok_calls) = (0, 0, 0, 0);
    for seed in first..first + cases {
        let Some(wasm) = module(seed) else { continue };
        let load = c.execute(
            "SELECT wasm.load('fz', $1, '{\"functions\": \"auto\"}')",
            &[&wasm],
        );
        if let Err(e) = load {
            assert_eq!(state(&e), "22023", "seed {seed}: load failed with {e:?}");
            if std::env::var_os("PG_WASM_FUZZ_VERBOSE").is_some() {
                eprintln!(
                    "seed {seed}: refused: {}",
                    e.as_db_error().map_or("", |d| d.message())
                );
            }
            refused += 1;
            continue;
        }
        loaded += 1;
        let fns = c
            .query(
                "SELECT p.oid::regproc::text,
                        array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t)
                   FROM pg_proc p WHERE p.prosrc LIKE 'fz.%' ORDER BY 1",
                &[],
            )
            .unwrap();
        for f in fns {
            let name: String = f.get(0);
            let types: Vec<String> = f.get(1);
            for arg in ["0", "1", "-7"] {
                let args: Vec<String> = types.iter().map(|t| format!("{arg}::{t}")).collect();
                let sql = format!("SELECT {name}({})::text", args.join(", "));
                calls += 1;
                match c.query_one(sql.as_str(), &[]) {
                    Ok(_) => ok_calls += 1,
                    Err(e) => assert!(
                        CALL_STATES.contains(&state(&e).as_str()),
                        "seed {seed}: {sql} failed with {e:?}"
                    ),
                }
            }
        }
        c.execute("SELECT wasm.unload('fz', cascade => true)", &[])
            .unwrap_or_else(|e| panic!("seed {seed}: unload failed with {e:?}"));
    }
    eprintln!(
        "fuzz: seeds {first}..{}: {loaded} modules loaded, {refused} refused, {calls} calls ({ok_calls} returned)",
        first + cases
    );
    assert!(loaded > cases / 2, "most generated modules should load");
    assert!(calls > 0);
}

/// The same random modules, as a tenant would use them: a role that is not
/// a superuser loads them, binds functions with `check_function_bodies`
/// off (no validator) to its exports and to another role's module, with
/// domains over scalars, arrays and composites as result types. Every call
/// ends in a result or a clean error, never a crash or another role's data.
#[test]
fn random_modules_as_a_tenant_with_the_validator_off() {
    let cases: u64 = std::env::var("PG_WASM_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(100, |n| n / 3 + 1);
    let mut c = fresh_db("pg_wasm_client_fuzz_tenant");
    c.batch_execute(
        "SET client_min_messages = error;
         DROP ROLE IF EXISTS fz_tenant; DROP ROLE IF EXISTS fz_owner;
         CREATE ROLE fz_tenant; CREATE ROLE fz_owner;
         GRANT CREATE ON SCHEMA public TO fz_tenant, fz_owner;
         GRANT EXECUTE ON FUNCTION wasm.load(text, bytea, jsonb), wasm.load_wat(text, text, jsonb)
           TO fz_tenant, fz_owner;
         SET ROLE fz_owner;
         SELECT wasm.load_wat('fz_other', '(module (memory (export \"memory\") 1)
           (data (i32.const 64) \"secret\")
           (func (export \"pg_wasm_alloc\") (param i32) (result i32) i32.const 1024)
           (func (export \"get\") (result i64) i64.const 274877906950))', '{\"functions\": \"none\"}');
         RESET ROLE;
         CREATE DOMAIN fz_dint AS integer CHECK (VALUE > 0);
         CREATE DOMAIN fz_dbig AS bigint NOT NULL;
         CREATE DOMAIN fz_darr AS integer[] CHECK (cardinality(VALUE) < 4);
         CREATE TYPE fz_pair AS (a integer, b text);
         CREATE DOMAIN fz_dpair AS fz_pair CHECK ((VALUE).a IS NOT NULL);
         SET ROLE fz_tenant;
         SET check_function_bodies = off;
         SET pg_wasm.fuel_limit = 200000; SET pg_wasm.timeout_ms = 1000;
         SET pg_wasm.memory_limit_mb = 16;",
    )
    .unwrap();
    const RESULTS: &[&str] = &[
        "fz_dint",
        "fz_dbig",
        "fz_darr",
        "fz_dpair",
        "text",
        "integer",
        "bigint",
        "double precision",
    ];
    const STATES: &[&str] = &[
        "54000", "53200", "57014", "38000", "22003", // limits and traps
        "42P13", // signature does not fit (no validator ran)
        "23514", "23502", // domain CHECK / NOT NULL
        "22P02", "22021", // result text that does not parse / is not text
        "0A000", // an unsupported shape
    ];
    let (mut calls, mut refused_foreign) = (0, 0);
    for seed in 1..=cases {
        let Some(wasm) = module(seed) else { continue };
        if c.execute(
            "SELECT wasm.load('fzt', $1, '{\"functions\": \"none\"}')",
            &[&wasm],
        )
        .is_err()
        {
            continue;
        }
        let exports = c
            .query(
                "SELECT name, coalesce(array_length(params, 1), 0)
                   FROM wasm.inspect($1) WHERE kind = 'export func'",
                &[&wasm],
            )
            .unwrap();
        for (i, e) in exports.iter().enumerate() {
            let export: String = e.get(0);
            let nparams: i32 = e.get(1);
            if export.is_empty()
                || export.trim() != export
                || export
                    .chars()
                    .any(|ch| ch.is_control() || ch == '\'' || ch == '\\')
            {
                continue;
            }
            let ret = RESULTS[(seed as usize + i) % RESULTS.len()];
            let args = vec!["integer"; nparams as usize].join(", ");
            let f = format!("fzt_{i}");
            c.batch_execute(&format!(
                "CREATE FUNCTION {f}({args}) RETURNS {ret} LANGUAGE wasm AS 'fzt.{export}'"
            ))
            .unwrap_or_else(|e| panic!("seed {seed}: create {f} failed: {e:?}"));
            let call_args = vec!["1"; nparams as usize].join(", ");
            calls += 1;
            if let Err(e) = c.query(&format!("SELECT {f}({call_args})::text"), &[]) {
                assert!(
                    STATES.contains(&state(&e).as_str()),
                    "seed {seed}: {f} -> {ret} failed with {e:?}"
                );
            }
        }
        // Someone else's module: refused even with the validator off.
        let stolen = c.batch_execute(
            "CREATE FUNCTION fzt_steal() RETURNS text LANGUAGE wasm AS 'fz_other.get'",
        );
        assert_eq!(
            stolen.as_ref().err().map(state).as_deref(),
            Some("42501"),
            "seed {seed}"
        );
        refused_foreign += 1;
        c.execute("SELECT wasm.unload('fzt', cascade => true)", &[])
            .unwrap_or_else(|e| panic!("seed {seed}: unload failed with {e:?}"));
    }
    eprintln!(
        "fuzz as a tenant: {cases} seeds, {calls} calls, {refused_foreign} foreign binds refused"
    );
    assert!(calls > 0 && refused_foreign > 0);
}
