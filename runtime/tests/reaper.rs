//! Slots reset on the helper thread (`reaper::Mode::Thread`): the host is still
//! dropped on the thread that made it, the next instance of a one-slot pool
//! waits for the reset and finds only the module's image, and nothing is
//! left pending. A test binary of its own: the switch is process-wide.

use pg_wasm_runtime::*;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::ThreadId;

mod common;
use common::{one_slot_vault, SECRET};

/// A host that only this thread may touch (`Rc`, so not `Send`) and that
/// notes the thread its drop ran on.
struct ThreadBound {
    dropped_on: Rc<std::cell::Cell<Option<ThreadId>>>,
}

impl Drop for ThreadBound {
    fn drop(&mut self) {
        self.dropped_on.set(Some(std::thread::current().id()));
    }
}

impl Host for ThreadBound {
    fn log(&mut self, _: LogLevel, _: &str, _: u64) -> Result<(), HostError> {
        Ok(())
    }
    fn query(&mut self, _: &str, _: &str) -> Result<Vec<u8>, HostError> {
        Ok(b"[]".to_vec())
    }
    fn cancel_requested(&self) -> bool {
        false
    }
}

#[test]
fn slots_reset_on_the_helper_thread_are_clean_and_hosts_stay_home() {
    let (engine, prepared) = one_slot_vault();
    reaper::set_mode(reaper::Mode::Thread);
    let calls = AtomicUsize::new(0);
    let call = |export: &str, args: &[ValRaw]| -> i32 {
        let dropped_on = Rc::new(std::cell::Cell::new(None));
        let host = ThreadBound {
            dropped_on: dropped_on.clone(),
        };
        let mut i =
            Instance::from_prepared(&engine, &prepared, export, Limits::default(), host).unwrap();
        let mut buf = args.to_vec();
        buf.resize(buf.len().max(1), ValRaw::i32(0));
        i.call(&mut buf).unwrap();
        drop(i);
        assert_eq!(
            dropped_on.get(),
            Some(std::thread::current().id()),
            "the host is dropped where it was made"
        );
        calls.fetch_add(1, Ordering::Relaxed);
        buf[0].get_i32()
    };
    for round in 0..200 {
        // Grown past the kept-resident megabyte now and then.
        let pages = if round % 10 == 0 { 40 } else { 3 };
        let size = call("plant", &[ValRaw::i64(SECRET), ValRaw::i32(pages)]);
        assert_eq!(size, 1 + pages);
        // One slot: this instance exists only once the reset is done.
        assert_eq!(call("scan", &[ValRaw::i64(SECRET)]), 0, "round {round}");
        assert_eq!(call("pages", &[]), 1);
        assert_eq!(call("bump", &[]), 1001, "globals back to the image");
    }
    reaper::wait_idle();
    assert_eq!(reaper::pending(), 0);
    assert_eq!(calls.load(Ordering::Relaxed), 800);
    let used = pool_use(&engine).unwrap();
    assert_eq!((used.core_instances, used.memories), (0, 0));
}
