//! The WASI 0.2 sandbox a component runs in: nothing granted. No
//! preopened directories, no network (TCP, UDP and name lookup refused), no
//! environment or arguments, stdin empty; clocks and random work. What the
//! guest writes to stdout and stderr is kept in memory for the embedding
//! (pg_wasm logs it to the server log, within its log budget), never shown
//! to the client.

use super::output_pipe::OutputPipe;
use crate::error::RuntimeError;
use crate::host::Host;
use crate::limits::StoreLimiter;
use std::mem::ManuallyDrop;
use std::sync::Once;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::Engine;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of stdout (and of stderr) kept per call; past this the guest's
/// writes are counted and dropped (the guest does not see an error).
pub const OUTPUT_CAPACITY: usize = 64 << 10;

/// Everything a component's store carries.
pub struct ComponentState<H> {
    pub(crate) limiter: StoreLimiter,
    /// Dropped by [`ComponentState::drop_host`] when the store is retired
    /// to the reaper's thread ([`crate::reaper`]), else with the state.
    pub(crate) host: ManuallyDrop<H>,
    host_dropped: bool,
    pub(crate) started: u64,
    /// Counts calls, as [`crate::StoreState`] does, for the host's log budget.
    pub(crate) calls: u64,
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: OutputPipe,
    stderr: OutputPipe,
}

impl<H: Host + Send> WasiView for ComponentState<H> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// What a guest wrote to one stream during a call.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StreamOutput {
    /// What was kept (at most [`OUTPUT_CAPACITY`] bytes), lossily UTF-8
    /// and without NUL bytes (no PostgreSQL string can hold them).
    pub text: String,
    /// Bytes written past the capacity and dropped.
    pub dropped: usize,
}

impl<H> Drop for ComponentState<H> {
    fn drop(&mut self) {
        self.drop_host();
    }
}

impl<H> ComponentState<H> {
    /// Drops the host now, on this thread (the one that made it: the
    /// embedding's host may only be touched there); the state is then only
    /// WASI's and wasmtime's, which any thread may drop.
    pub(crate) fn drop_host(&mut self) {
        if !std::mem::replace(&mut self.host_dropped, true) {
            // SAFETY: the flag, set just now, makes this the host's only
            // drop; nothing reads `host` after it.
            unsafe { ManuallyDrop::drop(&mut self.host) }
        }
    }

    /// The host, handed back (a store whose instantiation failed).
    pub(crate) fn into_host(mut self) -> Option<H> {
        if std::mem::replace(&mut self.host_dropped, true) {
            return None;
        }
        // SAFETY: `host_dropped` was false, so the host is still there; set
        // now, it keeps `Drop` from dropping it again.
        Some(unsafe { ManuallyDrop::take(&mut self.host) })
    }

    pub(crate) fn new(limiter: StoreLimiter, host: H, started: u64) -> Self {
        let stdout = OutputPipe::new(OUTPUT_CAPACITY);
        let stderr = OutputPipe::new(OUTPUT_CAPACITY);
        // The builder's defaults deny the network and name lookup and have
        // no preopens, environment, arguments or stdin.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        ComponentState {
            limiter,
            host: ManuallyDrop::new(host),
            host_dropped: false,
            started,
            calls: 0,
            wasi,
            table: ResourceTable::new(),
            stdout,
            stderr,
        }
    }

    /// What the guest wrote to stdout and stderr since the last time, per
    /// stream (streams it did not write to are left out). The pipes are
    /// drained in place: the WASI context and any stream the guest holds
    /// share them, so the next call's output lands in them too.
    pub fn take_output(&mut self) -> Vec<(&'static str, StreamOutput)> {
        let mut out = Vec::new();
        for (name, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let (bytes, dropped) = pipe.drain();
            if bytes.is_empty() && dropped == 0 {
                continue;
            }
            let text = String::from_utf8_lossy(&bytes).replace('\0', "");
            out.push((name, StreamOutput { text, dropped }));
        }
        out
    }
}

/// The linker every component is prepared with: WASI 0.2, synchronous.
pub(crate) fn linker<H: Host + Send + 'static>(
    engine: &Engine,
) -> Result<Linker<ComponentState<H>>, RuntimeError> {
    start_wasi_runtime();
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
    super::host_api::add_to_linker(&mut linker)
        .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
    Ok(linker)
}

/// wasmtime-wasi runs some host calls on a Tokio runtime of its own,
/// created on first use with worker threads. Those threads must never take
/// the host's signals (PostgreSQL's handlers belong on the backend's
/// thread), so the runtime is started here with every signal blocked; its
/// threads inherit that mask.
fn start_wasi_runtime() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        // SAFETY: sigfillset/pthread_sigmask on local, valid sigset_t
        // values; the caller's mask is restored right after.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            wasmtime_wasi::runtime::in_tokio(async {});
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
    });
}

/// Refuses a component that imports anything but WASI 0.2 and pg_wasm's
/// host interface (with the signatures of `sdk/wit/host.wit`), naming the
/// import, at load rather than at first call.
pub fn check_imports(engine: &Engine, component: &Component) -> Result<(), RuntimeError> {
    let ty = component.component_type();
    let mut refused = Vec::new();
    for (name, item) in ty.imports(engine) {
        if name.starts_with("wasi:") {
            continue;
        }
        match super::host_api::check_import(engine, name, &item) {
            Some(Ok(())) => {}
            Some(Err(why)) => refused.push(format!("{name} ({why})")),
            None => refused.push(name.to_string()),
        }
    }
    if !refused.is_empty() {
        return Err(RuntimeError::UnsupportedComponentImports(refused));
    }
    Ok(())
}
