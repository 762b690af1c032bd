;; Dirty pages scattered over a 4 MiB memory, for the instance pool's reset
;; (runtime/tests/pool.rs): `scatter` writes one word into every `stride`-th
;; 4 KiB page (each a separate dirty region), `differ` counts the words
;; that are no longer what the module's image holds there: 0x69 bytes in the
;; 64 KiB of data at 1 MiB, zeros elsewhere.
(module
  (memory (export "memory") 64)
  (data (i32.const 0x100000) "iiiiiiiiiiiiiiii")
  (func $addr (param $i i32) (param $stride i32) (result i32)
    (i32.add (i32.mul (i32.mul (local.get $i) (local.get $stride)) (i32.const 4096))
             (i32.const 8)))
  (func (export "scatter") (param $stride i32) (param $count i32) (param $value i64)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (i64.store (call $addr (local.get $i) (local.get $stride)) (local.get $value))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
  (func (export "differ") (param $stride i32) (param $count i32) (result i32)
    (local $i i32) (local $a i32) (local $n i32) (local $want i64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $a (call $addr (local.get $i) (local.get $stride)))
        (local.set $want
          (select (i64.const 0x6969696969696969) (i64.const 0)
            (i32.and (i32.ge_u (local.get $a) (i32.const 0x100000))
                     (i32.lt_u (local.get $a) (i32.const 0x100010)))))
        (if (i64.ne (i64.load (local.get $a)) (local.get $want))
          (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n)))
