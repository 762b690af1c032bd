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
