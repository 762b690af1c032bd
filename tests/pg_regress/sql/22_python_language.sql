-- LANGUAGE python (docs/python.md): PL/Python's conversions both ways,
-- NULLs, SETOF from lists, iterators and generators, RETURNS TABLE,
-- composites as dicts, exceptions with their traceback, syntax errors at
-- CREATE, limits, DO blocks, the sandbox; created by a role without any
-- privilege beyond CREATE on a schema (the language is trusted).
SET client_min_messages = notice;
CREATE ROLE py_dev;
CREATE SCHEMA py AUTHORIZATION py_dev;
SET ROLE py_dev;
SET search_path = py;

-- numbers, text, booleans; arguments are globals, and `args` lists them
CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE python AS $$ return a + b $$;
SELECT add(2, 40), add(2147483647, 0);
-- not STRICT unless declared so: a NULL is None
SELECT add(NULL, 1);
CREATE FUNCTION kinds(i2 int2, i4 int4, i8 int8, f4 real, f8 float8, b bool, t text, v varchar, n numeric)
RETURNS text LANGUAGE python AS $$
return ' '.join('%s:%r' % (type(x).__name__, x) for x in args)
$$;
SELECT kinds(1::int2, 2, 3, 1.5, 2.25, true, 'é', 'v', 12.50);
CREATE FUNCTION nulls(a int, b text, c jsonb) RETURNS text LANGUAGE python CALLED ON NULL INPUT
AS $$ return repr([a, b, c, len(args)]) $$;
SELECT nulls(NULL, NULL, NULL), nulls(1, 'x', '{"k": [1]}');
-- an argument assigned in the body needs `global`, as in PL/Python
CREATE FUNCTION shadow(x int) RETURNS int LANGUAGE python AS $$
global x
x = x + 1
return x
$$;
SELECT shadow(1);
-- dates, times, json come as text; bytea as bytes; arrays as lists
CREATE FUNCTION texts(d date, ts timestamptz, j json, by bytea, arr int[], tarr text[])
RETURNS text LANGUAGE python AS $$
return repr([type(d).__name__, d, j, by, arr, tarr])
$$;
SELECT texts('2024-02-29', '2024-01-01 00:00:00+00', '{"a":1}', '\x0102', ARRAY[1,2,NULL], ARRAY['a','b']);

-- results: through str() and the type's input, as PL/Python
CREATE FUNCTION as_int(t text) RETURNS int LANGUAGE python AS $$ return t $$;
SELECT as_int('42');
SELECT as_int('4x2');
CREATE FUNCTION num_out() RETURNS numeric LANGUAGE python AS $$
import decimal
return decimal.Decimal('1') / 3
$$;
SELECT num_out();
CREATE FUNCTION truthy(x text) RETURNS bool LANGUAGE python AS $$ return x $$;
SELECT truthy('a'), truthy('');
CREATE FUNCTION bytes_out() RETURNS bytea LANGUAGE python AS $$ return b'\x00ab' $$;
SELECT bytes_out();
CREATE FUNCTION date_out() RETURNS date LANGUAGE python AS $$
import datetime
return datetime.date(2024, 3, 1) - datetime.timedelta(days=1)
$$;
SELECT date_out();
CREATE FUNCTION json_out() RETURNS jsonb LANGUAGE python AS $$ return {'a': [1, 2.5, None, True], 'b': 'x'} $$;
SELECT json_out();
CREATE FUNCTION arr_out(n int) RETURNS int[] LANGUAGE python AS $$ return list(range(n)) $$;
SELECT arr_out(4);
CREATE FUNCTION void_ok() RETURNS void LANGUAGE python AS $$ pass $$;
SELECT void_ok();
CREATE FUNCTION void_bad() RETURNS void LANGUAGE python AS $$ return 1 $$;
SELECT void_bad();

-- composites as dicts both ways
CREATE TYPE pair AS (k text, v int);
CREATE FUNCTION swap(p pair) RETURNS pair LANGUAGE python AS $$
return {'k': p['k'].upper(), 'v': p['v'] * 2}
$$;
SELECT swap(('ab', 21)::pair);

-- SETOF from a list, a generator, RETURNS TABLE
CREATE FUNCTION squares(n int) RETURNS SETOF int LANGUAGE python AS $$ return [i * i for i in range(n)] $$;
SELECT * FROM squares(4);
CREATE FUNCTION gen(n int) RETURNS SETOF text LANGUAGE python AS $$
for i in range(n):
    yield 'row %d' % i
$$;
SELECT * FROM gen(3);
CREATE FUNCTION tab(n int) RETURNS TABLE (i int, label text) LANGUAGE python AS $$
return ({'i': i, 'label': 'n%d' % i} for i in range(n))
$$;
SELECT * FROM tab(2);

-- the standard library (pure-Python modules, served from memory)
CREATE FUNCTION slug(s text) RETURNS text LANGUAGE python AS $$
import re, unicodedata
t = unicodedata.normalize('NFKD', s).encode('ascii', 'ignore').decode()
return re.sub(r'[^a-z0-9]+', '-', t.lower()).strip('-')
$$;
SELECT slug('Héllo, Wörld!');
CREATE FUNCTION stdlib() RETURNS text LANGUAGE python AS $$
import json, statistics, collections, itertools, fractions, textwrap, hashlib, base64, graphlib
return '%s %s %s %s %s' % (
    json.dumps({'b': 1}), statistics.median([3, 1, 2]),
    collections.Counter('abca').most_common(1), fractions.Fraction(3, 6),
    hashlib.sha256(b'x').hexdigest()[:8])
$$;
SELECT stdlib();

-- exceptions: P0001 with the traceback; plpy.error with detail and SQLSTATE
CREATE FUNCTION boom(x int) RETURNS int LANGUAGE python AS $$
def inner(v):
    return v / 0
return inner(x)
$$;
SELECT boom(1);
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION raiser() RETURNS int LANGUAGE python AS $$
plpy.error('custom message', detail='some detail')
$$;
SELECT raiser();
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION coded() RETURNS int LANGUAGE python AS $$
raise plpy.Error('not a number', sqlstate='22023')
$$;
SELECT coded();
\echo :LAST_ERROR_SQLSTATE
-- syntax errors at CREATE, with the body's line
CREATE FUNCTION broken() RETURNS int LANGUAGE python AS $$
x = 1
return (x
$$;
\echo :LAST_ERROR_SQLSTATE

-- logging
CREATE FUNCTION talk() RETURNS int LANGUAGE python AS $$
plpy.notice('a notice', 42)
plpy.info('info')
plpy.debug('not shown')
print('print goes to the server log')
return 1
$$;
SELECT talk();
SELECT py.talk() FROM generate_series(1, 2);

-- DO blocks
DO $$
plpy.notice('from DO: %s' % (6 * 7))
$$ LANGUAGE python;
DO $$ raise ValueError('bad value') $$ LANGUAGE python;

-- the sandbox: no files, processes or sockets, as a non-superuser
CREATE FUNCTION try(code text) RETURNS text LANGUAGE python AS $$
try:
    exec(code, {})
    return 'ran'
except BaseException as e:
    return type(e).__name__
$$;
SELECT try('open("/etc/passwd").read()') AS open_file,
       try('import os; os.listdir("/")') AS listdir,
       try('import os; os.system("id")') AS system,
       try('import socket; socket.socket()') AS socket,
       try('import subprocess') AS subprocess,
       try('import ctypes') AS ctypes;

-- limits: fuel, memory and recursion end the call, never the server
CREATE FUNCTION spin() RETURNS int LANGUAGE python AS $$
while True:
    pass
$$;
SET pg_wasm.fuel_limit = 100000000;
SELECT spin();
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.fuel_limit;
CREATE FUNCTION hog() RETURNS int LANGUAGE python AS $$
x = 'a' * (1 << 30)
return len(x)
$$;
-- The size asked for depends on the engine's heap: shown as N.
DO $$
DECLARE hint text;
BEGIN
  PERFORM hog();
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RAISE NOTICE '% %', SQLSTATE, regexp_replace(SQLERRM, 'memory of [0-9]+ bytes', 'memory of N bytes');
  RAISE NOTICE 'HINT %', hint;
END $$;
CREATE FUNCTION deep(n int) RETURNS int LANGUAGE python AS $$
def f(k):
    return f(k + 1)
return f(0)
$$;
SELECT deep(1);
SELECT add(1, 1) AS still_fine;

RESET ROLE;
DROP SCHEMA py CASCADE;
DROP ROLE py_dev;
