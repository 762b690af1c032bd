-- LANGUAGE javascript (docs/javascript.md): plv8's conversions both ways,
-- NULLs, SETOF and TABLE, OUT and VARIADIC, exceptions with their stack,
-- syntax errors at CREATE, limits, DO blocks, created by a role without
-- any privilege beyond CREATE on a schema (the language is trusted).
SET client_min_messages = notice;
CREATE ROLE js_dev;
CREATE SCHEMA js AUTHORIZATION js_dev;
SET ROLE js_dev;
SET search_path = js;

-- numbers, text, booleans
CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE javascript AS $$ return a + b; $$;
SELECT add(2, 40), add(NULL, 1) AS js_null_plus_1, add(2147483647, 0);
CREATE FUNCTION kinds(i2 int2, i4 int4, i8 int8, f4 real, f8 float8, b bool, t text, v varchar, n numeric)
RETURNS text LANGUAGE javascript AS $$
  return [i2, i4, i8, f4, f8, b, t, v, n].map(x => typeof x + ':' + x).join(' ');
$$;
SELECT kinds(1::int2, 2, 3, 1.5, 2.25, true, 'é', 'v', 12.5);
CREATE FUNCTION nulls(a int, b text, c jsonb) RETURNS text LANGUAGE javascript CALLED ON NULL INPUT
AS $$ return JSON.stringify([a, b, c, arguments.length, $1, $2]); $$;
SELECT nulls(NULL, NULL, NULL), nulls(1, 'x', '{"k": [1]}');

-- results converted to the declared type (numbers round as a cast does)
CREATE FUNCTION half(x float8) RETURNS int LANGUAGE javascript AS $$ return x / 2; $$;
SELECT half(5), half(7), half(-3);
SELECT half(1e12);
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION big(x int8) RETURNS int8 LANGUAGE javascript AS $$ return x * 2; $$;
SELECT big(21), big(9007199254740993) AS beyond_2_53_is_rounded;
CREATE FUNCTION bigint_exact() RETURNS int8 LANGUAGE javascript AS $$ return 9007199254740993n; $$;
SELECT bigint_exact();
CREATE FUNCTION truthy(x text) RETURNS bool LANGUAGE javascript AS $$ return x; $$;
SELECT truthy('yes'), truthy(''), truthy(NULL);
CREATE FUNCTION as_text(k int) RETURNS text LANGUAGE javascript AS $$
  return [42, 'str', {a: 1}, [1, 2], null, undefined, new Date(Date.UTC(2024, 0, 2))][k];
$$;
SELECT k, as_text(k) FROM generate_series(0, 6) k;
CREATE FUNCTION num(x numeric) RETURNS numeric LANGUAGE javascript AS $$ return x * 3; $$;
SELECT num(0.5), num(-12);

-- json, jsonb, arrays and composites are objects and arrays
CREATE FUNCTION bump(o jsonb) RETURNS jsonb LANGUAGE javascript AS $$ o.n = (o.n || 0) + 1; return o; $$;
SELECT bump('{"a": [1, "x", null]}'), bump('{"n": 41}');
CREATE FUNCTION js_json(o json) RETURNS json LANGUAGE javascript AS $$ return {got: o}; $$;
SELECT js_json('[1, {"b": true}]');
CREATE FUNCTION arr(xs int[]) RETURNS int[] LANGUAGE javascript AS $$ return xs.map(x => x * x).reverse(); $$;
SELECT arr(ARRAY[1, 2, 3]), arr('{}');
CREATE FUNCTION words(s text) RETURNS text[] LANGUAGE javascript AS $$ return s.split(' '); $$;
SELECT words('a bc  d');
CREATE TYPE pair AS (name text, score int);
CREATE FUNCTION best(ps pair[]) RETURNS pair LANGUAGE javascript AS $$
  return ps.reduce((a, b) => (b.score > a.score ? b : a));
$$;
SELECT * FROM best(ARRAY[('a', 1), ('b', 3), ('c', 2)]::pair[]);
CREATE FUNCTION describe(p pair) RETURNS text LANGUAGE javascript AS $$ return `${p.name}=${p.score}`; $$;
SELECT describe(('x', 7));

-- dates and timestamps are Dates; a Date goes back as ISO 8601
CREATE FUNCTION next_day(d date) RETURNS date LANGUAGE javascript AS $$
  return new Date(d.getTime() + 86400000);
$$;
SELECT next_day('2024-02-28'), next_day('2024-02-29');
CREATE FUNCTION epoch_ms(t timestamptz) RETURNS float8 LANGUAGE javascript AS $$ return t.getTime(); $$;
SELECT epoch_ms('1970-01-01 00:00:01.5+00'), epoch_ms('2000-01-01 00:00:00+00');
CREATE FUNCTION stamp(y int) RETURNS timestamptz LANGUAGE javascript AS $$ return new Date(Date.UTC(y, 5, 1, 12)); $$;
SELECT stamp(2030) AT TIME ZONE 'UTC';

-- bytea is a Uint8Array
CREATE FUNCTION rev(b bytea) RETURNS bytea LANGUAGE javascript AS $$ return b.slice().reverse(); $$;
SELECT rev('\x010203'), rev('');
CREATE FUNCTION blen(b bytea) RETURNS text LANGUAGE javascript AS $$ return b.constructor.name + ':' + b.length; $$;
SELECT blen('\xdeadbeef');

-- SETOF: plv8.return_next or a returned array; RETURNS TABLE; OUT
CREATE FUNCTION evens(n int) RETURNS SETOF int LANGUAGE javascript AS $$
  for (let i = 0; i < n; i++) if (i % 2 === 0) plv8.return_next(i);
$$;
SELECT * FROM evens(7);
CREATE FUNCTION letters(s text) RETURNS SETOF text LANGUAGE javascript AS $$ return [...s]; $$;
SELECT * FROM letters('héllo');
SELECT count(*) FROM evens(0);
CREATE FUNCTION squares(n int) RETURNS TABLE(i int, sq bigint) LANGUAGE javascript AS $$
  const out = [];
  for (let i = 1; i <= n; i++) out.push({i, sq: i * i});
  return out;
$$;
SELECT * FROM squares(3);
CREATE FUNCTION split_name(full_name text, OUT first text, OUT last text) LANGUAGE javascript AS $$
  const [first, ...rest] = full_name.split(' ');
  return {first, last: rest.join(' ')};
$$;
SELECT * FROM split_name('Ada King Lovelace');
CREATE FUNCTION total(VARIADIC xs int[]) RETURNS int LANGUAGE javascript AS $$ return xs.reduce((a, b) => a + b, 0); $$;
SELECT total(1, 2, 3, 4);
CREATE FUNCTION pairs() RETURNS SETOF pair LANGUAGE javascript AS $$
  plv8.return_next({name: 'p', score: 1});
  plv8.return_next({name: 'q', score: null});
$$;
SELECT * FROM pairs();

-- exceptions: P0001 with the message, the stack (function, line) in DETAIL
\set VERBOSITY default
CREATE FUNCTION check_positive(x int) RETURNS int LANGUAGE javascript AS $$
  if (x <= 0) {
    throw new RangeError('not positive: ' + x);
  }
  return x;
$$;
SELECT check_positive(1);
SELECT check_positive(-5);
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION throws_string() RETURNS int LANGUAGE javascript AS $$ throw 'plain'; $$;
SELECT throws_string();
CREATE FUNCTION calls_missing() RETURNS int LANGUAGE javascript AS $$ return undefinedThing(); $$;
SELECT calls_missing();
-- caught inside JavaScript, the function goes on
CREATE FUNCTION safe_parse(s text) RETURNS jsonb LANGUAGE javascript AS $$
  try { return JSON.parse(s); } catch (e) { return {error: e.name}; }
$$;
SELECT safe_parse('{"ok": 1}'), safe_parse('{bad');
-- a result that does not fit names the function
CREATE FUNCTION bad_date() RETURNS date LANGUAGE javascript AS $$ return 'not a date'; $$;
SELECT bad_date();

-- syntax errors are found at CREATE FUNCTION, with line and column
CREATE FUNCTION broken(x int) RETURNS int LANGUAGE javascript AS $$
  let y = x +;
  return y;
$$;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_proc WHERE proname = 'broken';
-- with the check off (a restore), the body is compiled at the first call
SET check_function_bodies = off;
CREATE FUNCTION broken_later() RETURNS int LANGUAGE javascript AS $$ return ((; $$;
RESET check_function_bodies;
SELECT broken_later();
\echo :LAST_ERROR_SQLSTATE
-- types that cannot cross
CREATE FUNCTION takes_internal(x internal) RETURNS int LANGUAGE javascript AS $$ return 1; $$;
\echo :LAST_ERROR_SQLSTATE

-- limits apply as to every wasm function
CREATE FUNCTION spin() RETURNS int LANGUAGE javascript AS $$ for (;;) {} $$;
SET pg_wasm.fuel_limit = 5000000;
SELECT spin();
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.fuel_limit;
CREATE FUNCTION hog(mb int) RETURNS int LANGUAGE javascript AS $$
  const keep = [];
  for (let i = 0; i < mb; i++) keep.push(new Uint8Array(1 << 20));
  return keep.length;
$$;
SET pg_wasm.memory_limit_mb = 16;
SELECT hog(4);
\set VERBOSITY sqlstate
SELECT hog(64);
\set VERBOSITY default
RESET pg_wasm.memory_limit_mb;
CREATE FUNCTION deep(n int) RETURNS text LANGUAGE javascript AS $$
  function r(k) { return k === 0 ? 0 : 1 + r(k - 1); }
  try { return String(r(n)); } catch (e) { return e.name + ': ' + e.message; }
$$;
SELECT deep(100), deep(1000000);
-- the session is fine afterwards
SELECT add(1, 1);

-- plv8's API: elog, quote_*, execute, find_function
CREATE FUNCTION say(msg text) RETURNS void LANGUAGE javascript AS $$
  plv8.elog(NOTICE, 'notice:', msg, 42, {k: 1});
  plv8.elog(INFO, 'info');
  plv8.elog(DEBUG1, 'not shown');
  plv8.elog(WARNING, 'careful');
$$;
SELECT say('hi');
CREATE FUNCTION fail_with(msg text) RETURNS void LANGUAGE javascript AS $$ plv8.elog(ERROR, msg); $$;
SELECT fail_with('stop here');
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION quotes(s text) RETURNS text[] LANGUAGE javascript CALLED ON NULL INPUT AS $$
  return [plv8.quote_literal(s), plv8.quote_nullable(s), plv8.quote_ident(s === null ? 'x' : s)];
$$;
SELECT quotes('it''s'), quotes(NULL), quotes('Mixed Case'), quotes('select'), quotes('back\slash');
CREATE TABLE items (id int PRIMARY KEY, name text, owner name DEFAULT current_user);
INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');
CREATE FUNCTION item_names(min_id int) RETURNS text[] LANGUAGE javascript AS $$
  return plv8.execute('SELECT name FROM js.items WHERE id >= $1 ORDER BY id', [min_id]).map(r => r.name);
$$;
SELECT item_names(2);
CREATE FUNCTION add_item(id int, name text) RETURNS int LANGUAGE javascript AS $$
  plv8.execute('INSERT INTO js.items (id, name) VALUES ($1::int, $2)', id, name);
  return plv8.execute('SELECT count(*)::int AS n FROM js.items')[0].n;
$$;
SELECT add_item(4, 'four');
-- a statement without rows answers the number of rows it processed
CREATE FUNCTION shout(max_id int) RETURNS int LANGUAGE javascript AS $$
  return plv8.execute('UPDATE js.items SET name = upper(name) WHERE id <= $1', [max_id]);
$$;
SELECT shout(2), item_names(1);
-- read-only in STABLE functions
CREATE FUNCTION add_item_stable(id int) RETURNS int STABLE LANGUAGE javascript AS $$
  plv8.execute('INSERT INTO js.items (id, name) VALUES ($1::int, $2)', id, 'x');
  return 0;
$$;
SELECT add_item_stable(5);
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION via_find(a int, b int) RETURNS int LANGUAGE javascript AS $$
  const f = plv8.find_function('js.add');
  return f(a, b) * 10;
$$;
SELECT via_find(1, 2);
-- SQL errors inside plv8.execute end the call with their own SQLSTATE
CREATE FUNCTION bad_sql() RETURNS int LANGUAGE javascript AS $$ plv8.execute('SELECT 1/0'); return 1; $$;
SELECT bad_sql();
\echo :LAST_ERROR_SQLSTATE
-- ... and can be caught, as in plv8: the failed statement is rolled back
-- (a subtransaction of its own), the script goes on, the error carries
-- sqlerrcode, detail and hint
CREATE TABLE uniq (id int PRIMARY KEY);
CREATE FUNCTION insert_twice(n int) RETURNS text LANGUAGE javascript AS $$
  plv8.execute('INSERT INTO js.uniq VALUES ($1::int)', [n]);
  try {
    plv8.execute('INSERT INTO js.uniq VALUES ($1::int)', [n]);
    return 'no error';
  } catch (e) {
    return [e.sqlerrcode, e.message, e.detail, e instanceof Error].join(' | ');
  }
$$;
SELECT insert_twice(1);
SELECT count(*) FROM uniq;
CREATE FUNCTION recover() RETURNS int LANGUAGE javascript AS $$
  let seen = 'none';
  try { plv8.execute('SELECT 1/0'); } catch (e) { seen = e.code; }
  plv8.execute('INSERT INTO js.uniq VALUES (2)');
  plv8.elog(NOTICE, 'caught', seen);
  return plv8.execute('SELECT count(*)::int AS n FROM js.uniq')[0].n;
$$;
SELECT recover();
-- uncaught, the statement's SQLSTATE reaches SQL (a PL/pgSQL handler sees it)
CREATE FUNCTION insert_again(n int) RETURNS void LANGUAGE javascript AS $$
  plv8.execute('INSERT INTO js.uniq VALUES ($1::int)', [n]);
$$;
DO $$ BEGIN PERFORM js.insert_again(1);
  EXCEPTION WHEN unique_violation THEN RAISE NOTICE 'unique_violation: %', SQLERRM; END $$;
-- an error thrown with a sqlerrcode of its own keeps it; a success or
-- warning class does not make an error (P0001)
CREATE FUNCTION throws_code(code text) RETURNS void LANGUAGE javascript AS $$
  const e = new Error('custom ' + code); e.sqlerrcode = code; throw e;
$$;
DO $$ BEGIN PERFORM js.throws_code('22012');
  EXCEPTION WHEN division_by_zero THEN RAISE NOTICE 'division_by_zero: %', SQLERRM; END $$;
DO $$ BEGIN PERFORM js.throws_code('00000');
  EXCEPTION WHEN raise_exception THEN RAISE NOTICE 'raise_exception: %', SQLERRM; END $$;
-- a read-only violation is catchable too
CREATE FUNCTION try_write() RETURNS text STABLE LANGUAGE javascript AS $$
  try { plv8.execute('INSERT INTO js.uniq VALUES (3)'); return 'wrote'; }
  catch (e) { return e.sqlerrcode + ': ' + e.message; }
$$;
SELECT try_write();
-- a cancel or timeout is not the script's to catch
SET statement_timeout = '300ms';
CREATE FUNCTION sleep_caught() RETURNS text LANGUAGE javascript AS $$
  try { plv8.execute('SELECT pg_sleep(5)'); } catch (e) { return 'caught ' + e.message; }
  return 'slept';
$$;
SELECT sleep_caught();
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT count(*) FROM uniq;
-- plv8.prepare and cursors
CREATE FUNCTION prepared(min_id int) RETURNS text LANGUAGE javascript AS $$
  const plan = plv8.prepare('SELECT id FROM js.uniq WHERE id >= $1 ORDER BY id', ['int']);
  const all = plan.execute([min_id]).map(r => r.id);
  const cur = plan.cursor([min_id]);
  const first = cur.fetch();
  const rest = cur.fetch(10).map(r => r.id);
  const done = cur.fetch();
  cur.close();
  plan.free();
  return JSON.stringify({ all, first: first.id, rest, done: done === undefined });
$$;
SELECT prepared(1);
-- plv8.subtransaction: all of it or none of it
CREATE TABLE ledger (id int PRIMARY KEY, amount int);
CREATE FUNCTION transfer(a int, b int) RETURNS text LANGUAGE javascript AS $$
  try {
    return plv8.subtransaction(() => {
      plv8.execute('INSERT INTO js.ledger VALUES ($1::int, -10)', [a]);
      plv8.execute('INSERT INTO js.ledger VALUES ($1::int, 10)', [b]);
      return 'done';
    });
  } catch (e) {
    return 'rolled back: ' + e.sqlerrcode;
  }
$$;
SELECT transfer(1, 2);
SELECT transfer(3, 1);
SELECT * FROM ledger ORDER BY id;
-- nested; an exception thrown by the script rolls back its own level only
CREATE FUNCTION nested() RETURNS int LANGUAGE javascript AS $$
  plv8.subtransaction(() => {
    plv8.execute('INSERT INTO js.ledger VALUES (4, 4)');
    try {
      plv8.subtransaction(() => {
        plv8.execute('INSERT INTO js.ledger VALUES (5, 5)');
        throw new Error('inner');
      });
    } catch (e) { plv8.elog(NOTICE, 'caught', e.message); }
  });
  return plv8.execute('SELECT count(*)::int AS n FROM js.ledger')[0].n;
$$;
SELECT nested();
SELECT id FROM ledger ORDER BY id;
-- a limit hit inside a subtransaction rolls it back before the error goes
-- on: a PL/pgSQL handler finds its transaction as it was
SET pg_wasm.fuel_limit = 5000000;
CREATE FUNCTION spin_in_sub() RETURNS void LANGUAGE javascript AS $$
  plv8.subtransaction(() => {
    plv8.execute('INSERT INTO js.ledger VALUES (9, 9)');
    plv8.subtransaction(() => { for (;;) {} });
  });
$$;
DO $$ BEGIN PERFORM js.spin_in_sub();
  EXCEPTION WHEN program_limit_exceeded THEN RAISE NOTICE 'out of fuel, rolled back'; END $$;
SELECT count(*) FROM ledger WHERE id = 9;
BEGIN;
SELECT transfer(6, 7);
SAVEPOINT s;
SELECT js.spin_in_sub();
ROLLBACK TO SAVEPOINT s;
SELECT id FROM ledger ORDER BY id;
COMMIT;
RESET pg_wasm.fuel_limit;
-- ... and so does a statement_timeout while a statement in it runs
SET statement_timeout = '300ms';
CREATE FUNCTION sleep_in_sub() RETURNS text LANGUAGE javascript AS $$
  plv8.subtransaction(() => {
    plv8.execute('INSERT INTO js.ledger VALUES (10, 10)');
    plv8.execute('SELECT pg_sleep(5)');
  });
  return 'slept';
$$;
DO $$ BEGIN PERFORM js.sleep_in_sub();
  EXCEPTION WHEN query_canceled THEN RAISE NOTICE 'timed out, rolled back'; END $$;
RESET statement_timeout;
SELECT count(*) FROM ledger WHERE id = 10;

-- aggregates and window functions over JavaScript state functions
CREATE FUNCTION longest_acc(acc text, v text) RETURNS text LANGUAGE javascript IMMUTABLE AS $$
  return acc === null || v.length > acc.length ? v : acc;
$$;
CREATE AGGREGATE longest(text) (SFUNC = longest_acc, STYPE = text);
SELECT longest(name) FROM items;
SELECT id, longest(name) OVER (ORDER BY id) FROM items ORDER BY id;

-- DO blocks
DO $$ plv8.elog(NOTICE, 'from DO:', plv8.execute('SELECT 40 + 2 AS x')[0].x); $$ LANGUAGE javascript;
DO $$ throw new Error('DO failed'); $$ LANGUAGE javascript;
DO $$ this is not javascript $$ LANGUAGE javascript;

-- Math.random and Date work; no file system, process or network objects
CREATE FUNCTION env() RETURNS text LANGUAGE javascript AS $$
  const r = Math.random();
  return [r >= 0 && r < 1, Date.now() > 1.7e12, typeof require, typeof process,
          typeof std, typeof os, typeof fetch].join(' ');
$$;
SELECT env();

-- the language is trusted, but functions still run with the caller's rights
RESET ROLE;
CREATE ROLE js_other;
GRANT USAGE ON SCHEMA js TO js_other;
SET ROLE js_other;
SELECT js.add(1, 2);
SELECT js.item_names(1);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- a superuser may forbid SQL from JavaScript
SET pg_wasm.javascript_sql = off;
SELECT js.item_names(1);
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.javascript_sql;

-- plv8.prepare's types: each value converted to its declared type.
CREATE FUNCTION js.typed_plan() RETURNS text LANGUAGE javascript AS $$
  const plan = plv8.prepare("SELECT $1 + 1 AS n, $2 || ' $1' AS s, pg_typeof($1)::text AS t, $3::text AS a",
                            ['int', 'text', 'int[]']);
  let bad;
  try { plan.execute('x', 'y', null); } catch (e) { bad = e.sqlerrcode + ' ' + e.message; }
  return JSON.stringify(plan.execute(41, 'x', [[1, 2], [3, 4]])) + ' ' + bad;
$$;
SELECT js.typed_plan();

-- A plan's cursor reads from a cursor on the server as it goes: 20 MB of
-- rows through a 32 MB function, where reading them at once does not fit.
CREATE FUNCTION js.cursor_sum(n int) RETURNS text LANGUAGE javascript AS $$
  const plan = plv8.prepare("SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, $1) g", ['int']);
  const c = plan.cursor(n);
  let row, count = 0, total = 0;
  while ((row = c.fetch()) !== undefined) { count++; total += row.g; }
  c.close();
  const c2 = plan.cursor(10);
  const three = c2.fetch(3).map((r) => r.g);
  c2.move(2);
  const next = c2.fetch().g;
  c2.close();
  let closed;
  try { c2.fetch(); } catch (e) { closed = e.message; }
  plan.cursor(5);  // left open: closed with the statement
  return `${count} ${total} ${three} ${next} ${closed}`;
$$;
CREATE FUNCTION js.fetch_all(n int) RETURNS int LANGUAGE javascript AS $$
  return plv8.execute("SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, $1) g", [n]).length;
$$;
SET pg_wasm.memory_limit_mb = 32;
SET pg_wasm.fuel_limit = 0;
SELECT js.cursor_sum(20000);
\set VERBOSITY sqlstate
SELECT js.fetch_all(20000);
\set VERBOSITY default
RESET pg_wasm.memory_limit_mb;
RESET pg_wasm.fuel_limit;
SELECT count(*) AS open_cursors FROM pg_cursors;
-- Rows plv8.execute reads at once are bounded in host memory too.
SET pg_wasm.max_result_mb = 1;
DO $$
  try { plv8.execute("SELECT repeat('x', 1000) FROM generate_series(1, 2000)"); }
  catch (e) { plv8.elog(NOTICE, e.sqlerrcode, e.message, '|', e.hint); }
$$ LANGUAGE javascript;
RESET pg_wasm.max_result_mb;

-- Nested arrays are a multidimensional array's dimensions (jsonb[]
-- elements keep theirs as values).
CREATE FUNCTION js.md_array() RETURNS int[] LANGUAGE javascript AS $$
  return [[1, 2], [3, null]];
$$;
SELECT js.md_array(), array_dims(js.md_array());
CREATE FUNCTION js.md_jsonb() RETURNS jsonb[] LANGUAGE javascript AS $$
  return [[1, 2], {a: [3]}];
$$;
SELECT js.md_jsonb();

-- An uncaught SQL error keeps its own SQLSTATE, DETAIL and HINT, the
-- JavaScript stack after the DETAIL.
CREATE TABLE js.dup_test (id int PRIMARY KEY);
CREATE FUNCTION js.dup_key() RETURNS void LANGUAGE javascript AS $$
  plv8.execute('INSERT INTO js.dup_test VALUES (1)');
  plv8.execute('INSERT INTO js.dup_test VALUES (1)');
$$;
SELECT js.dup_key();
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION js.no_function() RETURNS void LANGUAGE javascript AS $$
  plv8.execute('SELECT no_such_function(1)');
$$;
SELECT js.no_function();
\echo :LAST_ERROR_SQLSTATE

DROP SCHEMA js CASCADE;
DROP ROLE js_other;
DROP ROLE js_dev;
