-- Triggers written in C with the pg_wasm.h helpers
-- (guest-examples/c-triggers): the event read in place, decisions built
-- with pgw_changes_* / pgw_trigger_skip / pgw_trigger_error.
SET client_min_messages = notice;
\getenv guests PG_WASM_GUESTS
SELECT f::text FROM wasm.load('ct', pg_read_binary_file(:'guests' || '/ctriggers.wasm')) f ORDER BY 1;

-- Derived columns; strings with escapes (quotes, tabs, \u sequences)
-- come back as they went in.
CREATE TABLE people (id int, first_name text, last_name text, full_name text, slug text);
CREATE TRIGGER names BEFORE INSERT OR UPDATE ON people
  FOR EACH ROW EXECUTE FUNCTION ct_derive_names();
INSERT INTO people (id, first_name, last_name) VALUES
  (1, ' Grace ', 'Hopper'),
  (2, 'Jo "Jay"', E'O\tBrien'),
  (3, 'Zoë', NULL),
  (4, NULL, NULL),
  (5, E'back\\slash', E'\u00e9t\u00e9 \U0001F600');
SELECT id, full_name, slug FROM people ORDER BY id;
UPDATE people SET last_name = 'Hopper-Murray' WHERE id = 1;
SELECT full_name, slug FROM people WHERE id = 1;

-- TG_ARGV names the column; a bad value is an ERROR naming the trigger;
-- 'skip_null' skips rows whose column is NULL.
CREATE TABLE contacts (id int, mail text);
CREATE TRIGGER mail BEFORE INSERT ON contacts
  FOR EACH ROW EXECUTE FUNCTION ct_normalize_email('mail', 'skip_null');
INSERT INTO contacts VALUES (1, '  Ada@Example.COM '), (2, NULL), (3, 'b@x.org');
SELECT * FROM contacts ORDER BY id;
INSERT INTO contacts VALUES (4, 'nobody');
SELECT count(*) FROM contacts;

-- AFTER ROW triggers read the old row of a DELETE and log through pg.log.
CREATE TRIGGER log_change AFTER INSERT OR DELETE ON contacts
  FOR EACH ROW EXECUTE FUNCTION ct_log_change();
INSERT INTO contacts VALUES (5, 'e@x.org');
DELETE FROM contacts WHERE id = 1;
