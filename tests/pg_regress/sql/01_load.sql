-- wasm.load / wasm.load_wat: validation, auto functions, options, catalog views.
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
\getenv guests PG_WASM_GUESTS

-- Auto functions: one per export with a numeric signature, named <module>_<export>.
SELECT wasm.load_wat('math', '(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "mul64") (param i64 i64) (result i64) local.get 0 local.get 1 i64.mul)
  (func (export "scale") (param f32) (result f32) local.get 0 f32.const 2.5 f32.mul)
  (func (export "hyp") (param f64 f64) (result f64)
    local.get 0 local.get 0 f64.mul local.get 1 local.get 1 f64.mul f64.add f64.sqrt)
  (func (export "nothing"))
  (func (export "pair") (result i32 i32) i32.const 1 i32.const 2)
  (memory (export "memory") 1))');
SELECT math_add(40, 2), math_mul64(3000000000, 3), math_scale(1.5), math_hyp(3, 4);
SELECT math_nothing();
SELECT math_add(2147483647, 1) AS wraps;
SELECT math_add(NULL, 1) AS strict_null;
SELECT name, owner, size, length(sha256) AS sha_len, generation > 0 AS has_generation,
       jsonb_array_length(exports) AS exports, limits, replaced_at
  FROM wasm.modules;
SELECT * FROM wasm.functions ORDER BY export;
SELECT p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p WHERE p.oid = 'math_add(int4,int4)'::regprocedure;

-- A Rust guest and a C guest, built from guest-examples/ by scripts/build-guests.sh.
SELECT wasm.load('geo', pg_read_binary_file(:'guests' || '/geo.wasm'));
SELECT round(geo_haversine(48.8566, 2.3522, 51.5074, -0.1278)::numeric) AS paris_london_m,
       geo_clamp(7.5, 0, 5), geo_fib(90), geo_gcd(-1071, 462);
SELECT wasm.load('cstats', pg_read_binary_file(:'guests' || '/stats.wasm'), '{"prefix": "c_"}');
SELECT round(c_sigmoid(0)::numeric, 6), round(c_sigmoid(2)::numeric, 6), c_lerp(10, 20, 0.25),
       c_popcount(-1), c_popcount(255);

-- options: functions none / explicit, schema, prefix
CREATE SCHEMA other;
SELECT wasm.load_wat('quiet', '(module (func (export "f") (result i32) i32.const 7))',
                     '{"functions": "none"}');
SELECT count(*) FROM wasm.functions WHERE module = 'quiet';
SELECT wasm.load_wat('named', '(module
    (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add)
    (func (export "g") (param i32) (result i32) local.get 0))',
  '{"schema": "other", "functions": {"f": {"name": "inc", "args": ["smallint"], "returns": "integer",
     "volatility": "immutable", "parallel": "restricted", "strict": false}}}');
SELECT wasm.load_wat('named2', '(module
    (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add))',
  '{"schema": "other", "prefix": "p_", "functions": {"f": {"args": ["smallint"], "returns": "smallint"}}}');
SELECT other.p_f(41::int2), other.inc(NULL::int2) IS NULL AS lenient_null;
SELECT other.p_f(32767::int2);
\echo :LAST_ERROR_SQLSTATE
SELECT p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p WHERE p.oid = 'other.inc(int2)'::regprocedure;

-- Errors: nothing is stored after any of them.
SELECT wasm.load_wat('Bad-Name', '(module)');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('math', '(module)');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('broken', '(module (func');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load('garbage', '\x0102030405'::bytea);
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load('truncated', '\x0061736d0100000001'::bytea);
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('invalid', '(module (func (export "f") (result i32) i64.const 1))');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('wasi', '(module (import "wasi_snapshot_preview1" "fd_write"
    (func (param i32 i32 i32 i32) (result i32))))');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('opts', '(module)', '{"nope": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('opts', '(module)', '{"functions": 3}');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('opts', '(module)', '{"fuel": -1}');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('opts', '(module (func (export "f")))', '{"functions": {"f": {"args": ["no_such_type"]}}}');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('opts', '(module (func (export "f")))', '{"functions": {"g": {}}}');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('opts', '(module (func (export "f") (param i32)))', '{"functions": {"f": {"args": ["text"]}}}');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('clash', '(module (func (export "add") (param i32 i32) (result i32) local.get 0))',
                     '{"prefix": "math_"}');
\echo :LAST_ERROR_SQLSTATE
SET pg_wasm.max_module_size_mb = 1;
SET pg_wasm.max_wat_kb = 2048;
SELECT wasm.load_wat('big', '(module (memory 20) (data (i32.const 0) "' || repeat('x', 1100000) || '"))');
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.max_wat_kb;
-- WebAssembly text itself is bounded too (parsing it takes many times its size).
SELECT wasm.wat_to_wasm('(module (memory 20) (data (i32.const 0) "' || repeat('x', 1100000) || '"))');
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.max_module_size_mb;
SELECT name FROM wasm.modules ORDER BY name;
SELECT count(*) AS functions FROM wasm.functions;

-- Transactional: a rolled-back load leaves no module, no function, no code in use.
BEGIN;
SELECT wasm.load_wat('temp', '(module (func (export "one") (result i32) i32.const 1))');
SELECT temp_one();
ROLLBACK;
SELECT count(*) FROM wasm.modules WHERE name = 'temp';
SELECT to_regprocedure('temp_one()');
SELECT wasm.load_wat('temp', '(module (func (export "one") (result i32) i32.const 2))');
SELECT temp_one();

-- wasm.inspect: imports and exports without loading.
SELECT * FROM wasm.inspect(wasm.wat_to_wasm('(module
  (import "env" "log" (func (param i32 i32)))
  (global (export "g") i64 (i64.const 1))
  (memory (export "mem") 1)
  (func (export "f") (param i32 f64) (result i64) i64.const 0))'));
SELECT * FROM wasm.inspect('\x00'::bytea);
\echo :LAST_ERROR_SQLSTATE

-- A read-only transaction (every transaction of a hot standby) cannot
-- change modules: PostgreSQL's read-only error (25006), before any work.
BEGIN READ ONLY;
SELECT wasm.load_wat('ro', '(module)');
ROLLBACK;
BEGIN READ ONLY;
SELECT wasm.configure('ro', '{}');
ROLLBACK;
