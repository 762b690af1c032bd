-- pg_wasm demo: load modules built from Rust, C and WebAssembly text, call
-- them from SQL, replace code live, and watch the sandbox stop bad guests.
\set ON_ERROR_STOP 1
\getenv guests PG_WASM_GUESTS
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_wasm;

\echo '== 1. Load a Rust guest (guest-examples/rust-geo); its exports become SQL functions'
SELECT wasm.load('geo', pg_read_binary_file(:'guests' || '/geo.wasm'));

\echo '== 2. Call them like any SQL function'
SELECT round(geo_haversine(48.8566, 2.3522, 51.5074, -0.1278)::numeric / 1000, 1) AS paris_london_km,
       geo_fib(50) AS fib_50,
       geo_gcd(1071, 462) AS gcd;

\echo '== 3. A C guest, loaded under names of our choosing'
SELECT wasm.load('cstats', pg_read_binary_file(:'guests' || '/stats.wasm'),
                 '{"prefix": "", "functions": {"sigmoid": {"volatility": "immutable"},
                                               "popcount": {"name": "bit_count_of"}}}');
SELECT x, round(sigmoid(x)::numeric, 4) AS sigmoid, bit_count_of(x::bigint * 255) AS bits
  FROM generate_series(-2, 2) AS x;

\echo '== 4. A function written in place, in WebAssembly text'
CREATE FUNCTION collatz_steps(bigint) RETURNS integer LANGUAGE wasm IMMUTABLE STRICT AS $wat$
(module
  (func (export "collatz_steps") (param $n i64) (result i32) (local $steps i32)
    (block $done
      (loop $next
        (br_if $done (i64.le_u (local.get $n) (i64.const 1)))
        (local.set $n
          (if (result i64) (i64.eqz (i64.and (local.get $n) (i64.const 1)))
            (then (i64.shr_u (local.get $n) (i64.const 1)))
            (else (i64.add (i64.mul (local.get $n) (i64.const 3)) (i64.const 1)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br $next)))
    (local.get $steps)))
$wat$;
SELECT n, collatz_steps(n) FROM (VALUES (27), (97), (871)) AS t(n);

\echo '== 5. Run over a table: a million rows'
CREATE TEMP TABLE points AS
  SELECT i, (i % 180) - 90.0 AS lat, (i % 360) - 180.0 AS lon
    FROM generate_series(1, 1000000) i;
SELECT count(*) AS rows, round(avg(geo_haversine(lat, lon, 0, 0))::numeric / 1000) AS avg_km_to_null_island
  FROM points;

\echo '== 6. Replace code live: functions keep their OIDs, callers see the new code'
SELECT 'geo_fib(integer)'::regprocedure::oid = (SELECT oid FROM pg_proc WHERE proname = 'geo_fib') AS same_function;
SELECT wasm.load_wat('pricing', '(module (func (export "net") (param f64) (result f64) local.get 0 f64.const 1.2 f64.div))');
SELECT pricing_net(120.0) AS net_before;
SELECT wasm.replace('pricing', wasm.wat_to_wasm('(module (func (export "net") (param f64) (result f64) local.get 0 f64.const 1.25 f64.div))'));
SELECT pricing_net(120.0) AS net_after;

\echo '== 7. The sandbox: a runaway loop is stopped, the session lives on'
SELECT wasm.load_wat('hostile', pg_read_file(:'guests' || '/hostile.wat'));
SET pg_wasm.fuel_limit = 10000000;
\set ON_ERROR_STOP 0
SELECT hostile_spin();
SELECT hostile_div(1, 0);
\set ON_ERROR_STOP 1
RESET pg_wasm.fuel_limit;
SELECT 'still here' AS session;

\echo '== 8. Text, JSON and sets: a Rust guest written with the SDK (#[export]) types itself'
CREATE TYPE jsonkit_summary AS (kind text, size int, text text);
SELECT f FROM wasm.load('jsonkit', pg_read_binary_file(:'guests' || '/jsonkit.wasm'),
                        '{"prefix": "jk_"}') f;
SELECT jk_redact('{"user": "ada", "password": "hunter2", "card": {"card_number": "4111"}}') AS redacted,
       jk_normalize_name('  grace   HOPPER ') AS name;
SELECT * FROM jk_trigrams('Wasm');

\echo '== 9. A C guest with an aggregate: approximate distinct count (HyperLogLog, bytea state)'
CREATE TYPE textkit_stats AS (bytes int, words int, longest text);
SELECT count(*) AS functions FROM wasm.load('textkit', pg_read_binary_file(:'guests' || '/textkit.wasm'));
CREATE AGGREGATE approx_distinct(text) (
  SFUNC = textkit_hll_add, STYPE = bytea, FINALFUNC = textkit_hll_count);
SELECT approx_distinct(i::text) AS approx, count(DISTINCT i) AS exact
  FROM generate_series(1, 100000) i;
SELECT textkit_slugify('pg_wasm: WebAssembly next to your data!') AS slug,
       (textkit_text_stats('pg_wasm runs WebAssembly next to your data')).*;

\echo '== 10. A trigger written in Rust (guest-examples/rust-triggers)'
SELECT count(*) AS functions FROM wasm.load('trg', pg_read_binary_file(:'guests' || '/triggers.wasm'));
CREATE TEMP TABLE people (first_name text, last_name text, full_name text, slug text, email text);
CREATE TRIGGER names BEFORE INSERT OR UPDATE ON people
  FOR EACH ROW EXECUTE FUNCTION trg_derive_names();
CREATE TRIGGER email BEFORE INSERT OR UPDATE ON people
  FOR EACH ROW EXECUTE FUNCTION trg_require_email();
INSERT INTO people (first_name, last_name, email) VALUES ('Ada', 'Lovelace', 'ada@example.org');
SELECT full_name, slug FROM people;
\set ON_ERROR_STOP 0
INSERT INTO people (first_name, email) VALUES ('Bob', 'not an address');
\set ON_ERROR_STOP 1

\echo '== 11. JavaScript written in CREATE FUNCTION (plv8-style, in the same sandbox)'
CREATE FUNCTION js_initials(full_name text) RETURNS text LANGUAGE javascript IMMUTABLE AS $$
  return full_name.split(/\s+/).map(w => w[0].toUpperCase()).join('');
$$;
CREATE FUNCTION js_people() RETURNS SETOF jsonb LANGUAGE javascript AS $$
  for (const p of plv8.execute('SELECT full_name, slug FROM people'))
    plv8.return_next({initials: plv8.find_function('js_initials')(p.full_name), slug: p.slug});
$$;
SELECT js_initials('grace brewster murray hopper') AS initials;
SELECT * FROM js_people();
CREATE FUNCTION js_spin() RETURNS int LANGUAGE javascript AS $$ for (;;) {} $$;
SET pg_wasm.fuel_limit = 50000000;
\set ON_ERROR_STOP 0
SELECT js_spin();
\set ON_ERROR_STOP 1
RESET pg_wasm.fuel_limit;

\echo '== 12. What is loaded'
SELECT name, owner, size, left(sha256, 12) AS sha256, generation FROM wasm.modules ORDER BY name;
SELECT function, module, export, kind FROM wasm.functions ORDER BY module, export;
SELECT function, calls, fuel_used, traps FROM wasm.stats ORDER BY calls DESC LIMIT 5;
