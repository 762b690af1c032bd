-- PARALLEL SAFE wasm functions run in parallel workers, each with its own engine.
SET client_min_messages = warning;
SELECT wasm.load_wat('par', '(module (func (export "sq") (param i64) (result i64) local.get 0 local.get 0 i64.mul))');
CREATE TABLE par_big AS SELECT g::bigint AS x FROM generate_series(1, 200000) g;
ANALYZE par_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT sum(par_sq(x)) FROM par_big;
SELECT sum(par_sq(x)) = sum(x * x) AS same_answer, sum(par_sq(x)) FROM par_big;
-- A PARALLEL UNSAFE function keeps the plan serial.
ALTER FUNCTION par_sq(bigint) PARALLEL UNSAFE;
EXPLAIN (COSTS OFF) SELECT sum(par_sq(x)) FROM par_big;
DROP TABLE par_big;
