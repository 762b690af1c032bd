;; ABI version 1 from WebAssembly text: "echo" returns its (ptr, len)
;; argument as its result, so one export round-trips a value of any SQL
;; type through guest memory (text, bytea, json, jsonb, numeric, date,
;; arrays, composites, ...). A NULL argument of a non-strict function
;; (ptr 0, len -1) comes back as NULL (len 0xFFFFFFFF). The other exports
;; return broken results on purpose. Used by 09_types.sql.
(module
  (memory (export "memory") 1)
  (global $base i32 (i32.const 1024))
  (global $next (mut i32) (i32.const 1024))
  (data (i32.const 0) "\ff\fe not UTF-8")
  (data (i32.const 16) "{\"bytes\": 3, \"words\": \"many\", \"longest\": \"x\"}")
  (data (i32.const 80) "[1, 2, \"three\"]")
  (data (i32.const 96) "{\"bytes\": 1, \"words\": 1, \"longest\": \"a\", \"extra\": true}")
  ;; Arguments are copied in here; the host calls pg_wasm_free after each
  ;; call, which empties the arena.
  (func (export "pg_wasm_alloc") (param $len i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $next))
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow
        (i32.add (i32.const 1)
          (i32.shr_u (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
                     (i32.const 16)))))))
    (global.set $next (local.get $end))
    (local.get $p))
  (func (export "pg_wasm_free") (param i32 i32)
    (global.set $next (global.get $base)))
  (func $pack (param $p i32) (param $l i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
            (i64.extend_i32_u (local.get $l))))
  (func (export "echo") (param i32 i32) (result i64)
    (call $pack (local.get 0) (local.get 1)))
  ;; Byte length of a text or bytea: a numeric result from a memory argument.
  (func (export "len") (param i32 i32) (result i32) (local.get 1))
  ;; Broken results.
  (func (export "wild") (param i32 i32) (result i64) (call $pack (i32.const 65000) (i32.const 1000)))
  (func (export "not_utf8") (param i32 i32) (result i64) (call $pack (i32.const 0) (i32.const 14)))
  (func (export "bad_row") (param i32 i32) (result i64) (call $pack (i32.const 16) (i32.const 45)))
  (func (export "bad_array") (param i32 i32) (result i64) (call $pack (i32.const 80) (i32.const 15)))
  (func (export "extra_key") (param i32 i32) (result i64) (call $pack (i32.const 96) (i32.const 55))))
