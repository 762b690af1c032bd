-- Tenant-proof (issue 10), limits: compiles that can be cancelled and are
-- bounded for roles that are not superusers; host errors keep their
-- SQLSTATE; host strings with NUL are refused.
SET client_min_messages = warning;
CREATE ROLE t_limits;
GRANT EXECUTE ON FUNCTION wasm.load_wat(text, text, jsonb) TO t_limits;
GRANT CREATE ON SCHEMA public TO t_limits;
CREATE TABLE big AS
  SELECT wasm.wat_to_wasm('(module ' || repeat('(func)', 100000) || ')') AS b;
GRANT SELECT ON big TO t_limits;
-- 6. too many functions for a role that is not a superuser
SET ROLE t_limits;
SELECT count(*) FROM wasm.inspect((SELECT b FROM big));
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- 6. a superuser may compile it, and statement_timeout still ends the wait
SET statement_timeout = '200ms';
SELECT count(*) FROM wasm.inspect((SELECT b FROM big));
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT 1 AS still_working;
-- 8. an error inside pg.query in a start function keeps its SQLSTATE
SELECT wasm.load_wat('startq', '(module
  (import "pg" "query" (func $q (param i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "SELECT * FROM no_such_table_here")
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
  (func $s (drop (call $q (i32.const 0) (i32.const 32) (i32.const 0) (i32.const 0))))
  (start $s)
  (func (export "f") (result i32) i32.const 1))', '{"allow_spi": true}');
SELECT startq_f();
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.unload('startq', cascade => true);
-- 8. a NUL in a pg.log or pg.error message is refused, not cut short
SET ROLE t_limits;
SELECT wasm.load_wat('nul', '(module
  (import "pg" "log" (func $log (param i32 i32 i32)))
  (import "pg" "error" (func $err (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "visible\00hidden")
  (func (export "log") (call $log (i32.const 4) (i32.const 0) (i32.const 14)))
  (func (export "err") (call $err (i32.const 0) (i32.const 14))))');
SELECT nul_log();
\echo :LAST_ERROR_SQLSTATE
SELECT nul_err();
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.unload('nul', cascade => true);
-- 8. json nested deeper than serde's 128 levels is valid json
CREATE FUNCTION pg_temp.deep(json) RETURNS json LANGUAGE wasm AS '(module (memory (export "memory") 1)
 (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
 (func (export "deep") (param i32 i32) (result i64)
   local.get 0 i64.extend_i32_u i64.const 32 i64.shl local.get 1 i64.extend_i32_u i64.or))';
SELECT length(pg_temp.deep((repeat('[', 500) || repeat(']', 500))::json)::text);
RESET ROLE;
DROP TABLE big;
DROP OWNED BY t_limits;
DROP ROLE t_limits;
