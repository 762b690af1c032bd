//! The epoch ticker: one thread per process that advances the engine's
//! epoch every [`TICK`], so running Wasm reaches its epoch deadline and the
//! store's callback can check for cancellation and timeouts.
//!
//! The thread touches nothing but the engine's epoch counter (an atomic
//! add). It is started with every signal blocked, so PostgreSQL's signals
//! (SIGINT for cancel, SIGALRM for statement_timeout, SIGUSR1, …) are
//! always delivered to the backend's main thread.

use std::sync::OnceLock;
use std::time::Duration;
use wasmtime::Engine;

/// How often the epoch advances: the worst-case delay before a cancel or
/// timeout is noticed, and the ticker's wake-up rate (50 per second).
pub const TICK: Duration = Duration::from_millis(20);

static STARTED: OnceLock<Result<(), String>> = OnceLock::new();

/// Starts the ticker for `engine` once per process; later calls return the
/// first outcome.
pub fn start(engine: &'static Engine) -> Result<(), String> {
    STARTED
        .get_or_init(|| {
            // SAFETY: sigfillset/pthread_sigmask on a local, valid sigset_t;
            // the previous mask is restored right after the spawn, so only the
            // new thread (which inherits the blocked mask) keeps signals blocked.
            unsafe {
                let mut all: libc::sigset_t = std::mem::zeroed();
                let mut old: libc::sigset_t = std::mem::zeroed();
                libc::sigfillset(&mut all);
                libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
                let spawned = std::thread::Builder::new()
                    .name("pg_wasm epoch".into())
                    .stack_size(64 * 1024)
                    .spawn(move || loop {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    });
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                spawned
                    .map(drop)
                    .map_err(|e| format!("cannot start the epoch ticker thread: {e}"))
            }
        })
        .clone()
}
