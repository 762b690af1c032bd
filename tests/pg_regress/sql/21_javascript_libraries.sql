-- JavaScript libraries (docs/javascript.md, "Libraries"): CommonJS source
-- stored with wasm.load_javascript, loaded by require(name) once per
-- instance; a function may require only its own owner's libraries.
SET client_min_messages = notice;
CREATE ROLE jslib_a;
CREATE ROLE jslib_b;
CREATE SCHEMA jslib AUTHORIZATION jslib_a;
GRANT USAGE ON SCHEMA jslib TO jslib_b;
GRANT CREATE ON SCHEMA jslib TO jslib_b;
SET ROLE jslib_a;

SELECT wasm.load_javascript('money', $$
  const round2 = (x) => Math.round(x * 100) / 100;
  exports.total = (lines) => round2(lines.reduce((s, l) => s + l.qty * l.price, 0));
  exports.loadedAt = Math.random();
$$);
SELECT name, owner, size FROM wasm.javascript_libraries;

CREATE FUNCTION jslib.order_total(lines jsonb) RETURNS numeric LANGUAGE javascript AS $$
  const money = require('money');
  return money.total(lines);
$$;
SELECT jslib.order_total('[{"qty": 2, "price": 1.25}, {"qty": 1, "price": 0.1}]');

-- one instance per statement: the library runs once per statement, not per row
CREATE FUNCTION jslib.same_instance(i int) RETURNS boolean LANGUAGE javascript AS $$
  const m = require('money');
  globalThis.first = globalThis.first ?? m.loadedAt;
  return globalThis.first === m.loadedAt && require('money') === m;
$$;
SELECT bool_and(jslib.same_instance(g)) FROM generate_series(1, 100) g;

-- a library may require another; module.exports replaces exports
SELECT wasm.load_javascript('invoice', $$
  const { total } = require('money');
  module.exports = function invoice(customer, lines) {
    return `${customer}: ${total(lines).toFixed(2)}`;
  };
$$);
CREATE FUNCTION jslib.invoice(customer text, lines jsonb) RETURNS text LANGUAGE javascript AS $$
  return require('invoice')(customer, lines);
$$;
SELECT jslib.invoice('ada', '[{"qty": 3, "price": 2}]');

-- replacing a library changes every function from the next statement
SELECT wasm.load_javascript('money', $$
  exports.total = (lines) => lines.length;
$$);
SELECT jslib.order_total('[{"qty": 2, "price": 1.25}, {"qty": 1, "price": 0.1}]');

-- errors: a missing library, a syntax error at load (nothing stored), an
-- exception while a library runs, a bad name
\set VERBOSITY default
CREATE FUNCTION jslib.needs_missing() RETURNS int LANGUAGE javascript AS $$ return require('nope').x; $$;
SELECT jslib.needs_missing();
CREATE FUNCTION jslib.catches_missing() RETURNS text LANGUAGE javascript AS $$
  try { require('nope'); } catch (e) { return e.code; }
$$;
SELECT jslib.catches_missing();
SELECT wasm.load_javascript('broken', 'exports.x = (;');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM wasm.javascript_libraries WHERE name = 'broken';
SELECT wasm.load_javascript('throws', $$ throw new Error('library failed to start'); $$);
CREATE FUNCTION jslib.needs_throws() RETURNS int LANGUAGE javascript AS $$ return require('throws'); $$;
SELECT jslib.needs_throws();
SELECT wasm.load_javascript('bad name!', 'exports.x = 1;');
\echo :LAST_ERROR_SQLSTATE

-- another role's library: not loadable by its functions, not replaceable
SET ROLE jslib_b;
CREATE FUNCTION jslib.b_total(lines jsonb) RETURNS numeric LANGUAGE javascript AS $$
  return require('money').total(lines);
$$;
SELECT jslib.b_total('[]');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_javascript('money', 'exports.total = () => 666;');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.unload_javascript('money');
\echo :LAST_ERROR_SQLSTATE
-- calling jslib_a's function is fine: it runs jslib_a's library
SELECT jslib.order_total('[1, 2, 3]');

-- unload: functions that require it fail from their next statement
SET ROLE jslib_a;
SELECT wasm.unload_javascript('invoice');
SELECT jslib.invoice('ada', '[]');
SELECT wasm.unload_javascript('invoice');
\echo :LAST_ERROR_SQLSTATE

RESET ROLE;
DROP SCHEMA jslib CASCADE;
SELECT wasm.unload_javascript(name) FROM wasm.javascript_libraries WHERE owner = 'jslib_a'::regrole;
DROP ROLE jslib_a;
DROP ROLE jslib_b;
