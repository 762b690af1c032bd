-- JavaScript triggers as plv8 writes them: NEW, OLD, TG_OP, TG_WHEN,
-- TG_LEVEL, TG_NAME, TG_RELID, TG_TABLE_NAME, TG_TABLE_SCHEMA, TG_ARGV;
-- a BEFORE ROW trigger returns NEW (maybe changed) to store it, null to
-- skip the row, undefined to go on unchanged; throwing fails the statement.
SET client_min_messages = notice;
CREATE SCHEMA jst;
SET search_path = jst;
CREATE TABLE accounts (id int PRIMARY KEY, email text, balance numeric, tags text[], updated timestamptz);

CREATE FUNCTION clean_account() RETURNS trigger LANGUAGE javascript AS $$
  NEW.email = NEW.email.trim().toLowerCase();
  if (NEW.balance < 0) throw new Error(`balance of account ${NEW.id} cannot be negative`);
  NEW.tags = (NEW.tags || []).concat(TG_ARGV);
  return NEW;
$$;
CREATE TRIGGER clean BEFORE INSERT OR UPDATE ON accounts
  FOR EACH ROW EXECUTE FUNCTION clean_account('checked', 'v1');
INSERT INTO accounts VALUES (1, '  Ada@Example.COM ', 10, '{vip}', NULL);
INSERT INTO accounts VALUES (2, 'bob@example.com', -5, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT id, email, balance, tags FROM accounts ORDER BY id;

-- the trigger's variables
CREATE TABLE seen (info jsonb);
CREATE FUNCTION record_event() RETURNS trigger LANGUAGE javascript AS $$
  plv8.execute('INSERT INTO jst.seen VALUES ($1)', [{
    op: TG_OP, when: TG_WHEN, level: TG_LEVEL, name: TG_NAME,
    table: TG_TABLE_NAME, schema: TG_TABLE_SCHEMA, relid_is_number: typeof TG_RELID,
    argv: TG_ARGV, old: OLD ?? null, new: NEW ?? null
  }]);
$$;
CREATE TRIGGER after_row AFTER UPDATE OR DELETE ON accounts
  FOR EACH ROW EXECUTE FUNCTION record_event('a1');
CREATE TRIGGER after_stmt AFTER INSERT ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION record_event();
UPDATE accounts SET balance = balance + 1 WHERE id = 1;
INSERT INTO accounts VALUES (3, 'c@example.com', 0, NULL, NULL);
DELETE FROM accounts WHERE id = 3;
SELECT info->>'op' AS op, info->>'when' AS "when", info->>'level' AS level, info->>'name' AS name,
       info->>'table' AS tab, info->>'schema' AS sch, info->>'relid_is_number' AS relid,
       info->'argv' AS argv, info->'old'->>'balance' AS old_balance, info->'new'->>'balance' AS new_balance
  FROM seen ORDER BY ctid;

-- null skips the row, undefined keeps it as it is
CREATE TABLE events (id int, kind text);
CREATE FUNCTION filter_events() RETURNS trigger LANGUAGE javascript AS $$
  if (NEW.kind === 'skip') return null;
  if (NEW.kind === 'double') { NEW.id = NEW.id * 2; return NEW; }
$$;
CREATE TRIGGER filter BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION filter_events();
INSERT INTO events VALUES (1, 'skip'), (2, 'double'), (3, 'keep');
SELECT * FROM events ORDER BY id;

-- BEFORE DELETE: returning OLD lets the delete go on, null stops it
CREATE FUNCTION protect() RETURNS trigger LANGUAGE javascript AS $$
  return OLD.kind === 'keep' ? null : OLD;
$$;
CREATE TRIGGER protect BEFORE DELETE ON events FOR EACH ROW EXECUTE FUNCTION protect();
DELETE FROM events;
SELECT * FROM events ORDER BY id;

-- a value that does not fit its column names the column
CREATE FUNCTION bad_balance() RETURNS trigger LANGUAGE javascript AS $$ NEW.balance = 'lots'; return NEW; $$;
CREATE TRIGGER bad BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION bad_balance();
UPDATE accounts SET email = 'x@y' WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER bad ON accounts;

-- a trigger's exception carries its stack
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE javascript AS $$
  function check(row) {
    if (!row.email.includes('@')) throw new TypeError('bad email: ' + row.email);
  }
  check(NEW);
  return NEW;
$$;
CREATE TRIGGER refuse BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION refuse();
INSERT INTO accounts VALUES (9, 'nope', 1, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM accounts WHERE id = 9;

-- many rows through one statement
INSERT INTO events SELECT g, CASE WHEN g % 3 = 0 THEN 'skip' ELSE 'double' END FROM generate_series(10, 1009) g;
SELECT count(*), min(id), max(id) FROM events WHERE id >= 20;

DROP SCHEMA jst CASCADE;
