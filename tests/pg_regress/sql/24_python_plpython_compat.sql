-- LANGUAGE python runs PL/Python functions unchanged (docs/python.md,
-- "Moving from PL/Python"): OUT parameters from tuples, lists, dicts and
-- objects; SETOF records from generators of tuples; RETURNS record with a
-- column list at the call; arrays of composites; type conversions in both
-- directions; plpy.execute results; the unicode round trip.
SET client_min_messages = notice;
CREATE ROLE pyc_dev;
CREATE SCHEMA pyc AUTHORIZATION pyc_dev;
SET ROLE pyc_dev;
SET search_path = pyc;

CREATE FUNCTION two_out(OUT i integer, OUT j integer) LANGUAGE python AS $$
return (1, 2)
$$;
SELECT two_out(), (two_out()).j + 3;
SELECT * FROM two_out();

CREATE FUNCTION pair_as(kind text, first text, OUT first text, second integer, OUT second integer)
RETURNS record LANGUAGE python AS $$
if kind == 'dict':
    return {'first': first, 'second': second, 'ignored': True}
if kind == 'tuple':
    return (first, second)
if kind == 'list':
    return [first, second]
if kind == 'obj':
    class Rec:
        pass
    r = Rec()
    r.first = first
    r.second = second
    return r
return None
$$;
SELECT * FROM pair_as('dict', 'a', 1);
SELECT * FROM pair_as('tuple', 'b', NULL);
SELECT * FROM pair_as('list', NULL, 3);
SELECT * FROM pair_as('obj', 'd', 4);
SELECT * FROM pair_as('none', 'e', 5);

CREATE FUNCTION powers(n integer, OUT power integer, OUT digits integer) RETURNS SETOF record
LANGUAGE python AS $$
for i in range(n):
    p = 2 ** i
    yield p, plpy.execute("SELECT length('%d') AS l" % p)[0]['l']
$$;
SELECT * FROM powers(5);

CREATE FUNCTION free_record(t text) RETURNS record LANGUAGE python AS $$
return {'t': t, 'val': 10}
$$;
SELECT * FROM free_record('abc') AS r(t text, val integer);
SELECT * FROM free_record('abc') AS r(val bigint, t varchar(10));

CREATE TYPE named_pair AS (first text, second int4);
CREATE FUNCTION pair_array() RETURNS named_pair[] LANGUAGE python AS $$
return [('one', 1), {'first': 'two', 'second': 2}]
$$;
SELECT pair_array();
CREATE FUNCTION pairs() RETURNS SETOF named_pair LANGUAGE python AS $$
return [{'first': 'x', 'second': 1}, ('y', 2)]
$$;
SELECT * FROM pairs();

-- conversions both ways
CREATE FUNCTION echo_types(b bool, i2 int2, i8 int8, f4 real, n numeric, t text, by bytea, arr int[], a2 text[])
RETURNS text LANGUAGE python AS $$
return ' | '.join('%s %r' % (type(x).__name__, x) for x in (b, i2, i8, f4, n, t, by, arr, a2))
$$;
SELECT echo_types(false, 7::int2, 9007199254740993, 0.5, -1.50, 'x''y', '\xdeadbeef', ARRAY[[1,2],[3,4]], ARRAY['a', NULL]);
CREATE FUNCTION big_int8() RETURNS int8 LANGUAGE python AS $$ return 2 ** 62 $$;
SELECT big_int8();
CREATE FUNCTION too_big() RETURNS int4 LANGUAGE python AS $$ return 2 ** 40 $$;
SELECT too_big();
CREATE FUNCTION float_out() RETURNS float8 LANGUAGE python AS $$ return 1 / 3 $$;
SELECT float_out();
CREATE FUNCTION bool_out(x int) RETURNS bool LANGUAGE python AS $$ return [None, [], [0], 'f'][x] $$;
SELECT bool_out(0), bool_out(1), bool_out(2), bool_out(3);
CREATE FUNCTION unicode_round_trip(s text) RETURNS text LANGUAGE python AS $$ return s[::-1] + '✓' $$;
SELECT unicode_round_trip('žluťoučký kůň');

-- plpy.execute's result object
CREATE FUNCTION result_api() RETURNS text LANGUAGE python AS $$
r = plpy.execute("SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'", 1)
rows = plpy.execute("SELECT g FROM generate_series(1, 3) g")
return '%d %s %s %d %s' % (r.nrows(), r.colnames(), r[0]['b'], len(rows), [x['g'] for x in rows[1:]])
$$;
SELECT result_api();
CREATE FUNCTION ddl_count() RETURNS text LANGUAGE python AS $$
plpy.execute("CREATE TEMP TABLE tmp_py (x int)")
r = plpy.execute("INSERT INTO tmp_py SELECT generate_series(1, 4)")
return '%d %s' % (r.nrows(), r.status())
$$;
SELECT ddl_count();

-- Nested lists are a multidimensional array's dimensions, as in
-- PL/Python; ragged ones are refused.
CREATE FUNCTION md_array() RETURNS text[] LANGUAGE python AS $$
return [[['a', None], ['b', 'c']], [['d', 'e'], ['f', 'g']]]
$$;
SELECT md_array(), array_dims(md_array());
CREATE FUNCTION md_ragged() RETURNS int[] LANGUAGE python AS $$
return [[1, 2], [3]]
$$;
SELECT md_ragged();
CREATE FUNCTION md_rows(OUT m int[], OUT n int) RETURNS SETOF record LANGUAGE python AS $$
return [([[1, 2], [3, 4]], 1), ([[5]], 2)]
$$;
SELECT * FROM md_rows();

-- plpy.prepare's types: each value converted to its declared type by the
-- server (a "$1" inside a string literal stays text; ten parameters and
-- more), a value that does not fit is a catchable SPIError, the argument
-- count is checked.
CREATE FUNCTION typed_plan() RETURNS text LANGUAGE python AS $$
plan = plpy.prepare("SELECT $1 + 1 AS n, $2 || ' $1' AS s, pg_typeof($1)::text AS t, $3 AS d",
                    ["int4", "text", "date"])
r = plan.execute([41, "x", "2024-02-29"])
many = plpy.prepare("SELECT $1::text || $10::text AS s", ["int4"] * 10)
try:
    plan.execute(["not a number", "x", None])
except plpy.SPIError as e:
    bad = "%s %s" % (e.sqlstate, e)
return "%s|%s|%s|%s|%s|%s" % (r[0]["n"], r[0]["s"], r[0]["t"], r[0]["d"],
                             many.execute(list(range(10)))[0]["s"], bad)
$$;
SELECT typed_plan();
CREATE FUNCTION plan_arity() RETURNS void LANGUAGE python AS $$
plpy.prepare("SELECT $1", ["int4"]).execute([])
$$;
SELECT plan_arity();

-- plpy.cursor reads from a cursor on the server as it goes: 20 MB of rows
-- pass through a function whose memory limit is 32 MB, where reading them
-- at once does not fit. A cursor left open is closed with the statement;
-- one opened in a subtransaction that rolled back is gone.
CREATE FUNCTION cursor_sum(n int) RETURNS text LANGUAGE python AS $$
total = count = 0
for row in plpy.cursor("SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, $1) g", [n]):
    total += row["g"]
    count += 1
c = plpy.cursor(plpy.prepare("SELECT g FROM generate_series(1, $1) g", ["int4"]), [10])
first = [r["g"] for r in c.fetch(3)]
rest = [r["g"] for r in c]
c.close()
try:
    c.fetch(1)
except ValueError as e:
    closed = str(e)
left_open = plpy.cursor("SELECT 1")
try:
    with plpy.subtransaction():
        inner = plpy.cursor("SELECT 1")
        raise ValueError("roll back")
except ValueError:
    pass
try:
    inner.fetch(1)
except plpy.SPIError as e:
    gone = str(e)
return "%d %d %s %s %s | %s" % (count, total, first, rest, closed, gone)
$$;
CREATE FUNCTION fetch_all(n int) RETURNS int LANGUAGE python AS $$
return len(plpy.execute("SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, %d) g" % n))
$$;
SET pg_wasm.memory_limit_mb = 32;
SET pg_wasm.fuel_limit = 0;
SELECT cursor_sum(20000);
\set VERBOSITY sqlstate
SELECT fetch_all(20000);
\set VERBOSITY default
RESET pg_wasm.memory_limit_mb;
RESET pg_wasm.fuel_limit;
SELECT count(*) AS open_cursors FROM pg_cursors;
-- Rows plpy.execute reads at once are bounded in host memory too (the
-- budget is a superuser's setting).
RESET ROLE;
SET pg_wasm.max_result_mb = 1;
SET ROLE pyc_dev;
DO $$
try:
    plpy.execute("SELECT repeat('x', 1000) FROM generate_series(1, 2000)")
except plpy.SPIError as e:
    plpy.notice("%s %s | %s" % (e.sqlstate, e, e.hint))
plpy.notice(sum(1 for r in plpy.cursor("SELECT repeat('x', 1000) FROM generate_series(1, 2000)")))
$$ LANGUAGE python;
RESET ROLE;
RESET pg_wasm.max_result_mb;
SET ROLE pyc_dev;
CREATE FUNCTION cursor_error() RETURNS text LANGUAGE python AS $$
try:
    for r in plpy.cursor("SELECT 1 / (g - 5) FROM generate_series(1, 10) g"):
        pass
except plpy.spiexceptions.DivisionByZero as e:
    return "caught %s" % e.sqlstate
$$;
SELECT cursor_error();

-- plpy.error's detail and hint are the error's DETAIL (before the
-- traceback) and HINT, as in PL/Python; an uncaught SQL error keeps its
-- own SQLSTATE, DETAIL and HINT.
CREATE FUNCTION err_fields() RETURNS void LANGUAGE python AS $$
plpy.error('bad input', detail='the value was 7', hint='use a value below 5')
$$;
SELECT err_fields();
CREATE TEMP TABLE py_uniq (id int PRIMARY KEY);
CREATE FUNCTION dup_key() RETURNS void LANGUAGE python AS $$
plpy.execute("INSERT INTO py_uniq VALUES (1)")
plpy.execute("INSERT INTO py_uniq VALUES (1)")
$$;
SELECT dup_key();
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION no_function() RETURNS void LANGUAGE python AS $$
plpy.execute("SELECT no_such_function(1)")
$$;
SELECT no_function();
\echo :LAST_ERROR_SQLSTATE

DISCARD TEMP;
RESET ROLE;
DROP SCHEMA pyc CASCADE;
DROP ROLE pyc_dev;
