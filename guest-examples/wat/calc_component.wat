;; A component in WebAssembly text (SPEC §10): strings through the
;; canonical ABI (memory + realloc), option and result types, and an
;; endless loop for the limits. Used by tests/pg_regress/sql/15_components.sql.
(component
  (core module $m
    (memory (export "memory") 1)
    (data (i32.const 100) "division by zero")
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      global.get $bump local.set $p
      global.get $bump local.get 3 i32.add global.set $bump
      local.get $p)
    (func (export "upper") (param $p i32) (param $n i32) (result i32)
      (local $i i32) (local $c i32)
      (block $done (loop $l
        local.get $i local.get $n i32.ge_u br_if $done
        local.get $p local.get $i i32.add i32.load8_u local.set $c
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (i32.add (local.get $p) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
        local.get $i i32.const 1 i32.add local.set $i
        br $l))
      (i32.store (i32.const 16) (local.get $p))
      (i32.store (i32.const 20) (local.get $n))
      i32.const 16)
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func (export "or-zero") (param $some i32) (param $v i32) (result i32)
      (if (result i32) (local.get $some) (then (i32.mul (local.get $v) (i32.const 2))) (else (i32.const 0))))
    (func (export "checked-div") (param $a i32) (param $b i32) (result i32)
      (if (i32.eqz (local.get $b))
        (then
          (i32.store8 (i32.const 32) (i32.const 1))
          (i32.store (i32.const 36) (i32.const 100))
          (i32.store (i32.const 40) (i32.const 16)))
        (else
          (i32.store8 (i32.const 32) (i32.const 0))
          (i32.store (i32.const 36) (i32.div_s (local.get $a) (local.get $b)))))
      i32.const 32)
    (func (export "spin") (param i32) (result i32) (loop $l br $l) unreachable)
  )
  (core instance $i (instantiate $m))
  (func (export "upper") (param "text" string) (result string)
    (canon lift (core func $i "upper") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func (export "add") (param "a" s32) (param "b" s32) (result s32)
    (canon lift (core func $i "add")))
  (func (export "or-zero") (param "x" (option s32)) (result s32)
    (canon lift (core func $i "or-zero")))
  (func (export "checked-div") (param "a" s32) (param "b" s32) (result (result s32 (error string)))
    (canon lift (core func $i "checked-div") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func (export "spin") (param "n" s32) (result s32) (canon lift (core func $i "spin")))
)
