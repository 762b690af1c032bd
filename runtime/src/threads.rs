//! Helper threads that never take the host's signals.

/// Starts `f` on a thread named `name` with every signal blocked, so the
/// host's signal handlers (PostgreSQL's SIGINT for cancel, SIGALRM for
/// statement_timeout, SIGUSR1, ...) always run on the caller's thread.
pub(crate) fn spawn_without_signals(
    name: &str,
    stack_size: usize,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    // SAFETY: sigfillset/pthread_sigmask on local, valid sigset_t values;
    // the caller's mask is restored right after the spawn, so only the new
    // thread (which inherits the blocked mask) keeps signals blocked.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .stack_size(stack_size)
            .spawn(f);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        spawned.map(drop)
    }
}

/// Most threads one compile uses. A server runs many backends; one
/// `wasm.load` of a large component should not take every core of it.
const MAX_COMPILE_THREADS: usize = 4;

/// Stack of a compiler thread (as for the thread `compile.rs` starts).
pub(crate) const COMPILE_STACK: usize = 16 << 20;

/// How many threads a compile spreads its functions over: the machine's
/// cores, at most [`MAX_COMPILE_THREADS`], or `PG_WASM_COMPILE_THREADS`
/// from the server's environment (1: compile on the compiling thread
/// alone; benches compare the two).
pub(crate) fn compile_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("PG_WASM_COMPILE_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .min(MAX_COMPILE_THREADS)
            })
    })
}

/// Runs `compile` with wasmtime's parallel compilation on a thread pool of
/// its own, whose threads are started by [`spawn_without_signals`]. A pool
/// per compile, not rayon's global one: a compile abandoned by a cancel
/// finishes on its own pool in the background instead of holding up the
/// next compile's functions behind its own, and no thread that could take
/// the host's signals is ever started.
pub(crate) fn in_compile_pool<T: Send>(compile: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    let n = compile_threads();
    if n < 2 {
        return Ok(compile());
    }
    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(n)
        .spawn_handler(|thread| {
            let name = format!("pg_wasm pool {}", thread.index());
            spawn_without_signals(&name, COMPILE_STACK, move || thread.run())
        })
        .build()
        .map_err(std::io::Error::other)?;
    Ok(pool.install(compile))
}
