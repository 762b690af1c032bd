;; Guests that misbehave, one export each. Every one must end in a clean
;; ERROR with its own SQLSTATE and leave the session usable.
(module
  (memory 1)
  (func (export "spin") (loop br 0))
  (func $rec (export "recurse") (param i32) (result i32)
    (call $rec (i32.add (local.get 0) (i32.const 1))))
  (func (export "bomb") (result i32)
    (loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (i32.const 0))
  (func (export "boom") unreachable)
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "oob") (result i32) (i32.load (i32.const 1000000))))
