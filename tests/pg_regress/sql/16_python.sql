-- A Python component (componentize-py, guest-examples/py-pricing): WIT
-- records become composite types, lists become arrays or rows of a
-- set-returning function, u64 is numeric; limits, replace and unload as
-- for every module.
SET client_min_messages = warning;
\getenv guests PG_WASM_GUESTS

-- load makes the composite type pricing_tier, then the functions
SELECT f::text FROM wasm.load('pricing', pg_read_binary_file(:'guests' || '/py_pricing.wasm')) f ORDER BY 1;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'pricing_tier'::regclass ORDER BY attnum;
SELECT e->>'kind' AS kind, e->>'name' AS name, e->>'wit' AS wit
  FROM wasm.modules, jsonb_array_elements(exports) e WHERE name = 'pricing' ORDER BY 1, 2;

-- inspect (of code the cluster has compiled: mapped, not compiled again):
-- the record, each export's WIT and the SQL it maps to
SELECT kind, name, params, results FROM wasm.inspect(pg_read_binary_file(:'guests' || '/py_pricing.wasm'))
 WHERE kind <> 'import interface' ORDER BY kind, name;

-- scalars, strings, result<f64, string>
SELECT pricing_classify('I want a refund for my last invoice') AS billing,
       pricing_classify('The app crashes on start') AS bug,
       pricing_classify('Hello') AS other;
SELECT pricing_price(10, 150) AS price;
SELECT pricing_price(-1, 1);
\echo :LAST_ERROR_SQLSTATE

-- list<tier>: an array of composite values ...
SELECT pricing_tiers(10);
SELECT (pricing_tiers(10))[3].unit_price;
-- ... or rows, declared RETURNS SETOF
CREATE FUNCTION tier_rows(double precision) RETURNS SETOF pricing_tier
  LANGUAGE wasm STRICT AS 'pricing.tiers';
SELECT * FROM tier_rows(19.99);
-- list<string>: text[] or SETOF text
CREATE FUNCTION words(text) RETURNS SETOF text LANGUAGE wasm STRICT AS 'pricing.words';
SELECT pricing_words('Hello, big World'), array(SELECT words('Ça va, le monde?'));
SELECT w, count(*) FROM (VALUES ('the cat and the hat'), ('the end')) v(t), words(t) w
 GROUP BY w ORDER BY 2 DESC, 1 LIMIT 3;
-- a record argument; NULL fields are refused by name
SELECT pricing_total(t, 3) FROM tier_rows(10) t;
SELECT pricing_total(ROW(1, 0.5, NULL)::pricing_tier, 3);
\echo :LAST_ERROR_SQLSTATE
-- list<u8> -> u64: bytea in, numeric out
SELECT pricing_checksum('hello'::bytea), pricing_checksum(''::bytea);

-- isolation (SPEC §7): one instance per call site, so Python's globals
-- live one statement; the next statement, transaction or role starts over
SELECT pricing_calls() FROM generate_series(1, 3);
SELECT pricing_calls();
BEGIN;
SELECT pricing_calls();
SELECT pricing_calls();
COMMIT;

-- the host API (pg:wasm/host, sdk/wit/host.wit): query needs allow_spi,
-- runs as the calling role, keeps PostgreSQL's errors; log reaches the client
CREATE TABLE customers (id int PRIMARY KEY, tier text);
INSERT INTO customers VALUES (1, 'gold'), (2, 'bronze');
\set VERBOSITY terse
SELECT pricing_customer_discount(1);
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT wasm.configure('pricing', '{"allow_spi": true}');
SET client_min_messages = notice;
SELECT pricing_customer_discount(1) AS gold, pricing_customer_discount(2) AS bronze;
SET client_min_messages = warning;
SELECT pricing_customer_discount(3);
ALTER TABLE customers RENAME TO clients;
SELECT pricing_customer_discount(1);
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE clients RENAME TO customers;
-- a function that can run SQL is PARALLEL RESTRICTED, like a core module's
SELECT proname, proparallel FROM pg_proc
 WHERE proname IN ('pricing_customer_discount', 'pricing_classify') ORDER BY 1;
-- the caller's rights: no SELECT on customers, no discount
CREATE ROLE pricing_clerk;
GRANT USAGE ON SCHEMA public TO pricing_clerk;
SET ROLE pricing_clerk;
SELECT pricing_customer_discount(1);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- bound STABLE, its queries run read-only: the read works
CREATE FUNCTION stable_discount(int) RETURNS float8 LANGUAGE wasm STABLE STRICT
  AS 'pricing.customer-discount';
SELECT stable_discount(2);

-- a trigger in Python: tiers in lower case, unknown ones refused
CREATE FUNCTION check_customer() RETURNS trigger LANGUAGE wasm AS 'pricing.check-customer';
CREATE TRIGGER check_customer BEFORE INSERT OR UPDATE ON customers
  FOR EACH ROW EXECUTE FUNCTION check_customer();
INSERT INTO customers VALUES (3, ' Silver ');
UPDATE customers SET tier = 'GOLD' WHERE id = 2;
INSERT INTO customers VALUES (4, 'platinum');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM customers ORDER BY id;

-- signatures are checked against the WIT
CREATE FUNCTION bad_tiers(double precision) RETURNS SETOF text LANGUAGE wasm AS 'pricing.tiers';
CREATE TYPE not_a_tier AS (min_units int, rate float8);
CREATE FUNCTION bad_tiers(double precision) RETURNS SETOF not_a_tier LANGUAGE wasm AS 'pricing.tiers';
CREATE FUNCTION bad_words(text) RETURNS SETOF text LANGUAGE wasm AS 'pricing.classify';
-- an existing composite type with the same fields fits
CREATE TYPE my_tier AS (min_units int, rate float8, unit_price float8);
CREATE FUNCTION my_tiers(double precision) RETURNS SETOF my_tier LANGUAGE wasm STRICT AS 'pricing.tiers';
SELECT * FROM my_tiers(1) WHERE rate > 0;

-- an endless Python loop stops at its fuel, and at statement_timeout
\set VERBOSITY terse
SELECT wasm.configure('pricing', '{"fuel": 200000000}');
SELECT pricing_spin(1);
\echo :LAST_ERROR_SQLSTATE
SET pg_wasm.fuel_limit = 0;
SELECT wasm.configure('pricing', '{"fuel": 0}');
SET statement_timeout = '500ms';
SELECT pricing_spin(1);
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
RESET pg_wasm.fuel_limit;
\set VERBOSITY default
SELECT pricing_classify('still works, thanks');

-- replace (by the same code: mapped, not compiled) keeps the functions
-- (same OIDs) and the type
SELECT 'pricing_tiers(float8)'::regprocedure::oid AS tiers_oid \gset
SELECT count(*) FROM wasm.replace('pricing', pg_read_binary_file(:'guests' || '/py_pricing.wasm'));
SELECT 'pricing_tiers(float8)'::regprocedure::oid = :tiers_oid AS same_oid, (pricing_tiers(2))[1];

-- unload refuses while functions use the module; cascade drops them and
-- the type (and what uses it)
SELECT wasm.unload('pricing');
SELECT wasm.unload('pricing', true);
SELECT count(*) FROM pg_proc WHERE proname LIKE 'pricing\_%' OR proname IN ('tier_rows', 'words', 'my_tiers', 'stable_discount', 'check_customer');
SELECT to_regtype('pricing_tier') AS gone, to_regtype('my_tier') AS kept;
DROP TYPE my_tier, not_a_tier;
DROP TABLE customers;

DROP OWNED BY pricing_clerk;
DROP ROLE pricing_clerk;
