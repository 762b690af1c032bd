-- Guests written with the SDKs. Rust (guest-examples/rust-jsonkit): each
-- #[export] fn became a typed SQL function through the pg_wasm section.
SET client_min_messages = warning;
\getenv guests PG_WASM_GUESTS
CREATE TYPE jsonkit_summary AS (kind text, size int, text text);
SELECT f::text FROM wasm.load('jsonkit', pg_read_binary_file(:'guests' || '/jsonkit.wasm')) f ORDER BY 1;
SELECT f.function, pg_get_function_result(f.function) AS returns, p.proisstrict
  FROM wasm.functions f JOIN pg_proc p ON p.oid = f.function
 WHERE f.module = 'jsonkit' ORDER BY f.function::text;

-- jsonb in, jsonb out
SELECT jsonkit_redact('{"user": "ada", "password": "hunter2",
  "cards": [{"card_number": "4111", "exp": "12/29"}], "meta": {"Token": "x"}}');
-- jsonb in, SETOF text out
SELECT * FROM jsonkit_keys('{"b": 1, "a": 2}') ORDER BY 1;
SELECT count(*) FROM jsonkit_keys('[1, 2]');
-- text in, text out
SELECT jsonkit_normalize_name('  ada   LOVELACE '), jsonkit_normalize_name('');
SELECT jsonkit_slugify('Crème Brûlée, Déjà Vu № 7!') AS slug;
SELECT * FROM jsonkit_trigrams('Wasm!');
-- bytea in, bigint out (CRC-32 of "123456789" is 0xCBF43926)
SELECT to_hex(jsonkit_crc32('123456789'::bytea)) AS crc32;
-- non-strict: NULL arrives as None
SELECT jsonkit_greeting(NULL), jsonkit_greeting('Grace');
-- jsonb in, composite out
SELECT * FROM jsonkit_summarize('{"a": [1, 2], "b": null}');
SELECT (jsonkit_summarize('[true, false, null]')).size;
-- Option result: None is NULL
SELECT jsonkit_parse_json('{"ok": true}') AS parsed, jsonkit_parse_json('{nope') IS NULL AS invalid_is_null;

-- Numbers of every width, from Rust.
SELECT jsonkit_weighted(1.5, 3::smallint, true, 10, 0.333) AS weighted,
       jsonkit_is_even(4) AS even, jsonkit_is_even(7) AS odd,
       jsonkit_halve((-32768)::smallint) AS halved, jsonkit_ratio(1, 3) AS third,
       jsonkit_ratio(1, 0) AS nan;

-- An aggregate with jsonb state, written in Rust.
CREATE AGGREGATE word_freq(text) (
  SFUNC = jsonkit_word_freq_add, STYPE = jsonb, FINALFUNC = jsonkit_most_common);
SELECT word_freq(line) FROM (VALUES ('the cat sat'), ('The dog'), (NULL), ('a cat')) v(line);
SELECT jsonkit_word_freq_add(NULL, 'b a b') AS state;

-- Over a table, in a query a user would write.
CREATE TABLE events AS SELECT g AS id,
  jsonb_build_object('user', 'u' || g, 'password', md5(g::text), 'n', g) AS payload
  FROM generate_series(1, 1000) g;
SELECT count(*) FILTER (WHERE jsonkit_redact(payload)->>'password' = '***') AS masked,
       count(*) FILTER (WHERE jsonkit_redact(payload)->'n' = payload->'n') AS kept
  FROM events;
DROP TABLE events;

-- The same rows of the type table through more guests and languages:
-- SQL declares other types over the Rust and C exports.
CREATE FUNCTION normalize_vc(varchar) RETURNS varchar LANGUAGE wasm IMMUTABLE
  AS 'jsonkit.normalize_name';
SELECT normalize_vc('  mary   shelley');
CREATE FUNCTION redact_json(json) RETURNS json LANGUAGE wasm IMMUTABLE AS 'jsonkit.redact';
SELECT redact_json('{"secret": 1, "ok": 2}');
CREATE FUNCTION summarize_array(int[]) RETURNS jsonkit_summary LANGUAGE wasm IMMUTABLE
  AS 'jsonkit.summarize';
SELECT * FROM summarize_array(ARRAY[3, 1, 2]);
CREATE FUNCTION summarize_row(jsonkit_summary) RETURNS jsonkit_summary LANGUAGE wasm IMMUTABLE
  AS 'jsonkit.summarize';
SELECT (summarize_row(ROW('k', 1, 't'))).*;
CREATE FUNCTION date_words(date) RETURNS text LANGUAGE wasm IMMUTABLE AS 'jsonkit.normalize_name';
SELECT date_words('2024-02-29');
CREATE FUNCTION as_numeric(text) RETURNS numeric LANGUAGE wasm IMMUTABLE AS 'jsonkit.normalize_name';
SELECT as_numeric(' 12.50 ') + 1 AS numeric_result;
CREATE FUNCTION stats_out(text, OUT bytes int, OUT words int, OUT longest text)
  LANGUAGE wasm IMMUTABLE AS 'textkit.text_stats';
SELECT * FROM stats_out('out parameters from C');

-- AssemblyScript (guest-examples/as-scoring), typed by its pg_wasm section.
SELECT f::text FROM wasm.load('scoring', pg_read_binary_file(:'guests' || '/scoring.wasm')) f ORDER BY 1;
SELECT scoring_domain_of('Ada@Example.COM'), scoring_domain_of('nobody') IS NULL AS no_domain;
SELECT scoring_initials('Grace Brewster  Hopper');
SELECT email, scoring_score(email, employees, country) AS score
  FROM (VALUES ('cto@acme.io', 250, 'de'), ('someone@gmail.com', 0, 'BR'),
               ('ops@bigcorp.com', 100000, 'US')) v(email, employees, country)
 ORDER BY score DESC;
-- Many rows: the AssemblyScript allocator frees what the host hands back.
SELECT count(DISTINCT scoring_domain_of('user' || g || '@Host' || (g % 7) || '.example'))
  FROM generate_series(1, 100000) g;
