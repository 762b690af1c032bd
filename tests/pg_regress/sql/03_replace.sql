-- wasm.replace, wasm.unload, wasm.configure.
SET client_min_messages = warning;
SELECT wasm.load_wat('price', '(module
  (func (export "net") (param f64) (result f64) local.get 0 f64.const 1.2 f64.div)
  (func (export "round") (param i64) (result i64) local.get 0))');
CREATE VIEW price_view AS SELECT price_net(120) AS net;
SELECT 'price_net(float8)'::regprocedure::oid AS net_oid \gset
SELECT net FROM price_view;

-- New code, same functions (same OIDs), views keep working.
SELECT wasm.replace('price', wasm.wat_to_wasm('(module
  (func (export "net") (param f64) (result f64) local.get 0 f64.const 1.25 f64.div)
  (func (export "round") (param i64) (result i64) local.get 0 i64.const 10 i64.div_s))'));
SELECT net FROM price_view;
SELECT 'price_net(float8)'::regprocedure::oid = :net_oid AS same_oid;
SELECT price_round(1234);
SELECT generation > 1 AS new_generation, replaced_at IS NOT NULL AS replaced FROM wasm.modules WHERE name = 'price';

-- Replace with new exports and options: functions created only for what is asked.
SELECT wasm.replace('price', wasm.wat_to_wasm('(module
  (func (export "net") (param f64) (result f64) local.get 0 f64.const 1.25 f64.div)
  (func (export "round") (param i64) (result i64) local.get 0 i64.const 10 i64.div_s)
  (func (export "gross") (param f64) (result f64) local.get 0 f64.const 1.25 f64.mul))'),
  '{"functions": "auto"}');
SELECT price_gross(100);

-- Refused, nothing changed: an export in use disappears or changes signature.
SELECT wasm.replace('price', wasm.wat_to_wasm('(module
  (func (export "net") (param f64) (result f64) local.get 0))'));
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.replace('price', wasm.wat_to_wasm('(module
  (func (export "net") (param f32) (result f32) local.get 0)
  (func (export "round") (param i64) (result i64) local.get 0)
  (func (export "gross") (param f64) (result f64) local.get 0))'));
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.replace('price', '\x00'::bytea);
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.replace('nosuch', wasm.wat_to_wasm('(module)'));
\echo :LAST_ERROR_SQLSTATE
SELECT net FROM price_view;

-- A rolled-back replace leaves the old code in use, in this session too.
BEGIN;
SELECT wasm.replace('price', wasm.wat_to_wasm('(module
  (func (export "net") (param f64) (result f64) f64.const -1)
  (func (export "round") (param i64) (result i64) i64.const -1)
  (func (export "gross") (param f64) (result f64) f64.const -1))'));
SELECT net FROM price_view;
ROLLBACK;
SELECT net FROM price_view;

-- configure: module limits, tighter than the GUCs; null resets a key.
SELECT wasm.load_wat('spin', '(module (func (export "loop") (param i32) (result i32) (local i32)
  (block (loop (br_if 1 (i32.ge_u (local.get 1) (local.get 0)))
     (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br 0)))
  (local.get 1)))');
SELECT spin_loop(1000);
SELECT wasm.configure('spin', '{"fuel": 5000}');
SELECT spin_loop(100);
SELECT spin_loop(1000);
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.configure('spin', '{"fuel": null, "memory_mb": 2}');
SELECT spin_loop(1000);
SELECT limits FROM wasm.modules WHERE name = 'spin';
SELECT wasm.configure('spin', '{"fuel": "lots"}');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.configure('spin', '{"colour": "red"}');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.configure('spin', '{"allow_spi": "yes"}');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.configure('nosuch', '{}');
\echo :LAST_ERROR_SQLSTATE

-- unload: refused while functions use the module, unless cascade.
SELECT wasm.unload('price');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.unload('price', cascade => true);
SELECT to_regclass('price_view') AS view_dropped, to_regprocedure('price_net(float8)') AS fn_dropped;
SELECT wasm.unload('price');
\echo :LAST_ERROR_SQLSTATE
DROP FUNCTION spin_loop(integer);
SELECT wasm.unload('spin');
SELECT name FROM wasm.modules WHERE name IN ('price', 'spin');
