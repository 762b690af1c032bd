-- Tenant-proof (issue 10): hostile SQL from roles with default privileges
-- or with EXECUTE on wasm.load must neither raise their rights nor crash
-- the backend. Every payload below would record itself in evil_log (or
-- make its role a superuser) if pg_wasm ever ran it with raised rights.
SET client_min_messages = warning;
CREATE ROLE t_evil;
CREATE ROLE t_loader;
CREATE ROLE t_victim;
GRANT CREATE ON SCHEMA public TO t_evil, t_loader, t_victim;
GRANT EXECUTE ON FUNCTION wasm.load_wat(text, text, jsonb), wasm.replace(text, bytea, jsonb)
  TO t_loader, t_victim;
CREATE SCHEMA sa AUTHORIZATION t_evil;
CREATE SCHEMA sl AUTHORIZATION t_loader;
CREATE TABLE evil_log (who text, via text);
GRANT INSERT ON evil_log TO PUBLIC;
-- A payload that only does harm as a superuser.
CREATE FUNCTION public.payload(via text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.evil_log VALUES (current_user, via);
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    EXECUTE 'ALTER ROLE t_evil SUPERUSER';
  END IF;
  RETURN true;
END$$;
SELECT wasm.load_wat('bmod', '(module (func (export "add") (param i32 i32) (result i32)
  local.get 0 local.get 1 i32.add))', '{"functions": "none"}');
CREATE FUNCTION public.bmod_add(integer, integer) RETURNS integer LANGUAGE wasm AS 'bmod.add';
REVOKE EXECUTE ON FUNCTION public.bmod_add(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.bmod_add(integer, integer) TO t_evil;

-- 1. search_path: temporary types and operators in the caller's schemas are
-- never used by the statements pg_wasm runs (as the catalog's owner).
-- 1a. a temporary domain named oid, then a granted function's first call.
SELECT wasm.configure('bmod', '{}') IS NOT NULL AS cold_cache;
SET ROLE t_evil;
CREATE DOMAIN pg_temp.oid AS pg_catalog.oid CHECK (public.payload('temp oid'));
CREATE DOMAIN pg_temp.regrole AS pg_catalog.regrole CHECK (public.payload('temp regrole'));
SELECT public.bmod_add(1, 2);
-- 1b. the same through unload, configure and replace of someone else's module
SELECT wasm.unload('bmod');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.configure('bmod', '{"fuel": 1}');
\echo :LAST_ERROR_SQLSTATE
-- 1c. an operator in the tenant's own schema, first in search_path
CREATE FUNCTION sa.eq(pg_catalog.text, pg_catalog.text) RETURNS boolean LANGUAGE sql AS 'SELECT public.payload(''op text'')';
CREATE OPERATOR sa.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = sa.eq);
CREATE FUNCTION sa.eq(pg_catalog.name, pg_catalog.name) RETURNS boolean LANGUAGE sql AS 'SELECT public.payload(''op name'')';
CREATE OPERATOR sa.= (LEFTARG = pg_catalog.name, RIGHTARG = pg_catalog.name, FUNCTION = sa.eq);
CREATE FUNCTION sa.eq(pg_catalog.oid, pg_catalog.oid) RETURNS boolean LANGUAGE sql AS 'SELECT public.payload(''op oid'')';
CREATE OPERATOR sa.= (LEFTARG = pg_catalog.oid, RIGHTARG = pg_catalog.oid, FUNCTION = sa.eq);
SET search_path = sa, pg_catalog, public;
SELECT wasm.configure('bmod', '{"fuel": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT public.bmod_add(2, 3);
RESET search_path;
RESET ROLE;
-- 1d. a role allowed to load: insert, replace and unload its own modules
-- with the temporary types and the operators in front of pg_catalog.
SET ROLE t_loader;
CREATE DOMAIN pg_temp.int8 AS pg_catalog.int8 CHECK (public.payload('loader temp int8'));
CREATE FUNCTION sl.eq(pg_catalog.text, pg_catalog.text) RETURNS boolean LANGUAGE sql AS 'SELECT public.payload(''loader op text'')';
CREATE OPERATOR sl.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = sl.eq);
CREATE FUNCTION sl.eq(pg_catalog.oid, pg_catalog.oid) RETURNS boolean LANGUAGE sql AS 'SELECT public.payload(''loader op oid'')';
CREATE OPERATOR sl.= (LEFTARG = pg_catalog.oid, RIGHTARG = pg_catalog.oid, FUNCTION = sl.eq);
CREATE FUNCTION sl.eq(pg_catalog.name, pg_catalog.name) RETURNS boolean LANGUAGE sql AS 'SELECT public.payload(''loader op name'')';
CREATE OPERATOR sl.= (LEFTARG = pg_catalog.name, RIGHTARG = pg_catalog.name, FUNCTION = sl.eq);
SET search_path = sl, pg_catalog, public;
SELECT wasm.load_wat('lmod', '(module (func (export "one") (result i32) i32.const 1))');
SELECT lmod_one();
SELECT wasm.replace('lmod', wasm.wat_to_wasm('(module (func (export "one") (result i32) i32.const 11))'));
SELECT lmod_one();
SELECT wasm.configure('lmod', '{"fuel": 1000}');
SELECT wasm.unload('lmod', cascade => true);
RESET search_path;
RESET ROLE;
DROP DOMAIN pg_temp.oid, pg_temp.regrole, pg_temp.int8;
SELECT who, via FROM evil_log;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE 't\_%' ORDER BY 1;

-- 7. SQL built from export names: quoting does not depend on
-- standard_conforming_strings, and names never end a statement.
SET ROLE t_loader;
SET standard_conforming_strings = off;
SET escape_string_warning = off;
SELECT wasm.load_wat('inj', '(module (func (export "x\\\\'';CREATE TABLE public.injected(i int);--") (result i32) i32.const 7))');
SELECT wasm.load_wat('inj2', '(module (func (export "y\\\\") (result i32) i32.const 8))');
RESET standard_conforming_strings;
RESET escape_string_warning;
SELECT function, export FROM wasm.functions WHERE module IN ('inj', 'inj2') ORDER BY function::text COLLATE "C";
SELECT to_regclass('public.injected') IS NULL AS nothing_injected;
SELECT wasm.unload('inj', cascade => true), wasm.unload('inj2', cascade => true);
RESET ROLE;

-- 4. Module ownership holds with check_function_bodies off.
SET ROLE t_victim;
SELECT wasm.load_wat('bsecret', '(module (memory (export "memory") 1)
  (data (i32.const 64) "the victim''s secret")
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "get") (param i64) (result i64) i64.const 274877906963))',
  '{"functions": "none"}');
RESET ROLE;
SET ROLE t_evil;
SET check_function_bodies = off;
-- 4a. refused at CREATE FUNCTION when the module exists
CREATE FUNCTION public.steal(bigint) RETURNS bytea LANGUAGE wasm AS 'bsecret.get';
\echo :LAST_ERROR_SQLSTATE
-- 4b. the same body behind whitespace the parser trims (vertical tab)
CREATE FUNCTION public.steal2(bigint) RETURNS text LANGUAGE wasm AS E'\x0Bbsecret.get';
\echo :LAST_ERROR_SQLSTATE
-- 4c. a function created before the module existed (as during a restore)
-- is refused when it is called
CREATE FUNCTION public.steal3(bigint) RETURNS text LANGUAGE wasm AS 'blater.get';
RESET check_function_bodies;
RESET ROLE;
SET ROLE t_victim;
SELECT wasm.load_wat('blater', '(module (memory (export "memory") 1)
  (data (i32.const 64) "later secret")
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "get") (param i64) (result i64) i64.const 274877906956))',
  '{"functions": "none"}');
RESET ROLE;
SET ROLE t_evil;
SELECT public.steal3(0);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- the function shows in wasm.functions (same parser), so unload refuses
SELECT function, module, export FROM wasm.functions WHERE module IN ('bsecret', 'blater');
SET ROLE t_victim;
SELECT wasm.unload('blater');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- a superuser's function is refused too (being a superuser is not owning
-- the module: 18_tenants_third.sql); a superuser binds on purpose by
-- creating the function as the module's owner
CREATE FUNCTION public.admin_get(bigint) RETURNS text LANGUAGE wasm AS E'\x0Bblater.get';
\echo :LAST_ERROR_SQLSTATE
SET ROLE t_victim;
CREATE FUNCTION public.admin_get(bigint) RETURNS text LANGUAGE wasm AS E'\x0Bblater.get';
RESET ROLE;
SELECT public.admin_get(0);
SELECT function, export FROM wasm.functions WHERE function::text LIKE 'admin_get%';
DROP FUNCTION public.admin_get(bigint), public.steal3(bigint);
SELECT wasm.unload('blater'), wasm.unload('bsecret');

-- 2. Input functions are never shared between call sites or nesting
-- levels: a domain CHECK that calls another wasm function returning the
-- same domain (domain_in keeps its state in fn_extra).
SET ROLE t_evil;
CREATE FUNCTION pg_temp.f(v int) RETURNS bool LANGUAGE plpgsql AS
$$DECLARE n int; BEGIN IF v = 1 THEN n := pg_temp.g(); END IF; RETURN true; END$$;
CREATE DOMAIN pg_temp.d AS int CHECK (length(repeat('x', 100000 + VALUE * 0) || pg_temp.f(VALUE)::text) > 0);
CREATE FUNCTION pg_temp.g() RETURNS pg_temp.d LANGUAGE wasm AS '(module (memory (export "memory") 1)
 (data (i32.const 16) "2") (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
 (func (export "g") (result i64) i64.const 68719476737))';
CREATE FUNCTION pg_temp.h() RETURNS pg_temp.d LANGUAGE wasm AS '(module (memory (export "memory") 1)
 (data (i32.const 16) "1") (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
 (func (export "h") (result i64) i64.const 68719476737))';
SELECT pg_temp.h();
-- 2b. a set of the domain: every row's CHECK calls g
CREATE FUNCTION pg_temp.hs() RETURNS SETOF pg_temp.d LANGUAGE wasm AS '(module (memory (export "memory") 1)
 (data (i32.const 16) "[1,1,3]") (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
 (func (export "hs") (result i64) i64.const 68719476743))';
SELECT * FROM pg_temp.hs();
-- 2c. a composite whose column is the domain
CREATE TYPE pg_temp.pair AS (a pg_temp.d, b pg_temp.d);
CREATE FUNCTION pg_temp.hp() RETURNS pg_temp.pair LANGUAGE wasm AS '(module (memory (export "memory") 1)
 (data (i32.const 16) "{\"a\":1,\"b\":1}") (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
 (func (export "hp") (result i64) i64.const 68719476749))';
SELECT * FROM pg_temp.hp();
-- 8. domains over arrays and composites as result types, checked
CREATE DOMAIN pg_temp.short_arr AS int[] CHECK (cardinality(VALUE) < 3);
CREATE FUNCTION pg_temp.arr(text) RETURNS pg_temp.short_arr LANGUAGE wasm AS '(module (memory (export "memory") 1)
 (global $p (mut i32) (i32.const 0))
 (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
 (func (export "arr") (param i32 i32) (result i64)
   local.get 0 i64.extend_i32_u i64.const 32 i64.shl local.get 1 i64.extend_i32_u i64.or))';
SELECT pg_temp.arr('[1,2]');
SELECT pg_temp.arr('[1,2,3]');
\echo :LAST_ERROR_SQLSTATE
CREATE DOMAIN pg_temp.pos_pair AS pg_temp.pair CHECK ((VALUE).a > 0) NOT NULL;
CREATE FUNCTION pg_temp.pp(text) RETURNS pg_temp.pos_pair LANGUAGE wasm AS '(module (memory (export "memory") 1)
 (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
 (func (export "pp") (param i32 i32) (result i64)
   local.get 0 i64.extend_i32_u i64.const 32 i64.shl local.get 1 i64.extend_i32_u i64.or))';
SELECT pg_temp.pp('{"a": 2, "b": 3}');
SELECT pg_temp.pp('{"a": -2, "b": 3}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.pp('null');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- 3. A call site re-entered while its guest runs (the typcache keeps the
-- FmgrInfo of a range type's subtype_diff): the nested call gets an
-- instance of its own, even when a module change in between would make
-- the busy site prepare again.
SET ROLE t_loader;
SELECT wasm.load_wat('rng', '(module
  (import "pg" "query" (func $q (param i32 i32 i32 i32) (result i64)))
  (import "pg" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "SELECT wasm.configure(''rng'', ''{}''), wasm.configure(''rng'', ''{}'')")
  (data (i32.const 200) "SELECT count(*) FROM public.rt WHERE r && ''[1000.5,1001)''::public.frange")
  (data (i32.const 400) "outer")
  (data (i32.const 410) "inner")
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "diff") (param f64 f64) (result f64)
    (if (f64.eq (local.get 0) (f64.const -1000.5))
      (then
        (call $log (i32.const 4) (i32.const 400) (i32.const 5))
        (drop (call $q (i32.const 0) (i32.const 63) (i32.const 0) (i32.const 0)))
        (drop (call $q (i32.const 200) (i32.const 72) (i32.const 0) (i32.const 0)))))
    (if (f64.eq (local.get 0) (f64.const 1000.5))
      (then (call $log (i32.const 4) (i32.const 410) (i32.const 5))))
    (f64.sub (local.get 0) (local.get 1))))', '{"functions": "none", "allow_spi": true}');
CREATE FUNCTION public.frange_diff(float8, float8) RETURNS float8
  LANGUAGE wasm IMMUTABLE STRICT AS 'rng.diff';
CREATE TYPE public.frange AS RANGE (subtype = float8, subtype_diff = public.frange_diff);
CREATE TABLE public.rt (r public.frange);
INSERT INTO public.rt SELECT public.frange(i, i + 1) FROM generate_series(-2000, 2000) i;
ANALYZE public.rt;
SELECT count(*) FROM public.rt WHERE r && '[-1000.5,-999)'::public.frange;
SELECT count(*) FROM public.rt WHERE r && '[-1000.5,-999)'::public.frange;
DROP TABLE public.rt;
DROP TYPE public.frange;
DROP FUNCTION public.frange_diff(float8, float8);
SELECT wasm.unload('rng');
RESET ROLE;

-- (make test-client fails if the server log shows a crashed backend.)
DROP OWNED BY t_evil, t_loader, t_victim;
DROP ROLE t_evil;
DROP ROLE t_loader;
DROP ROLE t_victim;
