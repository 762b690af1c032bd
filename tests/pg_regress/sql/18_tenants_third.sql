-- Tenant-proof, rounds two and three: no module squatting under another
-- role's function, no reading other roles' errors in wasm.stats, no
-- adopting another tenant's composite type, no seeing other databases'
-- artifacts, no raising the log budget.
SET client_min_messages = warning;
\getenv guests PG_WASM_GUESTS
CREATE ROLE t3_tenant;
CREATE ROLE t3_other;
CREATE ROLE t3_reader;
GRANT CREATE ON SCHEMA public TO t3_tenant, t3_other;
GRANT EXECUTE ON FUNCTION wasm.load(text, bytea, jsonb), wasm.load_wat(text, text, jsonb)
  TO t3_tenant, t3_other;

-- 1. A superuser's function made before its module exists (a restore, a
-- migration) does not bind to a module a tenant loads later under that
-- name: being a superuser is not owning the module.
SET check_function_bodies = off;
CREATE FUNCTION public.admin_report() RETURNS text LANGUAGE wasm
  SECURITY DEFINER SET search_path = pg_catalog AS 'later.report';
CREATE FUNCTION public.admin_report_invoker() RETURNS text LANGUAGE wasm
  AS 'later.report';
-- and a tenant's function, made before another tenant's module
SET ROLE t3_other;
CREATE FUNCTION public.other_report() RETURNS text LANGUAGE wasm AS 'later.report';
RESET ROLE;
RESET check_function_bodies;
SET ROLE t3_tenant;
-- report() runs pg.query('SELECT current_user AS u') and returns its JSON
SELECT wasm.load_wat('later', '(module
  (import "pg" "query" (func $q (param i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "SELECT current_user AS u")
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "report") (result i64)
    (call $q (i32.const 0) (i32.const 24) (i32.const 0) (i32.const 0))))',
  '{"functions": "none", "allow_spi": true}');
CREATE FUNCTION public.tenant_report() RETURNS text LANGUAGE wasm AS 'later.report';
SELECT public.tenant_report();
RESET ROLE;
SET ROLE t3_reader;
SELECT public.admin_report();
\echo :LAST_ERROR_SQLSTATE
SELECT public.admin_report_invoker();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT public.admin_report();
\echo :LAST_ERROR_SQLSTATE
-- the validator says the same when a superuser creates it with bodies on
CREATE FUNCTION public.admin_report2() RETURNS text LANGUAGE wasm AS 'later.report';
\echo :LAST_ERROR_SQLSTATE
-- Binding on purpose: the function becomes the module owner's, and runs as
-- that role (never as the superuser).
ALTER FUNCTION public.admin_report() OWNER TO t3_tenant;
SET ROLE t3_reader;
SELECT public.admin_report();
RESET ROLE;
-- A tenant's function made before another tenant's module: refused too.
SET ROLE t3_reader;
SELECT public.other_report();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- 2. wasm.stats: an error's text (which can hold the caller's data) is
-- shown to the function's owner, a superuser and the role whose call
-- raised it; a role without EXECUTE on the function sees no row at all.
SET ROLE t3_tenant;
CREATE FUNCTION public.to_date_wasm(text) RETURNS date LANGUAGE wasm STRICT AS '(module
  (memory (export "memory") 1)
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 64)
  (func (export "to_date_wasm") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get 0)) (i64.const 32))
            (i64.extend_i32_u (local.get 1)))))';
REVOKE EXECUTE ON FUNCTION public.to_date_wasm(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.to_date_wasm(text) TO t3_other;
RESET ROLE;
SET ROLE t3_other;
CREATE TABLE public.secrets_b (s text);
INSERT INTO public.secrets_b VALUES ('TOPSECRET-B');
SELECT public.to_date_wasm(s) FROM public.secrets_b;
SELECT function, calls, traps, last_error FROM wasm.stats
 WHERE function = 'public.to_date_wasm(text)'::regprocedure;
RESET ROLE;
SET ROLE t3_reader;
-- no EXECUTE: no row, no text
SELECT count(*) FILTER (WHERE function = 'public.to_date_wasm(text)'::regprocedure) AS rows_seen,
       count(*) FILTER (WHERE last_error LIKE '%TOPSECRET%') AS secrets_seen
  FROM wasm.stats;
RESET ROLE;
GRANT EXECUTE ON FUNCTION public.to_date_wasm(text) TO t3_reader;
SET ROLE t3_reader;
-- EXECUTE: the figures, but not another role's error
SELECT function, calls, last_error FROM wasm.stats
 WHERE function = 'public.to_date_wasm(text)'::regprocedure;
RESET ROLE;
SET ROLE t3_tenant;
-- the owner sees the error of a call made by another role
SELECT function, calls, last_error FROM wasm.stats
 WHERE function = 'public.to_date_wasm(text)'::regprocedure;
RESET ROLE;
-- a dropped function's figures go (from the cluster's table too, the next
-- time anyone in this database reads wasm.stats)
SELECT 'public.to_date_wasm(text)'::regprocedure::oid AS td_oid \gset
DROP TABLE public.secrets_b;
DROP FUNCTION public.to_date_wasm(text);
SELECT count(*) AS rows_of_dropped FROM wasm.stats WHERE function::oid = :td_oid;

-- 3. A tenant cannot adopt another tenant's composite type; an unload
-- never drops a type the module did not make, even a superuser's
-- cascading one.
CREATE SCHEMA s3;
GRANT CREATE, USAGE ON SCHEMA s3 TO t3_tenant, t3_other;
SET ROLE t3_other;
CREATE TYPE s3.orders_order_line AS (sku text, qty integer, price double precision);
CREATE TABLE s3.b_lines (l s3.orders_order_line);
INSERT INTO s3.b_lines VALUES (ROW('B-1', 2, 3.5));
RESET ROLE;
SELECT pg_read_binary_file(:'guests' || '/orders.wasm') AS orders_bytes \gset
SET ROLE t3_tenant;
SELECT count(*) FROM wasm.load('orders', :'orders_bytes'::bytea, '{"schema": "s3"}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM wasm.modules WHERE name = 'orders';
RESET ROLE;
-- A superuser's load may reuse the type, but does not make it its own.
SELECT count(*) > 0 AS loaded FROM wasm.load('orders', :'orders_bytes'::bytea, '{"schema": "s3"}');
SELECT e->>'sql' AS type, e->>'created' AS created
  FROM wasm.modules m, jsonb_array_elements(m.exports) e
 WHERE m.name = 'orders' AND e->>'kind' = 'type' ORDER BY 1;
SELECT wasm.unload('orders', true);
SELECT to_regtype('s3.orders_order_line') IS NOT NULL AS b_type_kept,
       to_regtype('s3.orders_order') IS NULL AS module_type_dropped;
SELECT * FROM s3.b_lines;

-- 4. wasm.cache: other databases' artifacts are not shown to roles that
-- are not superusers.
CREATE DATABASE pg_wasm_regress_other;
\c pg_wasm_regress_other
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
SELECT wasm.load_wat('only_there', '(module (func (export "f") (result i32) i32.const 4242))');
SELECT sha256 AS only_there_sha FROM wasm.cache WHERE 'only_there' = ANY(modules) \gset
\c pg_wasm_regress
SET client_min_messages = warning;
SELECT count(*) AS superuser_sees FROM wasm.cache WHERE sha256 = :'only_there_sha';
SET ROLE t3_reader;
SELECT count(*) AS tenant_sees FROM wasm.cache WHERE sha256 = :'only_there_sha';
RESET ROLE;
DROP DATABASE pg_wasm_regress_other;

-- 5. The log budget is the superuser's to set.
SET ROLE t3_tenant;
SET pg_wasm.max_log_kb_per_call = 100000;
SET pg_wasm.max_log_kb_per_statement = 100000;
RESET ROLE;
SHOW pg_wasm.max_log_kb_per_call;
SHOW pg_wasm.max_log_kb_per_statement;

-- 6. A trigger chain: a wasm trigger whose guest inserts into its own
-- table through pg.query, which fires it again. It ends in a clean error
-- (PostgreSQL's stack depth limit, the guest's stack, or the backend's
-- instance pool: each level holds an instance), nothing is left behind,
-- and the session goes on.
SELECT wasm.load_wat('chain', '(module
  (import "pg" "query" (func $q (param i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "INSERT INTO public.chain VALUES (1)")
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 4096)
  (func (export "trg") (param i32 i32) (result i64)
    (drop (call $q (i32.const 0) (i32.const 35) (i32.const 0) (i32.const 0)))
    (i64.const 0)))', '{"functions": "none", "allow_spi": true}');
CREATE TABLE public.chain (v int);
CREATE FUNCTION public.chain_trg() RETURNS trigger LANGUAGE wasm AS 'chain.trg';
CREATE TRIGGER again BEFORE INSERT ON public.chain FOR EACH ROW EXECUTE FUNCTION public.chain_trg();
DO $$
BEGIN
  INSERT INTO public.chain VALUES (0);
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'chain ended: %',
    CASE WHEN SQLSTATE IN ('54001', '38000', '53400') THEN 'at a limit' ELSE SQLSTATE END;
END $$;
SELECT count(*) AS rows_left FROM public.chain;
SELECT 1 AS still_usable;
DROP TABLE public.chain;
DROP FUNCTION public.chain_trg();
SELECT wasm.unload('chain');

-- 7. Results nested 100 000 deep: a clean error for every kind, never a
-- crash (the JSON reader stops at depth 128; jsonb_in at max_stack_depth).
SELECT wasm.load_wat('deep', '(module (memory (export "memory") 4)
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 0)
  (func (export "deep") (param $n i32) (result i64)
    (memory.fill (i32.const 1024) (i32.const 91) (local.get $n))
    (memory.fill (i32.add (i32.const 1024) (local.get $n)) (i32.const 93) (local.get $n))
    (i64.or (i64.const 4398046511104) (i64.extend_i32_u (i32.shl (local.get $n) (i32.const 1))))))',
  '{"functions": "none"}');
CREATE FUNCTION deep_ints(int) RETURNS int[] LANGUAGE wasm STRICT AS 'deep.deep';
CREATE FUNCTION deep_jsonb(int) RETURNS jsonb LANGUAGE wasm STRICT AS 'deep.deep';
CREATE FUNCTION deep_rows(int) RETURNS SETOF int[] LANGUAGE wasm STRICT AS 'deep.deep';
CREATE TYPE deep_row AS (a int[]);
CREATE FUNCTION deep_record(int) RETURNS deep_row LANGUAGE wasm STRICT AS 'deep.deep';
DO $$
DECLARE q text;
BEGIN
  FOREACH q IN ARRAY ARRAY['SELECT deep_ints(100000)', 'SELECT deep_jsonb(100000)',
                           'SELECT count(*) FROM deep_rows(100000)', 'SELECT deep_record(100000)'] LOOP
    BEGIN
      EXECUTE q;
      RAISE WARNING '%: no error', q;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING '%: %', q, SQLSTATE;
    END;
  END LOOP;
END $$;
SELECT cardinality(deep_ints(1)) AS shallow_is_fine;
DROP FUNCTION deep_ints(int), deep_jsonb(int), deep_rows(int), deep_record(int);
DROP TYPE deep_row;
SELECT wasm.unload('deep');

DROP FUNCTION public.admin_report(), public.admin_report_invoker(),
  public.tenant_report(), public.other_report();
SELECT wasm.unload('later');
DROP SCHEMA s3 CASCADE;
DROP OWNED BY t3_tenant, t3_other, t3_reader;
DROP ROLE t3_tenant;
DROP ROLE t3_other;
DROP ROLE t3_reader;
