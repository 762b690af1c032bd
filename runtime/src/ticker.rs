//! The epoch ticker: one thread per process that advances the engine's
//! epoch every [`TICK`], so running Wasm reaches its epoch deadline and the
//! store's callback can check for cancellation and timeouts.
//!
//! The thread touches nothing but the engine's epoch counter (an atomic
//! add). It is started with every signal blocked, so PostgreSQL's signals
//! (SIGINT for cancel, SIGALRM for statement_timeout, SIGUSR1, …) are
//! always delivered to the backend's main thread.

use crate::threads::spawn_without_signals;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wasmtime::Engine;

/// How often the epoch advances: the worst-case delay before a cancel or
/// timeout is noticed, and the ticker's wake-up rate (50 per second).
pub const TICK: Duration = Duration::from_millis(20);

static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
static BASE: OnceLock<Instant> = OnceLock::new();
/// When the ticker last ticked, in nanoseconds since [`BASE`]: a call reads
/// it (one atomic load) instead of the clock to know roughly when it began.
static LAST_TICK: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds since the ticker's base (a clock read: not for warm calls).
pub(crate) fn now() -> u64 {
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A lower bound of the present moment in the units of [`now`], within one
/// [`TICK`] of it, without reading the clock.
#[inline(always)]
pub(crate) fn last_tick() -> u64 {
    LAST_TICK.load(Ordering::Relaxed)
}

/// Starts the ticker for `engine` once per process; later calls return the
/// first outcome.
pub fn start(engine: &'static Engine) -> Result<(), String> {
    STARTED
        .get_or_init(|| {
            now();
            spawn_without_signals("pg_wasm epoch", 64 * 1024, move || loop {
                std::thread::sleep(TICK);
                LAST_TICK.store(now(), Ordering::Relaxed);
                engine.increment_epoch();
            })
            .map_err(|e| format!("cannot start the epoch ticker thread: {e}"))
        })
        .clone()
}
