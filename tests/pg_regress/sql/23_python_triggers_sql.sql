-- LANGUAGE python (docs/python.md): triggers with TD ("SKIP", "MODIFY"),
-- plpy.execute / prepare / cursor as the calling role (RLS applies,
-- read-only in STABLE functions), SQL errors as catchable SPIError,
-- plpy.subtransaction, quoting, GD/SD, and pg_wasm.python_sql.
SET client_min_messages = notice;
CREATE ROLE pyt_dev;
CREATE SCHEMA pyt AUTHORIZATION pyt_dev;
SET ROLE pyt_dev;
SET search_path = pyt;

-- triggers
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric);
CREATE TABLE audit (op text, info text);
CREATE FUNCTION items_before() RETURNS trigger LANGUAGE python AS $$
new = TD["new"]
if new["name"] == "skip":
    return "SKIP"
new["name"] = (TD["args"][0] + new["name"].strip()).title()
return "MODIFY"
$$;
CREATE TRIGGER items_b BEFORE INSERT OR UPDATE ON items
  FOR EACH ROW EXECUTE FUNCTION items_before('x ');
CREATE FUNCTION items_after() RETURNS trigger LANGUAGE python AS $$
info = "%s %s %s.%s" % (TD["when"], TD["level"], TD["table_schema"], TD["table_name"])
if TD["event"] == "DELETE":
    info += " old=%s" % TD["old"]["id"]
elif TD["new"] is not None:
    info += " new=%s" % TD["new"]["name"]
plpy.execute("INSERT INTO pyt.audit VALUES (%s, %s)" % (plpy.quote_literal(TD["event"]), plpy.quote_literal(info)))
$$;
CREATE TRIGGER items_a AFTER INSERT OR UPDATE OR DELETE ON items
  FOR EACH ROW EXECUTE FUNCTION items_after();
INSERT INTO items VALUES (1, '  apple pie ', 2.50), (2, 'skip', 1), (3, 'kiwi', 0.99);
UPDATE items SET name = 'pear' WHERE id = 3;
DELETE FROM items WHERE id = 1;
SELECT * FROM items ORDER BY id;
SELECT * FROM audit;
-- a trigger that raises fails the statement, nothing half-written
CREATE FUNCTION no_free() RETURNS trigger LANGUAGE python AS $$
if TD["new"]["price"] == 0:
    plpy.error("items may not be free", detail="id %s" % TD["new"]["id"])
$$;
CREATE TRIGGER items_free BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION no_free();
INSERT INTO items VALUES (9, 'ok', 1), (10, 'free', 0);
SELECT count(*) FROM items WHERE id >= 9;
-- MODIFY with something other than a dict
CREATE FUNCTION bad_modify() RETURNS trigger LANGUAGE python AS $$
TD["new"] = 5
return "MODIFY"
$$;
CREATE TABLE t2 (a int);
CREATE TRIGGER t2_b BEFORE INSERT ON t2 FOR EACH ROW EXECUTE FUNCTION bad_modify();
INSERT INTO t2 VALUES (1);

-- plpy.execute: rows as dicts, nrows(), status(), colnames()
CREATE FUNCTION stats() RETURNS text LANGUAGE python AS $$
r = plpy.execute("SELECT id, name FROM pyt.items ORDER BY id")
return "%d rows %s %s first=%s" % (r.nrows(), r.status(), r.colnames(), r[0]["name"])
$$;
SELECT stats();
-- prepare with types and a cursor
CREATE FUNCTION cheap(limit_price numeric) RETURNS SETOF text LANGUAGE python AS $$
plan = plpy.prepare("SELECT name FROM pyt.items WHERE price < $1 ORDER BY name", ["numeric"])
for row in plpy.cursor(plan, [limit_price]):
    yield row["name"]
$$;
SELECT * FROM cheap(3);
-- a SQL error is a catchable SPIError (spiexceptions by SQLSTATE); the
-- failed statement alone is rolled back
CREATE FUNCTION catches() RETURNS text LANGUAGE python AS $$
try:
    plpy.execute("INSERT INTO pyt.items VALUES (3, 'dup', 1)")
except plpy.spiexceptions.UniqueViolation as e:
    return "caught %s %s" % (type(e).__name__, e.sqlstate)
$$;
SELECT catches();
CREATE FUNCTION uncaught() RETURNS int LANGUAGE python AS $$
plpy.execute("SELECT 1 / 0")
$$;
SELECT uncaught();
\echo :LAST_ERROR_SQLSTATE
-- subtransactions: the block's work is undone when it raises
CREATE FUNCTION subx() RETURNS text LANGUAGE python AS $$
try:
    with plpy.subtransaction():
        plpy.execute("INSERT INTO pyt.audit VALUES ('sub', 'undone')")
        raise ValueError("stop")
except ValueError:
    pass
with plpy.subtransaction():
    plpy.execute("INSERT INTO pyt.audit VALUES ('sub', 'kept')")
return ", ".join(r["info"] for r in plpy.execute("SELECT info FROM pyt.audit WHERE op = 'sub'"))
$$;
SELECT subx();
-- a subtransaction entered and never exited is rolled back, as PL/Python
CREATE FUNCTION forgets() RETURNS int LANGUAGE python AS $$
plpy.subtransaction().__enter__()
plpy.execute("INSERT INTO pyt.audit VALUES ('sub', 'forgotten')")
return 1
$$;
SELECT forgets();
SELECT count(*) FROM audit WHERE info = 'forgotten';
-- read-only in a STABLE function
CREATE FUNCTION sneaky() RETURNS int STABLE LANGUAGE python AS $$
plpy.execute("DELETE FROM pyt.items")
return 1
$$;
SELECT sneaky();
\echo :LAST_ERROR_SQLSTATE
-- quoting
CREATE FUNCTION quotes() RETURNS text LANGUAGE python AS $$
return " ".join([plpy.quote_literal("it's"), plpy.quote_nullable(None),
                 plpy.quote_ident("select"), plpy.quote_ident("plain")])
$$;
SELECT quotes();
-- GD and SD live as long as the instance: within a statement
CREATE FUNCTION counter() RETURNS int LANGUAGE python AS $$
SD["n"] = SD.get("n", 0) + 1
return SD["n"]
$$;
SELECT counter() FROM generate_series(1, 3);
SELECT counter();

-- RLS applies to plpy.execute: SQL runs as the calling role
RESET ROLE;
CREATE ROLE pyt_reader;
GRANT USAGE ON SCHEMA pyt TO pyt_reader;
SET ROLE pyt_dev;
CREATE TABLE secrets (owner name, v text);
INSERT INTO secrets VALUES ('pyt_dev', 'mine'), ('pyt_reader', 'theirs');
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY own ON secrets USING (owner = current_user);
GRANT SELECT ON secrets TO pyt_reader;
CREATE FUNCTION visible() RETURNS text LANGUAGE python AS $$
return ",".join(r["v"] for r in plpy.execute("SELECT v FROM pyt.secrets"))
$$;
GRANT EXECUTE ON FUNCTION visible() TO pyt_reader;
SELECT visible();
SET ROLE pyt_reader;
SELECT pyt.visible();
RESET ROLE;

-- a superuser may forbid SQL from Python
SET pg_wasm.python_sql = off;
SELECT pyt.stats();
RESET pg_wasm.python_sql;
SELECT pyt.stats();

DROP SCHEMA pyt CASCADE;
DROP ROLE pyt_reader;
DROP ROLE pyt_dev;
