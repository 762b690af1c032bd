-- Hostile guests: each ends in a clean ERROR with its SQLSTATE (SPEC §7),
-- and the session goes on.
SET client_min_messages = warning;
\getenv guests PG_WASM_GUESTS
SELECT wasm.load_wat('hostile', pg_read_file(:'guests' || '/hostile.wat'));

SET pg_wasm.fuel_limit = 1000000;
SELECT hostile_spin();
\echo :LAST_ERROR_SQLSTATE
SELECT hostile_recurse(0);
\echo :LAST_ERROR_SQLSTATE
SET pg_wasm.memory_limit_mb = 8;
SELECT hostile_bomb();
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.memory_limit_mb;
SELECT hostile_boom();
\echo :LAST_ERROR_SQLSTATE
SELECT hostile_div(7, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT hostile_div(-2147483648, -1);
\echo :LAST_ERROR_SQLSTATE
SELECT hostile_oob();
\echo :LAST_ERROR_SQLSTATE
SELECT hostile_div(7, 2) AS still_works;

-- A trap mid-query aborts the query; the function works in the next one.
SELECT hostile_div(10, g) FROM generate_series(2, -1, -1) g;
\echo :LAST_ERROR_SQLSTATE
SELECT hostile_div(10, g) FROM generate_series(2, 1, -1) g;

-- Fuel 0 = unlimited; a module's own limit is applied under the GUC.
SET pg_wasm.fuel_limit = 0;
SELECT wasm.configure('hostile', '{"fuel": 100000}');
SELECT hostile_spin();
\echo :LAST_ERROR_SQLSTATE

-- A module whose initial memory is above the limit cannot be instantiated.
SELECT wasm.load_wat('fat', '(module (memory 200) (func (export "f") (result i32) i32.const 1))');
SET pg_wasm.memory_limit_mb = 4;
SELECT fat_f();
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.memory_limit_mb;
SELECT fat_f();

-- A start function that loops is stopped like a call.
SELECT wasm.load_wat('badstart', '(module (func $s (loop br 0)) (start $s) (func (export "f")))');
SET pg_wasm.fuel_limit = 100000;
SELECT badstart_f();
\echo :LAST_ERROR_SQLSTATE

-- Statistics count the traps.
SELECT function, calls, traps > 0 AS trapped FROM wasm.stats
 WHERE function::text LIKE 'hostile%' ORDER BY function::text;
-- ... with the last error's message, for the whole cluster (the test
-- cluster preloads pg_wasm).
SELECT function, last_error, scope FROM wasm.stats
 WHERE function = 'hostile_div(integer,integer)'::regprocedure;

-- Instance state lives for one statement: a counter restarts each time.
SELECT wasm.load_wat('counter', pg_read_file(:'guests' || '/counter.wat'));
SELECT counter_next() FROM generate_series(1, 3);
SELECT counter_next();
