-- LANGUAGE wasm: CREATE FUNCTION, the validator, STRICT, volatility, inline WAT.
SET client_min_messages = warning;
SELECT wasm.load_wat('conv', '(module
  (func (export "id32") (param i32) (result i32) local.get 0)
  (func (export "id64") (param i64) (result i64) local.get 0)
  (func (export "idf32") (param f32) (result f32) local.get 0)
  (func (export "idf64") (param f64) (result f64) local.get 0)
  (func (export "big") (result i32) i32.const 100000)
  (func (export "two") (result i32) i32.const 2)
  (func (export "v128") (param v128))
  (memory (export "memory") 1))', '{"functions": "none"}');

-- Every numeric mapping of SPEC §5.
CREATE FUNCTION id_int2(smallint) RETURNS smallint LANGUAGE wasm IMMUTABLE STRICT AS 'conv.id32';
CREATE FUNCTION id_int4(integer) RETURNS integer LANGUAGE wasm IMMUTABLE STRICT AS 'conv.id32';
CREATE FUNCTION id_bool(boolean) RETURNS boolean LANGUAGE wasm IMMUTABLE STRICT AS 'conv.id32';
CREATE FUNCTION id_int8(bigint) RETURNS bigint LANGUAGE wasm IMMUTABLE STRICT AS 'conv.id64';
CREATE FUNCTION id_float4(real) RETURNS real LANGUAGE wasm IMMUTABLE STRICT AS 'conv.idf32';
CREATE FUNCTION id_float8(double precision) RETURNS double precision LANGUAGE wasm IMMUTABLE STRICT AS 'conv.idf64';
SELECT id_int2('-32768'), id_int2('32767'), id_int4(-2147483648), id_bool(true), id_bool(false),
       id_int8(-9223372036854775808), id_float4(-1.5), id_float8(1e300);
SELECT id_float8('NaN'), id_float8('-Infinity'), id_float4('Infinity');

-- Results that do not fit the SQL type.
CREATE FUNCTION big_int2() RETURNS smallint LANGUAGE wasm AS 'conv.big';
SELECT big_int2();
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION two_bool() RETURNS boolean LANGUAGE wasm AS 'conv.two';
SELECT two_bool();
\echo :LAST_ERROR_SQLSTATE

-- Not STRICT: a NULL numeric argument gives NULL without calling the guest.
CREATE FUNCTION lenient(integer) RETURNS integer LANGUAGE wasm CALLED ON NULL INPUT AS 'conv.id32';
SELECT lenient(NULL) IS NULL AS is_null, lenient(5);

-- The validator refuses definitions that cannot work, at CREATE time.
CREATE FUNCTION bad1(integer) RETURNS integer LANGUAGE wasm AS 'nosuch.f';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad2(integer) RETURNS integer LANGUAGE wasm AS 'conv.nosuch';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad3(bigint) RETURNS integer LANGUAGE wasm AS 'conv.id32';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad4(integer, integer) RETURNS integer LANGUAGE wasm AS 'conv.id32';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad5(text) RETURNS integer LANGUAGE wasm AS 'conv.id32';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad6(integer) RETURNS numeric LANGUAGE wasm AS 'conv.id32';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad7() RETURNS integer LANGUAGE wasm AS 'conv.memory';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad8() RETURNS void LANGUAGE wasm AS 'conv.v128';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad9() RETURNS integer LANGUAGE wasm AS 'no dot here';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad10() RETURNS trigger LANGUAGE wasm AS 'conv.two';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad11() RETURNS SETOF integer LANGUAGE wasm AS 'conv.two';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad12() RETURNS integer LANGUAGE wasm AS '(module (func (export "a")) (func (export "b")))';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad13() RETURNS integer LANGUAGE wasm AS '(module (func';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_proc WHERE proname LIKE 'bad%';

-- With check_function_bodies off (as pg_dump's restore runs) the validator
-- defers; a call then reports what is missing.
SET check_function_bodies = off;
CREATE FUNCTION later() RETURNS integer LANGUAGE wasm AS 'notyet.f';
RESET check_function_bodies;
SELECT later();
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('notyet', '(module (func (export "f") (result i32) i32.const 11))', '{"functions": "none"}');
SELECT later();

-- Inline WAT: the export named like the function, or the only export.
CREATE FUNCTION triple(integer) RETURNS integer LANGUAGE wasm IMMUTABLE STRICT AS
  '(module (func (export "helper") (result i32) i32.const 0)
           (func (export "triple") (param i32) (result i32) local.get 0 i32.const 3 i32.mul))';
CREATE FUNCTION only_one(integer) RETURNS integer LANGUAGE wasm IMMUTABLE STRICT AS
  '(module (func (export "whatever") (param i32) (result i32) local.get 0 i32.const 1 i32.sub))';
SELECT triple(14), only_one(43);
CREATE FUNCTION nl_body() RETURNS integer LANGUAGE wasm AS '
  (module (func (export "nl_body") (result i32) i32.const 3))';
SELECT * FROM wasm.functions WHERE module IS NULL ORDER BY export;
SELECT nl_body();
DROP FUNCTION nl_body();

-- Ordinary functions: CREATE OR REPLACE, ALTER, COMMENT, GRANT, DROP.
CREATE OR REPLACE FUNCTION triple(integer) RETURNS integer LANGUAGE wasm IMMUTABLE STRICT AS
  '(module (func (export "triple") (param i32) (result i32) local.get 0 i32.const 30 i32.mul))';
SELECT triple(2);
ALTER FUNCTION triple(integer) RENAME TO times30;
COMMENT ON FUNCTION times30(integer) IS 'multiplies by 30';
GRANT EXECUTE ON FUNCTION times30(integer) TO PUBLIC;
SELECT times30(3), obj_description('times30(integer)'::regprocedure);
CREATE OR REPLACE FUNCTION id_int4(integer) RETURNS integer LANGUAGE wasm AS 'conv.two';
\echo :LAST_ERROR_SQLSTATE
DROP FUNCTION times30(integer), only_one(integer);

-- In a query plan: volatility lets the planner fold IMMUTABLE calls.
EXPLAIN (COSTS OFF) SELECT * FROM generate_series(1, 3) g WHERE g = id_int4(2);
SELECT sum(id_int8(g)) FROM generate_series(1, 100000) g;
