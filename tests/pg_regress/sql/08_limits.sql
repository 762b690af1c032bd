-- Limits (SPEC §7): wall-clock timeouts, superuser-only maxima,
-- deterministic floats, and how long guest state lives.
SET client_min_messages = warning;
SELECT wasm.load_wat('spin', '(module
  (func (export "forever") (loop br 0))
  (func (export "nan") (param f64) (result i64)
    (i64.reinterpret_f64 (f64.div (local.get 0) (local.get 0)))))');
SELECT wasm.load_wat('big', '(module (memory 200)
  (func (export "one") (result i32) i32.const 1))');

-- With unlimited fuel, pg_wasm.timeout_ms still stops the guest (57014).
SET pg_wasm.fuel_limit = 0;
SET pg_wasm.timeout_ms = 200;
SELECT spin_forever();
\echo :LAST_ERROR_SQLSTATE
RESET pg_wasm.timeout_ms;

-- statement_timeout stops it too, with PostgreSQL's own message.
SET statement_timeout = '300ms';
SELECT spin_forever();
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;

-- A module's own timeout.
SELECT wasm.configure('spin', '{"timeout_ms": 150}');
SELECT spin_forever();
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.configure('spin', '{"timeout_ms": null}');
SELECT wasm.configure('spin', '{"timeout_ms": -1}');
\echo :LAST_ERROR_SQLSTATE

-- Superuser-only maxima: a session cannot go above them, not even with
-- 0 ("unlimited"), and cannot change them.
CREATE ROLE limits_user;
SET pg_wasm.max_timeout_ms = 250;
SET pg_wasm.max_fuel_limit = 5000000;
SET pg_wasm.max_memory_limit_mb = 8;
SET ROLE limits_user;
SET pg_wasm.max_timeout_ms = 0;
\echo :LAST_ERROR_SQLSTATE
SET pg_wasm.fuel_limit = 0;
SET pg_wasm.timeout_ms = 0;
SET pg_wasm.memory_limit_mb = 1024;
SELECT spin_forever();
\echo :LAST_ERROR_SQLSTATE
SELECT big_one();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
RESET pg_wasm.max_fuel_limit;
SET ROLE limits_user;
SELECT spin_forever();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
RESET pg_wasm.max_timeout_ms;
RESET pg_wasm.max_memory_limit_mb;
RESET pg_wasm.fuel_limit;
RESET pg_wasm.timeout_ms;
RESET pg_wasm.memory_limit_mb;
SELECT big_one();
DROP ROLE limits_user;

-- NaN results are canonical, so an IMMUTABLE function gives the same bits
-- on every machine (x86 would produce 0xFFF8000000000000 for 0/0).
SELECT to_hex(spin_nan(0)) AS nan_bits;

-- Guest state (globals, memory) lives as long as one call site in one
-- transaction: a loop in one transaction counts on, each transaction of a
-- procedure starts again.
SET client_min_messages = notice;
SELECT wasm.load_wat('tally', '(module (global $n (mut i64) (i64.const 0))
  (func (export "next") (result i64)
    (global.set $n (i64.add (global.get $n) (i64.const 1))) (global.get $n)))');
DO $$ BEGIN FOR i IN 1..3 LOOP RAISE NOTICE 'same transaction: %', tally_next(); END LOOP; END $$;
CREATE PROCEDURE tally_per_transaction() LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..3 LOOP
    RAISE NOTICE 'transaction %: %', i, tally_next();
    COMMIT;
  END LOOP;
END $$;
CALL tally_per_transaction();
