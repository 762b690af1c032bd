-- Wasm triggers (SPEC §6), written with the Rust SDK
-- (guest-examples/rust-triggers): the event goes in as JSON, a decision
-- comes back.
SET client_min_messages = notice;
\getenv guests PG_WASM_GUESTS
SELECT f::text FROM wasm.load('trg', pg_read_binary_file(:'guests' || '/triggers.wasm'),
                              '{"allow_spi": true}') f ORDER BY 1;

-- The event document, for every kind of trigger.
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2), tags text[]);
CREATE TRIGGER show_before BEFORE INSERT OR UPDATE OR DELETE ON items
  FOR EACH ROW EXECUTE FUNCTION trg_show_event('a1', 'a2');
CREATE TRIGGER show_after_stmt AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON items
  FOR EACH STATEMENT EXECUTE FUNCTION trg_show_event();
INSERT INTO items VALUES (1, 'pen', 2.50, '{blue}');
UPDATE items SET price = 3 WHERE id = 1;
DELETE FROM items WHERE id = 1;
TRUNCATE items;
DROP TRIGGER show_before ON items;
DROP TRIGGER show_after_stmt ON items;

-- Transition tables reach statement-level AFTER triggers as JSON arrays.
CREATE TRIGGER show_transitions AFTER UPDATE ON items
  REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
  FOR EACH STATEMENT EXECUTE FUNCTION trg_show_event();
INSERT INTO items VALUES (1, 'pen', 2, NULL), (2, 'ink', 5, NULL);
UPDATE items SET price = price * 2;
DROP TRIGGER show_transitions ON items;

-- UPDATE OF a column and WHEN conditions decide whether it fires at all.
CREATE TRIGGER show_price_change BEFORE UPDATE OF price ON items
  FOR EACH ROW WHEN (OLD.price IS DISTINCT FROM NEW.price)
  EXECUTE FUNCTION trg_show_event('price');
UPDATE items SET name = 'Pen' WHERE id = 1;
UPDATE items SET price = price WHERE id = 1;
UPDATE items SET price = 9 WHERE id = 1;
DROP TRIGGER show_price_change ON items;

-- Validation: {"error": ...} is P0001 with the function in DETAIL.
CREATE TABLE users (id serial PRIMARY KEY, email text, first_name text, last_name text,
                    full_name text, slug text);
CREATE TRIGGER users_email BEFORE INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION trg_require_email();
INSERT INTO users (email) VALUES ('ada@example.com');
INSERT INTO users (email) VALUES ('not an email');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO users (email) VALUES (NULL);
UPDATE users SET email = 'ada@' WHERE id = 1;

-- Derived columns: a partial {"new": {...}} keeps the other columns.
CREATE TRIGGER users_names BEFORE INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION trg_derive_names();
INSERT INTO users (email, first_name, last_name) VALUES ('grace@example.com', ' Grace ', 'Hopper');
UPDATE users SET last_name = 'Brewster Hopper' WHERE email = 'grace@example.com';
SELECT id, email, first_name, last_name, full_name, slug FROM users ORDER BY id;

-- A policy from TG_ARGV: skip or reject rows above a limit.
CREATE TABLE payments (id int, amount numeric);
CREATE TRIGGER payments_cap BEFORE INSERT ON payments
  FOR EACH ROW EXECUTE FUNCTION trg_amount_limit('100');
INSERT INTO payments VALUES (1, 50), (2, 150), (3, 100);
SELECT * FROM payments ORDER BY id;
CREATE TRIGGER payments_hard_cap BEFORE UPDATE ON payments
  FOR EACH ROW EXECUTE FUNCTION trg_amount_limit('1000', 'reject');
UPDATE payments SET amount = 5000 WHERE id = 1;

-- Change capture: an AFTER ROW trigger writing through pg.query.
CREATE TABLE audit_log (id serial, table_name text, op text, old_row jsonb, new_row jsonb);
CREATE TRIGGER payments_audit AFTER INSERT OR UPDATE OR DELETE ON payments
  FOR EACH ROW EXECUTE FUNCTION trg_audit();
INSERT INTO payments VALUES (4, 10);
UPDATE payments SET amount = 20 WHERE id = 4;
DELETE FROM payments WHERE id = 4;
SELECT table_name, op, old_row, new_row FROM audit_log ORDER BY id;

-- INSTEAD OF triggers on a view: the row returned is the one "done".
CREATE VIEW cheap_items AS SELECT id, name, price FROM items WHERE price < 100;
CREATE TRIGGER cheap_insert INSTEAD OF INSERT ON cheap_items
  FOR EACH ROW EXECUTE FUNCTION trg_decide('{"new": {"name": "from the view"}}');
INSERT INTO cheap_items VALUES (7, 'x', 1) RETURNING *;
CREATE TRIGGER cheap_delete INSTEAD OF DELETE ON cheap_items
  FOR EACH ROW EXECUTE FUNCTION trg_decide('{"skip": true}');
DELETE FROM cheap_items RETURNING *;
SELECT count(*) FROM items;

-- Values go through the column types' input functions; a value that does
-- not fit names the column.
CREATE TABLE typed (id int, n int, d date, tags text[], doc jsonb,
                    total numeric GENERATED ALWAYS AS (n * 2) STORED);
ALTER TABLE typed ADD COLUMN gone int;
ALTER TABLE typed DROP COLUMN gone;
CREATE TRIGGER typed_set BEFORE INSERT ON typed FOR EACH ROW
  EXECUTE FUNCTION trg_decide('{"new": {"n": "41", "d": "2024-02-29", "tags": ["a", "b"], "doc": {"k": [1]}}}');
INSERT INTO typed (id) VALUES (1);
SELECT * FROM typed;
DROP TRIGGER typed_set ON typed;
CREATE TRIGGER typed_bad BEFORE INSERT ON typed FOR EACH ROW
  EXECUTE FUNCTION trg_decide('{"new": {"n": "forty-one"}}');
INSERT INTO typed (id) VALUES (2);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER typed_bad ON typed;
CREATE TRIGGER typed_unknown BEFORE INSERT ON typed FOR EACH ROW
  EXECUTE FUNCTION trg_decide('{"new": {"nope": 1}}');
INSERT INTO typed (id) VALUES (3);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER typed_unknown ON typed;
CREATE TRIGGER typed_generated BEFORE INSERT ON typed FOR EACH ROW
  EXECUTE FUNCTION trg_decide('{"new": {"total": 1}}');
INSERT INTO typed (id, n) VALUES (4, 1);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER typed_generated ON typed;

-- Decisions that make no sense for the trigger are errors.
CREATE TRIGGER after_new AFTER INSERT ON typed FOR EACH ROW
  EXECUTE FUNCTION trg_decide('{"new": {"n": 1}}');
INSERT INTO typed (id) VALUES (5);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER after_new ON typed;
CREATE TRIGGER stmt_skip BEFORE INSERT ON typed FOR EACH STATEMENT
  EXECUTE FUNCTION trg_decide('{"skip": true}');
INSERT INTO typed (id) VALUES (6);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER stmt_skip ON typed;
CREATE TRIGGER delete_new BEFORE DELETE ON typed FOR EACH ROW
  EXECUTE FUNCTION trg_decide('{"new": {"n": 1}}');
DELETE FROM typed;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER delete_new ON typed;
-- A decision that is not a JSON object, and an unknown key, from WAT.
CREATE FUNCTION array_decision() RETURNS trigger LANGUAGE wasm AS $$(module
  (memory (export "memory") 1) (data (i32.const 0) "[1]")
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "array_decision") (param i32 i32) (result i64) i64.const 3))$$;
CREATE TRIGGER arr BEFORE INSERT ON typed FOR EACH ROW EXECUTE FUNCTION array_decision();
INSERT INTO typed (id) VALUES (7);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER arr ON typed;
CREATE FUNCTION typo_decision() RETURNS trigger LANGUAGE wasm AS $$(module
  (memory (export "memory") 1) (data (i32.const 0) "{\"skipp\": true}")
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "typo_decision") (param i32 i32) (result i64) i64.const 15))$$;
CREATE TRIGGER typo BEFORE INSERT ON typed FOR EACH ROW EXECUTE FUNCTION typo_decision();
INSERT INTO typed (id) VALUES (8);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER typo ON typed;
-- A trigger function must be (i32, i32) -> i64.
CREATE FUNCTION wrong_trigger() RETURNS trigger LANGUAGE wasm
  AS '(module (func (export "wrong_trigger") (param i32) (result i32) local.get 0))';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS typed_rows FROM typed;

-- A trigger that traps or runs out of fuel aborts its statement: no row of
-- it is kept, and the next statement (and the same trigger) works.
CREATE TABLE guarded (id int, note text);
CREATE FUNCTION trap_trigger() RETURNS trigger LANGUAGE wasm AS $$(module
  (memory (export "memory") 1)
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "trap_trigger") (param i32 i32) (result i64) unreachable))$$;
CREATE FUNCTION spin_trigger() RETURNS trigger LANGUAGE wasm AS $$(module
  (memory (export "memory") 1)
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "spin_trigger") (param i32 i32) (result i64) (loop br 0) i64.const 0))$$;
CREATE TRIGGER trap_on_3 BEFORE INSERT ON guarded FOR EACH ROW
  WHEN (NEW.id = 3) EXECUTE FUNCTION trap_trigger();
CREATE TRIGGER names BEFORE INSERT ON guarded FOR EACH ROW
  EXECUTE FUNCTION trg_decide('{"new": {"note": "seen"}}');
INSERT INTO guarded SELECT g FROM generate_series(1, 5) g;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS kept FROM guarded;
INSERT INTO guarded SELECT g FROM generate_series(4, 6) g;
SELECT * FROM guarded ORDER BY id;
DROP TRIGGER trap_on_3 ON guarded;
SET pg_wasm.fuel_limit = 100000;
CREATE TRIGGER spin AFTER UPDATE ON guarded FOR EACH ROW EXECUTE FUNCTION spin_trigger();
UPDATE guarded SET note = 'changed';
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.fuel_limit;
DROP TRIGGER spin ON guarded;
-- Caught in a PL/pgSQL block (a subtransaction), the error leaves the
-- rows of the block out and the rest in.
DO $$
BEGIN
  BEGIN
    INSERT INTO guarded VALUES (7);
    INSERT INTO guarded VALUES (8, 'x');
    CREATE TRIGGER trap_all BEFORE INSERT ON guarded FOR EACH ROW EXECUTE FUNCTION trap_trigger();
    INSERT INTO guarded VALUES (9);
  EXCEPTION WHEN others THEN
    RAISE NOTICE 'caught % (%)', SQLSTATE, split_part(SQLERRM, E'\n', 1);
  END;
  INSERT INTO guarded VALUES (10);
END $$;
SELECT id, note FROM guarded ORDER BY id;

-- A backend keeps a trigger's plan (how each column becomes JSON and
-- back) from one statement to the next; any change to the table or the
-- trigger makes it anew: added columns (with a default kept as a
-- "missing" value for rows written before), dropped and renamed columns,
-- a renamed trigger, a changed column type.
CREATE TABLE kept (id int, name text);
CREATE TRIGGER show BEFORE INSERT OR UPDATE ON kept
  FOR EACH ROW EXECUTE FUNCTION trg_show_event();
INSERT INTO kept VALUES (1, 'a');
INSERT INTO kept VALUES (2, 'b');
ALTER TABLE kept ADD COLUMN price numeric DEFAULT 9.5;
INSERT INTO kept VALUES (3, 'c', 1);
UPDATE kept SET name = 'A' WHERE id = 1;
ALTER TABLE kept DROP COLUMN name;
INSERT INTO kept VALUES (4, 2);
ALTER TABLE kept RENAME COLUMN price TO cost;
ALTER TRIGGER show ON kept RENAME TO shown;
INSERT INTO kept VALUES (5, 3);
ALTER TABLE kept ALTER COLUMN cost TYPE int;
INSERT INTO kept VALUES (6, 4);
DROP TRIGGER shown ON kept;
CREATE TRIGGER names BEFORE INSERT ON kept
  FOR EACH ROW EXECUTE FUNCTION trg_decide('{"new": {"cost": 42}}');
INSERT INTO kept VALUES (7, 0);
INSERT INTO kept VALUES (8, 0);
SELECT * FROM kept ORDER BY id;
