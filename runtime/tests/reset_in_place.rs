//! An instance reset in place (`wasmtime::Instance::reset_in_place`, the
//! vendored wasmtime's patch) is a fresh instance again: whatever a guest
//! changed — its image, pages far away and pages it grew, its memory's
//! size, a mutable global, a table's elements and size, a dropped data
//! segment — is back as instantiation left it, in the same pooled slot.
//! Modules it cannot reset are refused before anything is touched. And
//! `recycle`: only instances whose calls all succeeded are kept, under the
//! same limits only, and never past their module's `Prepared`.

use pg_wasm_runtime::{new_engine_with, PoolSettings};
use wasmtime::{Engine, Instance, Memory, Module, Store, TypedFunc};

/// `dirty` changes every kind of state an instance has; `check` returns a
/// bit for each that differs from a new instance (0: fresh).
const MUTABLE: &str = r#"
(module
  (memory (export "memory") 1 64)
  (data (i32.const 16) "image")
  (data $passive "passive")
  (global $g (mut i32) (i32.const 7))
  (global $wide (mut i64) (i64.const 0x1122334455))
  (table $t 2 16 funcref)
  (elem (i32.const 0) $one $two)
  (type $r (func (result i32)))
  (func $one (result i32) i32.const 1)
  (func $two (result i32) i32.const 2)
  (func (export "dirty")
    (i32.store8 (i32.const 16) (i32.const 88))
    (i32.store (i32.const 40000) (i32.const 12345))
    (drop (memory.grow (i32.const 20)))
    (i32.store (i32.const 1048576) (i32.const 999))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (global.set $wide (i64.const -1))
    (table.set $t (i32.const 0) (ref.func $two))
    (drop (table.grow $t (ref.func $one) (i32.const 3)))
    (data.drop $passive))
  (func (export "check") (result i32)
    (local $bits i32)
    (if (i32.ne (i32.load8_u (i32.const 16)) (i32.const 105))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 1)))))
    (if (i32.ne (i32.load (i32.const 40000)) (i32.const 0))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 2)))))
    (if (i32.ne (memory.size) (i32.const 1))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 4)))))
    (if (i32.ne (global.get $g) (i32.const 7))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 8)))))
    (if (i64.ne (global.get $wide) (i64.const 0x1122334455))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 16)))))
    (if (i32.ne (call_indirect (type $r) (i32.const 0)) (i32.const 1))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 32)))))
    (if (i32.ne (table.size $t) (i32.const 2))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 64)))))
    ;; traps if the segment is still dropped
    (memory.init $passive (i32.const 100) (i32.const 0) (i32.const 7))
    (if (i32.ne (i32.load8_u (i32.const 100)) (i32.const 112))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 128)))))
    (i32.store8 (i32.const 100) (i32.const 0))
    ;; pages grown again read as zero
    (drop (memory.grow (i32.const 20)))
    (if (i32.ne (i32.load (i32.const 1048576)) (i32.const 0))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 256)))))
    (local.get $bits))
)"#;

fn engine() -> Engine {
    new_engine_with(PoolSettings {
        slots: 2,
        keep_resident: 1 << 20,
    })
    .unwrap()
    .0
}

fn store(engine: &Engine) -> Store<()> {
    let mut store = Store::new(engine, ());
    store.set_fuel(u64::MAX / 2).unwrap();
    store.set_epoch_deadline(u64::MAX / 2);
    store
}

/// A new instance of [`MUTABLE`] in its own store, with its exports
/// `dirty`, `check` and `memory`.
type Mutable = (
    Store<()>,
    Instance,
    TypedFunc<(), ()>,
    TypedFunc<(), i32>,
    Memory,
);

fn mutable() -> Mutable {
    let engine = engine();
    let module = Module::new(&engine, MUTABLE).unwrap();
    let mut store = store(&engine);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let dirty = instance.get_typed_func(&mut store, "dirty").unwrap();
    let check = instance.get_typed_func(&mut store, "check").unwrap();
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    (store, instance, dirty, check, memory)
}

#[test]
fn a_reset_instance_is_fresh_again() {
    let (mut store, instance, dirty, check, memory) = mutable();
    assert_eq!(check.call(&mut store, ()).unwrap(), 0, "a new instance");
    for round in 0..5 {
        assert!(instance.reset_in_place(&mut store).unwrap());
        dirty.call(&mut store, ()).unwrap();
        // Everything but the passive segment (it traps in `check`) changed.
        assert_eq!(memory.size(&store), 21);
        assert!(
            instance.reset_in_place(&mut store).unwrap(),
            "round {round}"
        );
        assert_eq!(memory.size(&store), 1, "round {round}");
        assert_eq!(memory.data(&store)[16..21], *b"image");
        assert_eq!(check.call(&mut store, ()).unwrap(), 0, "round {round}");
    }
}

/// `reset_in_place_keeping_tables`, for a module whose code never changes
/// its table: memory, globals and the rest are reset as ever, the table's
/// elements stay initialized (calls through them still reach the right
/// functions), and a table whose size changed after all is reset anyway.
#[test]
fn a_reset_keeping_tables_resets_everything_else() {
    let (mut store, instance, dirty, check, memory) = mutable();
    for round in 0..5 {
        // `check` initializes element 0 lazily; keeping the table keeps it.
        assert_eq!(check.call(&mut store, ()).unwrap(), 0, "round {round}");
        assert!(instance.reset_in_place_keeping_tables(&mut store).unwrap());
        assert_eq!(check.call(&mut store, ()).unwrap(), 0, "round {round}");
        assert!(instance.reset_in_place_keeping_tables(&mut store).unwrap());
        // This module does change its table (the caller's promise broken):
        // it grew, so it is reset all the same.
        dirty.call(&mut store, ()).unwrap();
        assert!(instance.reset_in_place_keeping_tables(&mut store).unwrap());
        assert_eq!(memory.size(&store), 1, "round {round}");
        assert_eq!(check.call(&mut store, ()).unwrap(), 0, "round {round}");
        assert!(instance.reset_in_place(&mut store).unwrap());
    }
}

#[test]
fn modules_it_cannot_reset_are_left_alone() {
    let engine = engine();
    // A passive element segment: not reset in place.
    let module = Module::new(
        &engine,
        r#"(module (memory (export "memory") 1) (table 1 funcref)
             (elem $e func $f) (func $f)
             (func (export "write") (i32.store (i32.const 8) (i32.const 42))))"#,
    )
    .unwrap();
    let mut store = store(&engine);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let write: TypedFunc<(), ()> = instance.get_typed_func(&mut store, "write").unwrap();
    write.call(&mut store, ()).unwrap();
    assert!(!instance.reset_in_place(&mut store).unwrap());
    // Nothing was touched.
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    assert_eq!(memory.data(&store)[8], 42);
}

mod common;
use common::{one_slot_vault, SECRET};
use pg_wasm_runtime::{pool_use, recycle, Limits, NoHost, Prepared, ValRaw};

fn vault_call(
    engine: &Engine,
    prepared: &Prepared<NoHost>,
    export: &str,
    args: &[ValRaw],
    limits: Limits,
) -> Result<i32, pg_wasm_runtime::RuntimeError> {
    let mut i = pg_wasm_runtime::Instance::from_prepared(engine, prepared, export, limits, NoHost)?;
    let mut buf = args.to_vec();
    buf.resize(buf.len().max(1), ValRaw::i32(0));
    i.call(&mut buf)?;
    Ok(buf[0].get_i32())
}

#[test]
fn only_instances_whose_calls_succeeded_are_kept() {
    // One slot: a kept instance is the only one there is.
    let (engine, prepared) = one_slot_vault::<NoHost>();
    let limits = Limits::default();
    let plant = [ValRaw::i64(SECRET), ValRaw::i32(3)];
    assert_eq!(
        vault_call(&engine, &prepared, "plant", &plant, limits).unwrap(),
        4
    );
    assert_eq!(recycle::kept(), (1, 1), "kept, reset");
    // Taken by the next statement: fresh (no secret, globals back).
    assert_eq!(
        vault_call(&engine, &prepared, "scan", &[ValRaw::i64(SECRET)], limits).unwrap(),
        0
    );
    assert_eq!(
        vault_call(&engine, &prepared, "bump", &[], limits).unwrap(),
        1001
    );
    assert_eq!(recycle::kept(), (1, 1));
    // A trap: the instance is dropped, not kept.
    assert!(vault_call(&engine, &prepared, "plant_trap", &plant, limits).is_err());
    assert_eq!(recycle::kept(), (0, 0), "a failed instance is not kept");
    assert_eq!(pool_use(&engine).unwrap().memories, 0);
    // Other memory limits: a kept instance is not taken (instantiation
    // checks the initial size against them), and goes.
    assert_eq!(
        vault_call(&engine, &prepared, "bump", &[], limits).unwrap(),
        1001
    );
    let small = Limits {
        memory_bytes: 1 << 16,
        ..limits
    };
    assert_eq!(
        vault_call(&engine, &prepared, "bump", &[], small).unwrap(),
        1001
    );
    // Replaced module: its kept instances go with its `Prepared`.
    assert_eq!(recycle::kept(), (1, 1));
    drop(prepared);
    assert_eq!(recycle::kept(), (0, 0));
    assert_eq!(pool_use(&engine).unwrap().memories, 0);
}
