-- WebAssembly components (SPEC §10): exports typed by their WIT, loaded
-- from WebAssembly text (calc_component.wat) and from JavaScript built by
-- componentize-js (guest-examples/js-tenant).
SET client_min_messages = warning;
\getenv guests PG_WASM_GUESTS
\set calc `cat $PG_WASM_GUESTS/calc_component.wat`

-- inspect shows the WIT of each export and the SQL it maps to
SELECT * FROM wasm.inspect(wasm.wat_to_wasm(:'calc'));

-- load: one function per export, kebab-case names in snake_case
SELECT wasm.load_wat('calc', :'calc');
SELECT calc_upper('hello, wasm'), calc_add(2, 40), calc_checked_div(7, 2);
-- option<s32> takes NULL (so the function is not STRICT)
SELECT calc_or_zero(21), calc_or_zero(NULL);
SELECT p.proname, p.proisstrict FROM pg_proc p
 WHERE p.proname IN ('calc_add', 'calc_or_zero') ORDER BY 1;
-- result<s32, string>: err raises P0001 with the guest's text
SELECT calc_checked_div(1, 0);
\echo :LAST_ERROR_SQLSTATE
-- the catalog keeps each export's WIT
SELECT e->>'name' AS export, e->>'wit' AS wit
  FROM wasm.modules, jsonb_array_elements(exports) e WHERE name = 'calc';

-- CREATE FUNCTION checks the SQL signature against the WIT one
CREATE FUNCTION shout(text) RETURNS text LANGUAGE wasm AS 'calc.upper';
SELECT shout('quiet');
CREATE FUNCTION bad_add(bigint, int) RETURNS int LANGUAGE wasm AS 'calc.add';
CREATE FUNCTION no_such(int) RETURNS int LANGUAGE wasm AS 'calc.nothing';

-- limits apply as to core modules
SELECT wasm.configure('calc', '{"fuel": 100000}');
\set VERBOSITY terse
SELECT calc_spin(1);
\echo :LAST_ERROR_SQLSTATE
SET pg_wasm.fuel_limit = 0;
SELECT wasm.configure('calc', '{"fuel": 0, "timeout_ms": 100}');
SELECT calc_spin(1);
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.fuel_limit;
\set VERBOSITY default

-- replace keeps the functions (their OIDs) and runs the new code ...
SELECT 'calc_add(int,int)'::regprocedure::oid AS add_oid \gset
SELECT count(*) FROM wasm.replace('calc', wasm.wat_to_wasm(
  replace(:'calc', 'local.get 0 local.get 1 i32.add)',
                   'local.get 0 local.get 1 i32.add i32.const 100 i32.add)')));
SELECT calc_add(2, 40), 'calc_add(int,int)'::regprocedure::oid = :add_oid AS same_oid;
-- ... and refuses code without an export a function uses
SELECT wasm.replace('calc', wasm.wat_to_wasm('(component)'));
SELECT calc_add(1, 1);

-- imports other than WASI 0.2 are refused at load, naming them
SELECT wasm.load_wat('needs_db', '(component
  (import "tenant:db/store" (instance (export "get" (func (param "k" string) (result string))))))');
\echo :LAST_ERROR_SQLSTATE

-- pg_wasm's own host interface is provided, with the signatures of
-- sdk/wit/host.wit only
SELECT wasm.load_wat('bad_host', '(component
  (import "pg:wasm/host@0.1.0" (instance (export "query" (func (param "sql" string) (result string))))))');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('old_host', '(component
  (import "pg:wasm/host@0.1.0" (instance (export "raise-error" (func (param "message" string))))))');
SELECT wasm.unload('old_host');

-- JavaScript: a tenant's rules (componentize-js, 12 MB)
SELECT count(*) FROM wasm.load('tenant', pg_read_binary_file(:'guests' || '/js_tenant.wasm'));
SELECT tenant_slugify('Hello, Wörld! Ça va?') AS slug,
       tenant_discount(50, 150) AS discounted,
       tenant_valid_sku('ABC-1234') AS good, tenant_valid_sku('abc') AS bad;
SELECT string_agg(tenant_slugify(t), ' ' ORDER BY t)
  FROM (VALUES ('Crème Brûlée'), ('  Déjà Vu  '), ('100% Pure!')) v(t);
-- an endless JavaScript loop stops at its fuel, and at statement_timeout
\set VERBOSITY terse
SELECT tenant_spin(1);
SET pg_wasm.fuel_limit = 0;
SELECT wasm.configure('tenant', '{"fuel": 0}');
SET statement_timeout = '300ms';
SELECT tenant_spin(1);
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
RESET pg_wasm.fuel_limit;
\set VERBOSITY default
SELECT tenant_slugify('still works');
-- replace (here by the same code, mapped, not compiled) keeps the OIDs
SELECT 'tenant_slugify(text)'::regprocedure::oid AS slug_oid \gset
SELECT count(*) FROM wasm.replace('tenant', pg_read_binary_file(:'guests' || '/js_tenant.wasm'));
SELECT 'tenant_slugify(text)'::regprocedure::oid = :slug_oid AS same_oid, tenant_slugify('Replaced!');

-- the tenant's validation rule in JavaScript as a BEFORE ROW trigger: the
-- event and the decision are SPEC §6's JSON documents, passed as strings
CREATE TABLE products (sku text, title text, price numeric, slug text);
CREATE FUNCTION check_product() RETURNS trigger LANGUAGE wasm AS 'tenant.check-product';
CREATE TRIGGER check_product BEFORE INSERT OR UPDATE ON products
  FOR EACH ROW EXECUTE FUNCTION check_product();
INSERT INTO products VALUES ('ABC-1234', 'Crème Brûlée Kit', 12.5, NULL),
                            ('XYZ-0001', 'draft: not yet', 1, NULL);
SELECT * FROM products;
INSERT INTO products VALUES ('abc', 'Lower-case SKU', 1, NULL);
\echo :LAST_ERROR_SQLSTATE
UPDATE products SET price = -1;
UPDATE products SET title = 'Crème Brûlée Set';
SELECT * FROM products;
DROP TABLE products;
-- a trigger function's export takes the event as a string and returns one
CREATE FUNCTION bad_trigger() RETURNS trigger LANGUAGE wasm AS 'tenant.discount';

SELECT wasm.unload('tenant', true);
SELECT wasm.unload('calc', true);
SELECT count(*) FROM pg_proc WHERE proname LIKE 'calc\_%' OR proname LIKE 'tenant\_%' OR proname IN ('shout', 'check_product');
