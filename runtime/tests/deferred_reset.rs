//! Slots reset later on the same thread (`reaper::Mode::Deferred`, what
//! pg_wasm does after a reply): a finished instance is kept until
//! `run_deferred` or the next instance, which resets it in place first
//! (`recycle`) and takes it, so a one-slot pool never runs out and never
//! hands out a dirty instance. A test binary of its own: the mode is
//! process-wide.

use pg_wasm_runtime::reaper::{self, Mode};
use pg_wasm_runtime::recycle;
use pg_wasm_runtime::*;

mod common;
use common::{one_slot_vault, SECRET};

#[test]
fn kept_stores_are_reset_before_the_next_instance_or_when_run() {
    let (engine, prepared) = one_slot_vault();
    reaper::set_mode(Mode::Deferred);
    let call = |export: &str, args: &[ValRaw]| -> i32 {
        let mut i =
            Instance::from_prepared(&engine, &prepared, export, Limits::default(), NoHost).unwrap();
        let mut buf = args.to_vec();
        buf.resize(buf.len().max(1), ValRaw::i32(0));
        i.call(&mut buf).unwrap();
        drop(i);
        assert_eq!(reaper::deferred(), 1, "kept, not reset yet");
        buf[0].get_i32()
    };
    for round in 0..100 {
        let pages = if round % 10 == 0 { 40 } else { 3 };
        assert_eq!(
            call("plant", &[ValRaw::i64(SECRET), ValRaw::i32(pages)]),
            1 + pages
        );
        // The slot is still held by the kept store...
        let used = pool_use(&engine).unwrap();
        assert_eq!((used.core_instances, used.memories), (1, 1));
        // ...and the next instance resets it first (one slot: or it
        // would find none).
        assert_eq!(call("scan", &[ValRaw::i64(SECRET)]), 0, "round {round}");
        if round % 2 == 0 {
            // The embedding's idle point.
            reaper::run_deferred();
            assert_eq!(reaper::deferred(), 0);
            // Reset in place and kept for the next statement, in its slot.
            assert_eq!(recycle::kept(), (1, 1));
            let used = pool_use(&engine).unwrap();
            assert_eq!((used.core_instances, used.memories), (1, 1));
        }
        assert_eq!(call("bump", &[]), 1001, "globals back to the image");
    }
    // A store without a memory is kept too (its reset put off).
    let wat = r#"(module (func (export "one") (result i32) i32.const 1))"#;
    let plain = compile(&engine, &parse_wat(wat).unwrap(), 1 << 20).unwrap();
    let plain = Prepared::new(&engine, &plain).unwrap();
    reaper::run_deferred();
    let mut i = Instance::from_prepared(&engine, &plain, "one", Limits::default(), NoHost).unwrap();
    let mut buf = [ValRaw::i32(0)];
    i.call(&mut buf).unwrap();
    drop(i);
    assert_eq!(reaper::deferred(), 1);
    reaper::wait_idle();
    assert_eq!(reaper::deferred(), 0);
    assert_eq!(recycle::kept(), (2, 1), "the vault's and this one");
    let used = pool_use(&engine).unwrap();
    assert_eq!((used.core_instances, used.memories), (2, 1));
    // Given back to the pool on demand.
    assert_eq!(recycle::clear(), 2);
    let used = pool_use(&engine).unwrap();
    assert_eq!((used.core_instances, used.memories), (0, 0));
}
