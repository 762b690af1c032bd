//! The instance pool without a server: a slot is handed out again reset to
//! the module's image (what a guest wrote, even in grown pages, is gone), a
//! full pool is a `PoolFull` error that clears once an instance is dropped,
//! and a pool that cannot be reserved falls back to the on-demand allocator.
//! Dirty pages scattered over many regions are all reset in place (the
//! patched wasmtime in vendor/), within the kept-resident budget.

use pg_wasm_runtime::*;

const VAULT: &str = include_str!("../../guest-examples/wat/vault.wat");

const SCATTER: &str = include_str!("../../guest-examples/wat/scatter.wat");

const SECRET: i64 = 0x5EC2_E7C0_FFEE_1234;

fn call(engine: &Engine, prepared: &Prepared<NoHost>, export: &str, args: &[ValRaw]) -> i32 {
    let mut i =
        Instance::from_prepared(engine, prepared, export, Limits::default(), NoHost).unwrap();
    let mut buf = args.to_vec();
    buf.resize(buf.len().max(1), ValRaw::i32(0));
    i.call(&mut buf).unwrap();
    buf[0].get_i32()
}

fn pooled(slots: u32) -> Engine {
    pooled_keeping(slots, 1 << 20)
}

fn pooled_keeping(slots: u32, keep_resident: usize) -> Engine {
    let (engine, allocation) = new_engine_with(PoolSettings {
        slots,
        keep_resident,
    })
    .unwrap();
    assert!(
        matches!(allocation, Allocation::Pooled(_)),
        "{allocation:?}"
    );
    engine
}

#[test]
fn a_reused_slot_holds_the_image_and_nothing_else() {
    // One slot: every instance gets the same memory.
    let engine = pooled(1);
    let module = compile(&engine, &parse_wat(VAULT).unwrap(), 1 << 20).unwrap();
    let prepared = Prepared::new(&engine, &module).unwrap();
    for round in 0..20 {
        // Grown past the kept-resident megabyte on odd rounds.
        let pages = if round % 2 == 0 { 3 } else { 40 };
        let size = call(
            &engine,
            &prepared,
            "plant",
            &[ValRaw::i64(SECRET), ValRaw::i32(pages)],
        );
        assert_eq!(size, 1 + pages);
        assert_eq!(call(&engine, &prepared, "pages", &[]), 1);
        assert_eq!(call(&engine, &prepared, "scan", &[ValRaw::i64(SECRET)]), 0);
        assert_eq!(call(&engine, &prepared, "image", &[]), i32::from(b'i'));
    }
    // The last instance is kept, reset in place, for the next statement
    // (`recycle`), and given back to the pool on demand.
    assert_eq!(pool_use(&engine).unwrap().memories, 1);
    assert_eq!(recycle::clear(), 1);
    assert_eq!(pool_use(&engine).unwrap().memories, 0);
}

#[test]
fn a_full_pool_is_an_error_until_an_instance_goes() {
    let engine = pooled(2);
    let module = compile(&engine, &parse_wat(VAULT).unwrap(), 1 << 20).unwrap();
    let prepared = Prepared::new(&engine, &module).unwrap();
    let new = || Instance::from_prepared(&engine, &prepared, "scan", Limits::default(), NoHost);
    let a = new().unwrap();
    let _b = new().unwrap();
    match new() {
        Err(RuntimeError::Trap { kind, message, .. }) => {
            assert_eq!(kind, TrapKind::PoolFull);
            assert!(message.contains("no free instance slot"), "{message}");
        }
        Err(other) => panic!("expected PoolFull, got {other:?}"),
        Ok(_) => panic!("a third instance in a pool of two"),
    }
    assert_eq!(pool_use(&engine).unwrap().memories, 2);
    drop(a);
    new().unwrap();
}

#[test]
fn without_a_pool_or_its_address_space_instances_map_their_own_memory() {
    let (engine, allocation) = new_engine_with(PoolSettings::OFF).unwrap();
    assert_eq!(allocation, Allocation::OnDemand(None));
    assert!(pool_use(&engine).is_none());
    // 100 000 slots of 4 GiB are more address space than x86-64 has.
    let (engine, allocation) = new_engine_with(PoolSettings {
        slots: 100_000,
        keep_resident: 0,
    })
    .unwrap();
    match &allocation {
        Allocation::OnDemand(Some(reason)) => assert!(!reason.is_empty()),
        other => panic!("expected the on-demand fallback, got {other:?}"),
    }
    let module = compile(&engine, &parse_wat(VAULT).unwrap(), 1 << 20).unwrap();
    let prepared = Prepared::new(&engine, &module).unwrap();
    call(
        &engine,
        &prepared,
        "plant",
        &[ValRaw::i64(SECRET), ValRaw::i32(1)],
    );
    assert_eq!(call(&engine, &prepared, "scan", &[ValRaw::i64(SECRET)]), 0);
}

#[test]
fn artifacts_fit_both_allocators() {
    // The pool does not change compiled code: an artifact serialized by a
    // pooled engine deserializes in an on-demand one (a backend that could
    // not reserve its pool maps the cluster's artifacts all the same).
    let pooled = pooled(4);
    let (plain, _) = new_engine_with(PoolSettings::OFF).unwrap();
    assert_eq!(
        artifacts::engine_key(&pooled),
        artifacts::engine_key(&plain)
    );
    let bytes = compile(&pooled, &parse_wat(VAULT).unwrap(), 1 << 20)
        .unwrap()
        .serialize()
        .unwrap();
    // SAFETY: bytes this process just serialized with a compatible engine.
    let module = unsafe { Module::deserialize(&plain, &bytes) }.unwrap();
    let prepared = Prepared::new(&plain, &module).unwrap();
    assert_eq!(call(&plain, &prepared, "image", &[]), i32::from(b'i'));
}

/// Page faults this thread has taken (a count, not a time).
fn minor_faults() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
        usage.ru_minflt
    }
}

/// 250 dirty pages, each its own region: `scatter` writes them in one
/// instance, `differ` in the next counts the words that are not the image's.
/// Returns that count and the page faults `differ`'s instance took.
fn scatter_then_differ(engine: &Engine, prepared: &Prepared<NoHost>, round: i64) -> (i32, i64) {
    let (stride, count) = (ValRaw::i32(4), ValRaw::i32(250));
    let value = ValRaw::i64(SECRET + round);
    call(engine, prepared, "scatter", &[stride, count, value]);
    let before = minor_faults();
    let differ = call(engine, prepared, "differ", &[stride, count]);
    (differ, minor_faults() - before)
}

#[test]
fn scattered_dirty_pages_are_all_reset_in_place() {
    // Upstream wasmtime resets the first 32 regions in place and decommits
    // the rest, which then fault again.
    let engine = pooled_keeping(1, 4 << 20);
    let module = compile(&engine, &parse_wat(SCATTER).unwrap(), 1 << 20).unwrap();
    let prepared = Prepared::new(&engine, &module).unwrap();
    for round in 0..4 {
        let (differ, faults) = scatter_then_differ(&engine, &prepared, round);
        assert_eq!(differ, 0, "round {round}");
        // Reading the 250 pages again takes no fault when they stayed
        // resident (a few for the instance's own set-up).
        if round > 0 {
            assert!(faults < 60, "round {round}: {faults} page faults");
        }
    }
}

#[test]
fn dirty_pages_beyond_the_resident_budget_are_decommitted() {
    // 64 pages kept resident, 250 dirty: the rest is given back, and the
    // next instance still sees only the image.
    let engine = pooled_keeping(1, 64 << 12);
    let module = compile(&engine, &parse_wat(SCATTER).unwrap(), 1 << 20).unwrap();
    let prepared = Prepared::new(&engine, &module).unwrap();
    for round in 0..4 {
        let (differ, _) = scatter_then_differ(&engine, &prepared, round);
        assert_eq!(differ, 0, "round {round}");
    }
}

/// A table of 4 000 functions (32 KiB: cleared by hand, not scanned), one
/// element set by the module; `poke` fills every 100th, `probe` counts the
/// elements that are set.
const TABLE: &str = r#"(module
  (table $t 4000 funcref)
  (elem (table $t) (i32.const 0) func $one)
  (elem declare func $one)
  (func $one (result i32) i32.const 1)
  (func (export "poke") (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 4000)))
        (table.set $t (local.get $i) (ref.func $one))
        (local.set $i (i32.add (local.get $i) (i32.const 100)))
        (br $next)))
    i32.const 0)
  (func (export "probe") (result i32)
    (local $i i32) (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 4000)))
        (if (i32.eqz (ref.is_null (table.get $t (local.get $i))))
          (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n)))"#;

#[test]
fn a_reused_table_slot_holds_only_the_module_elements() {
    let engine = pooled(1);
    let module = compile(&engine, &parse_wat(TABLE).unwrap(), 1 << 20).unwrap();
    let prepared = Prepared::new(&engine, &module).unwrap();
    for round in 0..4 {
        assert_eq!(call(&engine, &prepared, "probe", &[]), 1, "round {round}");
        call(&engine, &prepared, "poke", &[]);
    }
}
