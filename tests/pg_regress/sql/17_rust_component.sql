-- A Rust component (wit-bindgen, no_std, guest-examples/rust-orders, made a
-- component by sdk/componentize) that sums an order through the host API.
SET client_min_messages = warning;
\getenv guests PG_WASM_GUESTS

SELECT f::text FROM wasm.load('orders', pg_read_binary_file(:'guests' || '/orders.wasm'),
                              '{"allow_spi": true}') f ORDER BY 1;
-- it imports pg_wasm's host interface and nothing else
SELECT kind, name FROM wasm.inspect(pg_read_binary_file(:'guests' || '/orders.wasm'))
 WHERE kind LIKE 'import%';

CREATE TABLE order_lines (order_id int, qty int, price numeric);
INSERT INTO order_lines VALUES (1, 2, 10.50), (1, 1, 10.50), (2, 100, 0.25), (2, 1, 99);
SELECT orders_order_total(1) AS one, orders_order_total(2) AS two;
SELECT orders_order_total(3);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_slugify('Hello, World! 2024 edition');

-- tuples: a tuple result is a record with OUT parameters f1, f2; a tuple
-- argument takes any row whose columns fit, in order
SELECT * FROM orders_split_sku('ABC-1234');
SELECT orders_split_sku('not a sku') IS NULL AS none_is_null;
SELECT orders_join_sku(ROW('XYZ', 7)) AS from_row,
       orders_join_sku(orders_split_sku('ABC-1234')) AS round_trip;
CREATE TABLE skus (family text, num int);
INSERT INTO skus VALUES ('DEF', 12), ('GHI', 345);
SELECT orders_join_sku(s) FROM skus s ORDER BY 1;
SELECT orders_join_sku(ROW('XYZ', 7::bigint));
\echo :LAST_ERROR_SQLSTATE
SELECT orders_join_sku(ROW('XYZ'));
\echo :LAST_ERROR_SQLSTATE
-- declared: any OUT parameters or composite type of the same arity that fits
CREATE FUNCTION sku_parts(sku text, OUT family text, OUT num int)
  LANGUAGE wasm AS 'orders.split-sku';
SELECT * FROM sku_parts('QRS-0042');
CREATE FUNCTION sku_row(text) RETURNS skus LANGUAGE wasm AS 'orders.split-sku';
SELECT (sku_row('JKL-0001')).*;
-- the type changes after the backend resolved the function: the next
-- statement checks the signature again, and again after it changes back
ALTER TABLE skus ADD COLUMN note text;
SELECT (sku_row('JKL-0001')).*;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE skus DROP COLUMN note;
SELECT (sku_row('JKL-0001')).*;
CREATE FUNCTION bad_parts(sku text, OUT family text) LANGUAGE wasm AS 'orders.split-sku';
CREATE FUNCTION bad_parts(sku text, OUT family text, OUT num bigint)
  LANGUAGE wasm AS 'orders.split-sku';
CREATE FUNCTION bad_parts(sku text) RETURNS record LANGUAGE wasm AS 'orders.split-sku';
-- a list of tuples: one row per element, declared RETURNS TABLE
CREATE FUNCTION numbered_lines(t text) RETURNS TABLE (n bigint, line text)
  LANGUAGE wasm AS 'orders.numbered-lines';
SELECT * FROM numbered_lines(E'first\n\nthird\nfourth');
CREATE FUNCTION bad_lines(t text) RETURNS TABLE (n int, line text)
  LANGUAGE wasm AS 'orders.numbered-lines';
DROP TABLE skus CASCADE;

-- records: the load made the composite type orders_order_line
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'orders_order_line'::regclass ORDER BY attnum;
SELECT (orders_parse_line('3 x ABC-1234 @ 2.50')).*;
SELECT orders_parse_line('nothing') IS NULL AS none_is_null;
SELECT orders_line_total(orders_parse_line('3 x ABC-1234 @ 2.50')) AS total,
       orders_line_total(ROW('XYZ', 4, 0.5)::orders_order_line) AS from_row,
       orders_line_total(NULL) IS NULL AS strict;
-- a NULL field is refused unless its WIT type is an option
SELECT orders_line_total(ROW(NULL, 1, 1.0)::orders_order_line);
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE lines AS SELECT (orders_parse_line(n || ' x SKU-' || n || ' @ 1.5')).* FROM generate_series(1, 3) n;
SELECT sum(orders_line_total(ROW(sku, qty, price)::orders_order_line)) FROM lines;
DROP TABLE lines;
-- a list of records: one row per element, SETOF the record's type
CREATE FUNCTION lines_of(t text) RETURNS SETOF orders_order_line
  LANGUAGE wasm STRICT AS 'orders.parse-lines';
SELECT * FROM lines_of(E'3 x ABC-1234 @ 2.50\nnot a line\n12 x DEF-0001 @ 1');
SELECT count(*) FROM lines_of('') AS no_rows;
SELECT orders_parse_lines(E'1 x A @ 1\n2 x B @ 2') AS as_an_array;
-- list<option<order-line>>: a none is a row of NULLs (an array: a NULL element)
CREATE FUNCTION try_lines(t text) RETURNS SETOF orders_order_line
  LANGUAGE wasm STRICT AS 'orders.try-lines';
SELECT l, l IS NULL AS is_null FROM try_lines(E'1 x A @ 1\nnot a line\n2 x B @ 2') l;
SELECT orders_try_lines(E'1 x A @ 1\nnot a line') AS as_an_array;
-- variants are jsonb: {"case": value}, a case without a value {"case": null}
-- (or "case" as an argument)
SELECT l.qty, orders_line_discount(l) FROM lines_of(E'1 x A @ 1\n10 x B @ 2\n100 x C @ 3') l;
SELECT orders_discounted(ROW('A', 10, 2.0)::orders_order_line, '{"percent": 50}') AS half,
       orders_discounted(ROW('A', 10, 2.0)::orders_order_line, '"no-discount"') AS whole,
       orders_discounted(ROW('A', 10, 2.0)::orders_order_line, '{"no-discount": null}') AS also_whole;
SELECT sum(orders_discounted(l, orders_line_discount(l))) AS round_trip
  FROM lines_of(E'1 x A @ 1\n10 x B @ 2\n100 x C @ 3') l;
SELECT orders_discounted(ROW('A', 1, 2.0)::orders_order_line, '{"coupon": 1}');
\echo :LAST_ERROR_SQLSTATE
-- a record with arrays inside: orders_order (id, lines orders_order_line[],
-- tags text[]), out of one export and into another
SELECT orders_make_order(7, E'3 x ABC-1234 @ 2.50\n12 x DEF-0001 @ 1') AS o;
SELECT (orders_make_order(7, E'3 x ABC-1234 @ 2.50\n12 x DEF-0001 @ 1')).lines[2].qty;
SELECT orders_order_sum(orders_make_order(7, E'3 x ABC-1234 @ 2.50\n12 x DEF-0001 @ 1')) AS round_trip,
       orders_order_sum(ROW(1, ARRAY[ROW('A', 2, 1.5), ROW('B', 1, 4)]::orders_order_line[], '{x}')) AS from_rows,
       orders_order_sum(ROW(1, '{}', '{}')) AS empty;
SELECT sum(orders_order_sum(orders_make_order(g, g || ' x A @ 2'))) FROM generate_series(1, 1000) g;
SELECT orders_order_sum(ROW(1, ARRAY[ROW('A', 2, 1.5)::orders_order_line, NULL], '{x}'));
\echo :LAST_ERROR_SQLSTATE

-- the query runs as the calling role: row-level security applies
CREATE ROLE orders_clerk;
GRANT USAGE ON SCHEMA public TO orders_clerk;
GRANT SELECT ON order_lines TO orders_clerk;
ALTER TABLE order_lines ENABLE ROW LEVEL SECURITY;
CREATE POLICY small_lines ON order_lines TO orders_clerk USING (qty < 10);
SET ROLE orders_clerk;
SELECT orders_order_total(1) AS one, orders_order_total(2) AS two_small_lines_only;
RESET ROLE;

-- a trigger in Rust: quantities below one are refused
CREATE FUNCTION check_line() RETURNS trigger LANGUAGE wasm AS 'orders.check-line';
CREATE TRIGGER check_line BEFORE INSERT OR UPDATE ON order_lines
  FOR EACH ROW EXECUTE FUNCTION check_line();
INSERT INTO order_lines VALUES (3, 5, 1.25);
INSERT INTO order_lines VALUES (3, 0, 1.25);
\echo :LAST_ERROR_SQLSTATE
UPDATE order_lines SET qty = -1 WHERE order_id = 3;
SELECT orders_order_total(3);

-- limits: fuel, then statement_timeout
\set VERBOSITY terse
SELECT wasm.configure('orders', '{"fuel": 1000000}');
SELECT orders_spin(1);
\echo :LAST_ERROR_SQLSTATE
SET pg_wasm.fuel_limit = 0;
SELECT wasm.configure('orders', '{"fuel": 0}');
SET statement_timeout = '300ms';
SELECT orders_spin(1);
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
RESET pg_wasm.fuel_limit;
\set VERBOSITY default

-- replace keeps the functions
SELECT 'orders_slugify(text)'::regprocedure::oid AS slug_oid \gset
SELECT count(*) FROM wasm.replace('orders', pg_read_binary_file(:'guests' || '/orders.wasm'));
SELECT 'orders_slugify(text)'::regprocedure::oid = :slug_oid AS same_oid, orders_slugify('Still: here');

-- a replace by code without the record (the WAT calc component) drops the
-- record's type, unless something else uses it: a table column keeps it
-- (with a NOTICE). Replace refuses while functions use exports the new
-- code lacks, so those are dropped first.
\set calc `cat $PG_WASM_GUESTS/calc_component.wat`
CREATE TABLE line_log (l orders_order_line);
SELECT count(*) FROM wasm.replace('orders', wasm.wat_to_wasm(:'calc'));
DROP TRIGGER check_line ON order_lines;
SELECT format('DROP FUNCTION %s', function) FROM wasm.functions WHERE module = 'orders' ORDER BY 1 \gexec
SELECT f::text FROM wasm.replace('orders', wasm.wat_to_wasm(:'calc')) f ORDER BY 1;
SELECT to_regtype('orders_order_line') AS kept_for_line_log;
SELECT wasm.unload('orders', true);
DROP TABLE line_log;
-- loaded again, the existing type (same fields, its role's own) is reused,
-- but the module did not make it: replace and unload leave it to its owner
SELECT count(*) FROM wasm.load('orders', pg_read_binary_file(:'guests' || '/orders.wasm'));
SELECT format('DROP FUNCTION %s', function) FROM wasm.functions WHERE module = 'orders' ORDER BY 1 \gexec
SELECT count(*) FROM wasm.replace('orders', wasm.wat_to_wasm(:'calc'));
SELECT to_regtype('orders_order_line') AS kept, to_regtype('orders_order') AS dropped;
SELECT wasm.unload('orders', true);
DROP TYPE orders_order_line;
-- unload without cascade drops the types too: orders_order (whose lines
-- column is orders_order_line[]) before orders_order_line
SELECT count(*) FROM wasm.load('orders', pg_read_binary_file(:'guests' || '/orders.wasm'));
SELECT format('DROP FUNCTION %s', function) FROM wasm.functions WHERE module = 'orders' ORDER BY 1 \gexec
SELECT wasm.unload('orders');
SELECT to_regtype('orders_order') AS order_gone, to_regtype('orders_order_line') AS line_gone;
DROP TABLE order_lines;
DROP OWNED BY orders_clerk;
DROP ROLE orders_clerk;
