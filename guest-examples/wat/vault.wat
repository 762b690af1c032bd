;; A guest that probes its own instance, for the isolation tests of the
;; instance pool (runtime/tests/pool.rs, tests/client/instances.rs): what it
;; finds must be the module's image and nothing a previous instance wrote.
;;   bump()               a global and a word of memory, both +1: global*1000 + word
;;   plant(secret, pages) grows memory by `pages`, writes `secret` every 512
;;                        bytes over all of it (the data segment too); memory pages
;;   scan(secret)         how many aligned words of the whole memory hold it
;;   plant_scan           both in one instance: the probe finds what is there
;;   plant_trap           plants, then traps
;;   pages()              memory pages; image(): the data segment's first byte
;;   id()                 which build of the module this is (tests replace it)
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "image")
  (global $n (mut i32) (i32.const 0))
  (func $bump (export "bump") (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 1)))
    (i32.add (i32.mul (global.get $n) (i32.const 1000)) (i32.load (i32.const 64))))
  (func $plant (export "plant") (param $s i64) (param $pages i32) (result i32)
    (local $a i32) (local $end i32)
    (if (i32.gt_s (local.get $pages) (i32.const 0))
      (then (drop (memory.grow (local.get $pages)))))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (local.set $a (i32.const 128))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
      (i64.store (local.get $a) (local.get $s))
      (local.set $a (i32.add (local.get $a) (i32.const 512)))
      (br $l)))
    (i64.store (i32.const 16) (local.get $s))
    (memory.size))
  (func $scan (export "scan") (param $s i64) (result i32)
    (local $a i32) (local $end i32) (local $k i32)
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
      (if (i64.eq (i64.load (local.get $a)) (local.get $s))
        (then (local.set $k (i32.add (local.get $k) (i32.const 1)))))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (br $l)))
    (local.get $k))
  (func (export "plant_scan") (param $s i64) (param $pages i32) (result i32)
    (drop (call $plant (local.get $s) (local.get $pages)))
    (call $scan (local.get $s)))
  (func (export "plant_trap") (param $s i64) (param $pages i32) (result i32)
    (drop (call $plant (local.get $s) (local.get $pages)))
    unreachable)
  (func (export "pages") (result i32) (memory.size))
  (func (export "image") (result i32) (i32.load8_u (i32.const 16)))
  (func (export "id") (result i32) (i32.const 1)))
