-- The host API (SPEC §8): pg.log, pg.error, pg.query.
SET client_min_messages = notice;
\getenv guests PG_WASM_GUESTS
CREATE TABLE hostapi_items (name text PRIMARY KEY, price numeric);
INSERT INTO hostapi_items VALUES ('pen', 2), ('lamp', 25), ('desk', 180);
SELECT wasm.load_wat('hostapi', pg_read_file(:'guests' || '/hostapi.wat'),
                     '{"allow_spi": true}');
-- Functions of a module that runs SQL default to PARALLEL RESTRICTED.
SELECT f.function, p.proparallel FROM wasm.functions f
  JOIN pg_proc p ON p.oid = f.function WHERE f.module = 'hostapi' ORDER BY 1;

-- pg.log at each level (DEBUG is below client_min_messages).
SELECT hostapi_greet(0);
SELECT hostapi_greet(2);
SELECT hostapi_greet(3);
SELECT hostapi_greet(4);
SELECT hostapi_greet(9);
\echo :LAST_ERROR_SQLSTATE

-- pg.error: P0001 with the guest's message, module and export in DETAIL.
\set VERBOSITY default
SELECT hostapi_checked(5);
SELECT hostapi_checked(-1);
\echo :LAST_ERROR_SQLSTATE
DO $$ BEGIN PERFORM hostapi_checked(-7);
EXCEPTION WHEN raise_exception THEN RAISE NOTICE 'caught: %', SQLERRM; END $$;

-- pg.query: parameters typed from JSON, rows as JSON objects.
SELECT hostapi_expensive();
SELECT hostapi_typed();
SELECT hostapi_add_item();
SELECT * FROM hostapi_items ORDER BY name;

-- STABLE and IMMUTABLE functions run SQL read-only.
CREATE FUNCTION add_item_stable() RETURNS void LANGUAGE wasm STABLE
  AS 'hostapi.add_item';
SELECT add_item_stable();
\echo :LAST_ERROR_SQLSTATE

-- An error inside the SQL keeps its own SQLSTATE and message; the guest
-- is unwound first, and the session (and an enclosing block) goes on.
SELECT hostapi_bad_query();
\echo :LAST_ERROR_SQLSTATE
DO $$ BEGIN PERFORM hostapi_bad_query();
EXCEPTION WHEN undefined_table THEN RAISE NOTICE 'caught: %', SQLERRM; END $$;
SELECT hostapi_expensive();

-- A pointer outside guest memory is a trap, not a crash.
SELECT hostapi_wild_pointer();
\echo :LAST_ERROR_SQLSTATE

-- Row-level security applies: SQL runs as the calling role.
ALTER TABLE hostapi_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY cheap_only ON hostapi_items USING (price < 100);
CREATE ROLE hostapi_reader;
GRANT SELECT ON hostapi_items TO hostapi_reader;
SET ROLE hostapi_reader;
SELECT hostapi_expensive();
RESET ROLE;

-- Without allow_spi, pg.query is refused (42501).
SELECT wasm.configure('hostapi', '{"allow_spi": false}');
SELECT hostapi_expensive();
\echo :LAST_ERROR_SQLSTATE
SELECT hostapi_greet(3);

DROP OWNED BY hostapi_reader;
DROP ROLE hostapi_reader;

-- Nothing but pg.log, pg.error and pg.query can be imported, and those only
-- with their own signatures: refused at load, naming the import (22023).
SELECT wasm.load_wat('envy', '(module (import "env" "now" (func (result i64))))');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('sloppy', '(module (import "pg" "log" (func (param i32 i32))))');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.load_wat('greedy', '(module (import "pg" "memory" (memory 1)))');
\echo :LAST_ERROR_SQLSTATE
-- A module that receives query results must export pg_wasm_alloc.
SELECT wasm.load_wat('noalloc', '(module
  (import "pg" "query" (func $q (param i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1) (data (i32.const 0) "SELECT 1")
  (func (export "run") (drop (call $q (i32.const 0) (i32.const 8) (i32.const 0) (i32.const 0)))))',
  '{"allow_spi": true}');
SELECT noalloc_run();
\echo :LAST_ERROR_SQLSTATE
