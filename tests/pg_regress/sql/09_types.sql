-- Every type row of SPEC §5 through guest memory, in two languages: the C
-- guest textkit (self-describing: its pg_wasm custom section types every
-- function) and the WAT guest echo (which returns its argument's bytes).
SET client_min_messages = warning;
\getenv guests PG_WASM_GUESTS
CREATE TYPE textkit_stats AS (bytes int, words int, longest text);
SELECT wasm.load('textkit', pg_read_binary_file(:'guests' || '/textkit.wasm'));
SELECT f.function, pg_get_function_result(f.function) AS returns,
       p.provolatile, p.proisstrict
  FROM wasm.functions f JOIN pg_proc p ON p.oid = f.function
 WHERE f.module = 'textkit' ORDER BY f.function::text;
SELECT kind, name FROM wasm.inspect(pg_read_binary_file(:'guests' || '/textkit.wasm'))
 WHERE kind = 'custom section';

-- text -> text
SELECT textkit_slugify('Hello, World!  Ünïcode 2024') AS slug, textkit_slugify('') AS empty;
-- bytea -> bigint
SELECT textkit_checksum('\x00ff'::bytea), textkit_checksum(''::bytea);
-- other types by their text form: uuid in
SELECT textkit_uuid_version('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
SELECT textkit_uuid_version('a0eebc99-9c0b-1ef8-bb6d-6bb9bd380a11');
-- SETOF text, in FROM and in the target list
SELECT * FROM textkit_tokenize('The quick brown fox; the LAZY dog!');
SELECT textkit_tokenize('a b') AS token, 1 AS one;
SELECT count(*) FROM textkit_tokenize('');
-- text[]
SELECT textkit_words('One two, THREE'), textkit_words('...');
-- composite result
SELECT * FROM textkit_text_stats('pg_wasm runs WebAssembly next to your data');
SELECT (textkit_text_stats('')).*;

-- Aggregates: a wasm state transition (bytea state, not strict) and a wasm
-- final function.
CREATE AGGREGATE approx_distinct(text) (
  SFUNC = textkit_hll_add, STYPE = bytea, FINALFUNC = textkit_hll_count);
SELECT approx_distinct(g::text) AS about_10000 FROM generate_series(1, 10000) g;
SELECT approx_distinct(x) AS two FROM (VALUES ('a'), ('b'), ('a'), (NULL)) v(x);
SELECT approx_distinct(x) AS none FROM (VALUES (NULL::text)) v(x);
SELECT g % 3 AS k, approx_distinct(g::text) FROM generate_series(1, 300) g GROUP BY 1 ORDER BY 1;
-- An int8 state works the same way.
SELECT wasm.load_wat('acc', '(module
  (func (export "add") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1))))');
CREATE AGGREGATE wasm_sum(bigint) (SFUNC = acc_add, STYPE = bigint, INITCOND = '0');
SELECT wasm_sum(g) FROM generate_series(1, 1000) g;

-- Large values: 15 MB in, 10 MB out.
SELECT length(textkit_slugify(repeat('Ab ', 5000000)));

-- The WAT echo guest: each type goes in as bytes and comes back.
SELECT wasm.load_wat('echo', pg_read_file(:'guests' || '/echo.wat'), '{"functions": "none"}');
CREATE FUNCTION echo(text) RETURNS text LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(varchar) RETURNS varchar LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(bytea) RETURNS bytea LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(json) RETURNS json LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(jsonb) RETURNS jsonb LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(numeric) RETURNS numeric LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(date) RETURNS date LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(timestamptz) RETURNS timestamptz LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(uuid) RETURNS uuid LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(int[]) RETURNS int[] LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(text[]) RETURNS text[] LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo(textkit_stats) RETURNS textkit_stats LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo_rows(jsonb) RETURNS SETOF textkit_stats LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo_table(jsonb) RETURNS TABLE(n int, word text) LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo_out(jsonb, OUT a int, OUT b text[]) LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo_ints(jsonb) RETURNS SETOF bigint LANGUAGE wasm IMMUTABLE STRICT AS 'echo.echo';
CREATE FUNCTION echo_nullable(text) RETURNS text LANGUAGE wasm IMMUTABLE CALLED ON NULL INPUT AS 'echo.echo';
CREATE FUNCTION byte_len(text) RETURNS int LANGUAGE wasm IMMUTABLE STRICT AS 'echo.len';

SELECT echo('héllo'::text), echo('vär'::varchar), echo('\xdeadbeef'::bytea);
SELECT echo('{"b": [1, 2.50, null], "a": "x"}'::json), echo('{"b": [1, 2.50, null], "a": "x"}'::jsonb);
SELECT echo(12345678901234567890.000001::numeric), echo('2024-02-29'::date),
       echo('2024-02-29 12:34:56+00'::timestamptz), echo('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid);
SELECT echo(ARRAY[1, NULL, 3]), echo(ARRAY['a', 'b c', NULL]::text[]), echo('{}'::int[]);
SELECT echo(ROW(3, 1, 'abc')::textkit_stats);
SELECT * FROM echo_rows('[{"bytes": 1, "words": 2, "longest": "x"}, {"bytes": 3}]');
SELECT * FROM echo_table('[{"n": 1, "word": "one"}, {"n": 2, "word": null}]');
SELECT * FROM echo_out('{"a": 7, "b": ["x", "y"]}');
SELECT * FROM echo_ints('[1, 2, 9007199254740993, null]');
SELECT * FROM echo_ints('null');
SELECT echo_nullable(NULL) IS NULL AS null_in_null_out, echo_nullable('x');
SELECT byte_len('héllo'), byte_len('');

-- The validator checks the mapping at CREATE FUNCTION time.
CREATE FUNCTION bad_sig(text) RETURNS text LANGUAGE wasm AS 'echo.len';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad_type(internal) RETURNS text LANGUAGE wasm AS 'echo.echo';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION no_memory(text) RETURNS int LANGUAGE wasm
  AS '(module (func (export "no_memory") (param i32 i32) (result i32) local.get 1))';
\echo :LAST_ERROR_SQLSTATE

-- Results that do not fit are errors naming the function and the value.
CREATE FUNCTION wild(text) RETURNS text LANGUAGE wasm STRICT AS 'echo.wild';
SELECT wild('x');
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION not_utf8(text) RETURNS text LANGUAGE wasm STRICT AS 'echo.not_utf8';
SELECT not_utf8('x');
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad_row(text) RETURNS textkit_stats LANGUAGE wasm STRICT AS 'echo.bad_row';
SELECT bad_row('x');
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION bad_array(text) RETURNS int[] LANGUAGE wasm STRICT AS 'echo.bad_array';
SELECT bad_array('x');
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION extra_key(text) RETURNS textkit_stats LANGUAGE wasm STRICT AS 'echo.extra_key';
SELECT extra_key('x');
SELECT echo('not a date'::text)::date;
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION text_as_date(text) RETURNS date LANGUAGE wasm STRICT AS 'echo.echo';
SELECT text_as_date('2024-13-45');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM echo_rows('{"not": "an array"}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM echo_rows('[1]');
\echo :LAST_ERROR_SQLSTATE

-- Text functions run in parallel workers too (textkit's functions are
-- PARALLEL SAFE by default).
CREATE TABLE docs AS SELECT g, 'Doc number ' || g || ', about WASM!' AS body
  FROM generate_series(1, 50000) g;
ANALYZE docs;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF)
  SELECT count(*) FROM docs
  WHERE textkit_checksum(body::bytea) <> 0 AND textkit_slugify(body) LIKE 'doc-number-%';
SELECT count(*) FILTER (WHERE textkit_slugify(body) = 'doc-number-' || g || '-about-wasm') AS all_right
  FROM docs;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE docs;
