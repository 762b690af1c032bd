;; A guest with state: a global counter kept for the life of one instance.
;; pg_wasm keeps one instance per call site (per statement), so
;; `SELECT counter_next() FROM generate_series(1,3)` yields 1, 2, 3 and the
;; next statement starts again from 1.
(module
  (global $n (mut i64) (i64.const 0))
  (func (export "next") (result i64)
    (global.set $n (i64.add (global.get $n) (i64.const 1)))
    (global.get $n)))
