//! Finished instances dropped after the statement that used them has gone
//! on its way.
//!
//! Dropping a pooled instance resets its slot to the module's image (a
//! page-map scan and a copy of every page the guest wrote: 5–50 µs for the
//! JavaScript and Python engines) and tears down its store. None of that
//! is needed to answer the statement; it is needed before the *next*
//! instance of the backend is made. [`set_mode`] chooses where it happens:
//!
//! - [`Mode::Deferred`]: [`Instance`]'s drop keeps the store, and the
//!   embedding drops what was kept ([`run_deferred`]) when its thread would
//!   otherwise wait: pg_wasm does it right after the backend flushed its
//!   reply, while the client reads it. Same thread, same CPU, no hand-over.
//! - [`Mode::Thread`]: the store goes to one helper thread per process, so
//!   the backend commits and answers while the slot is reset on another
//!   core. That only pays when a core is idle: when the backend is
//!   preempted often (runnable threads outnumber cores) or the helper had
//!   not started by the time the next instance needed it, drops happen in
//!   place again for a while (`probe_contention`, `wait_idle`).
//!
//! Either way the next instance first waits for what is still pending
//! ([`wait_idle`]), so it finds its warm slot and never a dirty one.
//!
//! What is put off is wasmtime's store with the embedding's host value
//! already dropped on the thread that made it ([`StoreState::retire`]):
//! the host may hold things only that thread may touch (PostgreSQL portals
//! and memory contexts), the rest is wasmtime's own, which may be dropped
//! on any thread. A slot goes back to the pool only once reset, so an
//! instance is never handed a dirty one, whichever thread resets it.
//!
//! [`Instance`]: crate::Instance
//! [`StoreState::retire`]: crate::instance::StoreState

use crate::threads::spawn_without_signals;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;

/// Something to drop on the helper thread.
type Job = Box<dyn Send>;

/// Stores waiting for the thread: past this many a drop happens inline
/// (a statement with hundreds of call sites does not queue hundreds).
const QUEUE: usize = 64;

/// Where a finished instance's store is dropped (its slot reset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// When the instance is dropped.
    Inline = 0,
    /// Later on the same thread, when the embedding calls
    /// [`run_deferred`] (pg_wasm: right after a reply has gone to the
    /// client), or before the next instance at the latest.
    Deferred = 1,
    /// On the helper thread.
    Thread = 2,
}

static MODE: AtomicU8 = AtomicU8::new(Mode::Inline as u8);
/// Stores handed over and not yet dropped.
static PENDING: AtomicUsize = AtomicUsize::new(0);
static SENDER: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();

thread_local! {
    /// Stores retired in [`Mode::Deferred`], dropped by [`run_deferred`].
    static DEFERRED: RefCell<Vec<Job>> = const { RefCell::new(Vec::new()) };
}

/// Where drops happen from now on in this process (the helper thread of
/// [`Mode::Thread`] starts at its first drop).
pub fn set_mode(mode: Mode) {
    MODE.store(mode as u8, Ordering::Relaxed);
}

fn mode() -> Mode {
    match MODE.load(Ordering::Relaxed) {
        1 => Mode::Deferred,
        2 => Mode::Thread,
        _ => Mode::Inline,
    }
}

/// Whether a store is worth putting off: in [`Mode::Deferred`] every one
/// (keeping it costs a push); on the thread only one with a memory (a slot
/// to reset): a hand-over costs a thread's wake-up, more than tearing down
/// a store without one.
/// Whether finished instances may be reset in place and kept
/// ([`crate::recycle`]): on this thread, now or deferred; not with the
/// helper thread (it would reset them on another thread).
pub(crate) fn recycles() -> bool {
    mode() != Mode::Thread
}

pub(crate) fn defers(has_memory: bool) -> bool {
    match mode() {
        Mode::Inline => false,
        Mode::Deferred => true,
        Mode::Thread => has_memory,
    }
}

/// Drops the stores this thread retired in [`Mode::Deferred`]: the
/// embedding calls it when the thread would otherwise wait (pg_wasm: after
/// flushing a reply to the client). Cheap when there are none.
#[inline]
pub fn run_deferred() {
    if DEFERRED.with(|d| !d.borrow().is_empty()) {
        run_deferred_slow();
    }
}

#[cold]
fn run_deferred_slow() {
    // One at a time, the borrow released before each drop.
    while let Some(job) = DEFERRED.with(|d| d.borrow_mut().pop()) {
        // A panic in a destructor is caught here: the caller may be C.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(job)));
    }
}

/// Stores retired in [`Mode::Deferred`] on this thread and not yet dropped.
pub fn deferred() -> usize {
    DEFERRED.with(|d| d.borrow().len())
}

/// Drops to do in place before handing over again, after the thread was
/// found behind ([`wait_idle`]), and the current length of that pause.
static INLINE_LEFT: AtomicU32 = AtomicU32::new(0);
static BACKOFF: AtomicU32 = AtomicU32::new(0);
/// Stores handed over, and how many of them the thread has begun to drop.
static SENT: AtomicUsize = AtomicUsize::new(0);
static PICKED: AtomicUsize = AtomicUsize::new(0);
/// Whether the last drop went to the thread (and not yet checked on).
static HANDED_OVER: AtomicBool = AtomicBool::new(false);
/// Longest pause: about a second of statements at OLTP rates.
const MAX_BACKOFF: u32 = 4096;
/// Every this many drops the backend looks at how often it was preempted
/// since the last look (one `getrusage`).
const PROBE_EVERY: u32 = 32;
/// Preempted at least once in this many drops: the cores are all busy.
const PREEMPTED_ONE_IN: u64 = 8;
static DROPS: AtomicU32 = AtomicU32::new(0);
static LAST_PREEMPTIONS: AtomicU64 = AtomicU64::new(0);
/// What the last look found: every core busy, so drops happen in place.
static CONTENDED: AtomicBool = AtomicBool::new(false);

/// Waits until every store handed over has been dropped (its slot back in
/// the pool, reset), so that a new instance finds its module's warm slot
/// instead of a cold one. Returns at once when nothing is pending.
///
/// Finding the thread still busy means no core was free to reset the slot
/// while the statement was answered (every core is busy): handing over then
/// only adds a wake-up and a wait, so the next drops happen in place, for
/// a pause that doubles each time it happens again and halves each time
/// the thread kept up.
#[inline]
pub fn wait_idle() {
    run_deferred();
    if PENDING.load(Ordering::Acquire) != 0 {
        // Started: a core was free, and its head start is the statement's
        // gain. Not even started: none was.
        let started = PICKED.load(Ordering::Acquire) >= SENT.load(Ordering::Relaxed);
        wait_slow();
        if started {
            HANDED_OVER.store(false, Ordering::Relaxed);
            return;
        }
        let pause = (BACKOFF.load(Ordering::Relaxed) * 2).clamp(16, MAX_BACKOFF);
        BACKOFF.store(pause, Ordering::Relaxed);
        INLINE_LEFT.store(pause, Ordering::Relaxed);
        HANDED_OVER.store(false, Ordering::Relaxed);
    } else if HANDED_OVER.swap(false, Ordering::Relaxed) {
        // The thread kept up.
        let pause = BACKOFF.load(Ordering::Relaxed);
        BACKOFF.store(pause / 2, Ordering::Relaxed);
    }
}

#[cold]
fn wait_slow() {
    let mut spins = 0u32;
    while PENDING.load(Ordering::Acquire) != 0 {
        if spins < 200 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// How many stores are waiting for the thread (for tests and stats).
pub fn pending() -> usize {
    PENDING.load(Ordering::Acquire)
}

fn sender() -> Option<&'static SyncSender<Job>> {
    SENDER
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<Job>(QUEUE);
            spawn_without_signals("pg_wasm reaper", 1 << 20, move || {
                for job in rx {
                    PICKED.fetch_add(1, Ordering::AcqRel);
                    // A panic in a destructor must not leave PENDING up
                    // (wait_idle would spin for ever): caught and counted.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(job)));
                    PENDING.fetch_sub(1, Ordering::Release);
                }
            })
            .ok()
            .map(|()| tx)
        })
        .as_ref()
}

/// Drops `job` on the helper thread when enabled and it is running,
/// otherwise here.
///
/// `job` must hold nothing that only this thread may touch; callers wrap
/// what they send in a type whose `Send` says why.
pub(crate) fn retire(job: Job) {
    match mode() {
        Mode::Inline => {
            drop(job);
            return;
        }
        Mode::Deferred => {
            let job = DEFERRED.with(|d| {
                let mut d = d.borrow_mut();
                if d.len() < QUEUE {
                    d.push(job);
                    None
                } else {
                    Some(job)
                }
            });
            drop(job);
            return;
        }
        Mode::Thread => {}
    }
    probe_contention();
    let left = INLINE_LEFT.load(Ordering::Relaxed);
    if CONTENDED.load(Ordering::Relaxed) {
        drop(job);
        return;
    }
    if left > 0 {
        INLINE_LEFT.store(left - 1, Ordering::Relaxed);
        drop(job);
        return;
    }
    let Some(tx) = sender() else {
        drop(job);
        return;
    };
    PENDING.fetch_add(1, Ordering::AcqRel);
    match tx.try_send(job) {
        Ok(()) => {
            SENT.fetch_add(1, Ordering::Relaxed);
            HANDED_OVER.store(true, Ordering::Relaxed);
        }
        Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
            PENDING.fetch_sub(1, Ordering::AcqRel);
            drop(job);
        }
    }
}

/// Every [`PROBE_EVERY`] drops, decides from how often the thread was
/// preempted since the last look whether the next ones go to the helper.
/// Preemption is the sign that runnable threads outnumber cores: then the
/// helper could only run by taking a core from another backend, and a
/// hand-over costs more (a wake-up, the slot's pages moving between caches)
/// than it saves.
fn probe_contention() {
    let drops = DROPS.load(Ordering::Relaxed) + 1;
    if drops < PROBE_EVERY {
        DROPS.store(drops, Ordering::Relaxed);
        return;
    }
    DROPS.store(0, Ordering::Relaxed);
    let now = involuntary_switches();
    let before = LAST_PREEMPTIONS.swap(now, Ordering::Relaxed);
    let preempted = now.saturating_sub(before);
    CONTENDED.store(
        preempted * PREEMPTED_ONE_IN >= u64::from(PROBE_EVERY),
        Ordering::Relaxed,
    );
}

/// How many times this thread was preempted so far.
fn involuntary_switches() -> u64 {
    // SAFETY: getrusage writes one rusage into the zeroed value it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_THREAD, &mut usage) != 0 {
            return 0;
        }
        usage.ru_nivcsw as u64
    }
}
