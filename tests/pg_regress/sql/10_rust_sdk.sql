-- A guest written with the Rust SDK (guest-examples/rust-jsonkit): each
-- #[export] fn became a typed SQL function through the pg_wasm section.
SET client_min_messages = warning;
\getenv guests PG_WASM_GUESTS
CREATE TYPE jsonkit_summary AS (kind text, size int, text text);
SELECT wasm.load('jsonkit', pg_read_binary_file(:'guests' || '/jsonkit.wasm')) ORDER BY 1::text;
SELECT f.function, pg_get_function_result(f.function) AS returns, p.proisstrict
  FROM wasm.functions f JOIN pg_proc p ON p.oid = f.function
 WHERE f.module = 'jsonkit' ORDER BY 1::text;

-- jsonb in, jsonb out
SELECT jsonkit_redact('{"user": "ada", "password": "hunter2",
  "cards": [{"card_number": "4111", "exp": "12/29"}], "meta": {"Token": "x"}}');
-- jsonb in, SETOF text out
SELECT * FROM jsonkit_keys('{"b": 1, "a": 2}') ORDER BY 1;
SELECT count(*) FROM jsonkit_keys('[1, 2]');
-- text in, text out
SELECT jsonkit_normalize_name('  ada   LOVELACE '), jsonkit_normalize_name('');
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

-- Over a table, in a query a user would write.
CREATE TABLE events AS SELECT g AS id,
  jsonb_build_object('user', 'u' || g, 'password', md5(g::text), 'n', g) AS payload
  FROM generate_series(1, 1000) g;
SELECT count(*) FILTER (WHERE jsonkit_redact(payload)->>'password' = '***') AS masked,
       count(*) FILTER (WHERE jsonkit_redact(payload)->'n' = payload->'n') AS kept
  FROM events;
DROP TABLE events;
