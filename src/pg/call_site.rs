//! The state of one call site (one FmgrInfo), kept in `fn_extra`.
//!
//! Preparing resolves the function, its module and export, checks the
//! signature and instantiates the module: catalog reads and compiles happen
//! here, once per statement at most. A warm call only copies arguments into
//! a preallocated buffer, resets fuel and enters Wasm.

use super::cache;
use super::function::{FunctionDef, Resolved};
use super::host::PgHost;
use super::srf;
use super::stats::{self, Counters};
use crate::error::{PgWasmError, Result};
use crate::guc;
use crate::marshal::io_cache::Inputs;
use crate::marshal::{self, Arg, Ret, Shape};
use pg_wasm_runtime::{Instance, RuntimeError, TrapKind, ValRaw};
use pgrx::pg_sys;
use std::time::Instant;

pub struct CallSite {
    /// Cache epoch the site was prepared under; a different current epoch
    /// (a module changed) or `POISONED` (the last call trapped) means
    /// prepare again before calling.
    epoch: u64,
    /// Transaction and role the instance was made for: guest state never
    /// outlives either (a persistent FmgrInfo, say in the typcache, can be
    /// called again in a later transaction or under another role).
    xact: u64,
    user: pg_sys::Oid,
    fn_oid: pg_sys::Oid,
    pub(super) target: String,
    pub(super) shape: Shape,
    pub(super) instance: Instance<PgHost>,
    /// Whether arguments or the result travel through guest memory.
    uses_memory: bool,
    /// A trigger function: one JSON document in, one out (SPEC §6).
    trigger: bool,
    /// What a trigger call site works out once (see `trigger::Plan`).
    trigger_plan: Option<Box<super::trigger::Plan>>,
    pub(super) buf: Vec<ValRaw>,
    /// The JavaScript engine's call site: a result may be an exception.
    javascript: bool,
    /// This site's input functions (never shared: see `marshal::io_cache`).
    pub(super) inputs: Inputs,
    pub(super) counters: Counters,
    /// The message of this site's last failed call, for `wasm.stats`.
    last_error: Option<stats::LastError>,
    /// The function's owner (for the stats table's per-owner share).
    owner: pg_sys::Oid,
    track_time: bool,
}

const POISONED: u64 = u64::MAX;

extern "C" {
    /// PostgreSQL's `GetUserId` (miscinit.c), declared here rather than
    /// called through pgrx's guarded wrapper (a sigsetjmp and error-context
    /// save per call): it only reads a backend global and cannot raise an
    /// ERROR, and it runs on every warm call.
    #[link_name = "GetUserId"]
    fn current_user() -> pg_sys::Oid;
}

impl CallSite {
    /// A call site with a fresh instance of `r`'s module; `epoch` is the
    /// module cache's when `r` was resolved.
    pub fn prepare(
        fn_oid: pg_sys::Oid,
        epoch: u64,
        def: &FunctionDef,
        r: &Resolved,
    ) -> Result<Self> {
        Self::prepare_on(fn_oid, epoch, def, r, &r.module)
    }

    /// [`Self::prepare`] with an instance of `module` instead of
    /// `r.module` (a JavaScript or Python function's own image of the
    /// engine, [`super::js_site`]).
    pub fn prepare_on(
        fn_oid: pg_sys::Oid,
        epoch: u64,
        def: &FunctionDef,
        r: &Resolved,
        module: &cache::Compiled,
    ) -> Result<Self> {
        let mut host = PgHost::new(r.target.clone(), r.settings().allow_spi, def.read_only());
        if r.javascript {
            host = host.with_library_owner(def.owner);
        }
        let failure = host.failure_slot();
        let prepared = module.prepared(&r.target)?;
        super::reset::configure();
        let instance =
            Instance::from_prepared(cache::engine()?, prepared, &r.export, r.limits(), host)
                .map_err(|err| {
                    // A PostgreSQL error caught in a host call of the start
                    // function: raise it with its own SQLSTATE, now that the
                    // Wasm frames are gone.
                    if let Some(caught) = super::host::take(&failure) {
                        std::panic::resume_unwind(caught);
                    }
                    PgWasmError::Runtime {
                        target: r.target.clone(),
                        err,
                    }
                })?;
        let buf = vec![ValRaw::i64(0); instance.slots().max(1)];
        let uses_memory = r.shape.uses_memory();
        let trigger = r.shape.ret_type == pg_sys::TRIGGEROID;
        Ok(CallSite {
            epoch,
            xact: cache::xact(),
            // SAFETY: reads the backend's current user id.
            user: unsafe { current_user() },
            fn_oid,
            target: r.target.clone(),
            shape: r.shape.clone(),
            uses_memory,
            trigger,
            trigger_plan: None,
            instance,
            buf,
            javascript: r.javascript,
            inputs: Inputs::default(),
            counters: Counters::default(),
            last_error: None,
            owner: def.owner,
            track_time: guc::TRACK_TIME.get(),
        })
    }

    /// Whether the site may be used for the next call as it is.
    #[inline(always)]
    pub fn is_current(&self) -> bool {
        // SAFETY: GetUserId only reads a backend global.
        self.epoch == cache::epoch()
            && self.xact == cache::xact()
            && self.user == unsafe { current_user() }
    }

    /// Calls the export with the arguments in `fcinfo`.
    ///
    /// # Safety
    /// `fcinfo` must be the call's valid FunctionCallInfo whose arguments
    /// have the types this site was prepared for.
    #[inline(always)]
    pub unsafe fn call(
        &mut self,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Result<Option<pg_sys::Datum>> {
        if self.uses_memory {
            let inputs: *mut Inputs = &mut self.inputs;
            return Inputs::scope(inputs, || {
                if self.trigger {
                    // SAFETY: a site prepared for a trigger function is only
                    // used by trigger calls (fmgr refuses other calls of
                    // functions returning trigger).
                    return unsafe { super::trigger::call(self, fcinfo) }.map(Some);
                }
                // SAFETY: forwarded contract.
                unsafe { self.call_with_memory(fcinfo) }
            });
        }
        // SAFETY: the caller guarantees fcinfo is valid; nargs is the
        // function's argument count, which is the number of args filled in.
        let args = unsafe { (*fcinfo).args.as_slice((*fcinfo).nargs as usize) };
        for ((slot, arg), kind) in self.buf.iter_mut().zip(args).zip(&self.shape.args) {
            if arg.isnull {
                // A numeric argument cannot be NULL in Wasm: the function
                // behaves as STRICT (SPEC §5).
                return Ok(None);
            }
            if let Arg::Scalar(scalar) = kind {
                *slot = scalar.arg_to_wasm(arg.value);
            }
        }
        let outcome = self.timed(|i, buf| i.call(buf));
        match outcome {
            Ok(fuel) => {
                self.counters.fuel += fuel;
                match self.shape.result {
                    Ret::Scalar(scalar) => {
                        scalar.result_from_wasm(self.buf[0], &self.target).map(Some)
                    }
                    _ => Ok(Some(pg_sys::Datum::from(0))),
                }
            }
            Err(err) => Err(self.trapped(err)),
        }
    }

    #[inline(always)]
    pub(super) fn timed(
        &mut self,
        f: impl FnOnce(&mut Instance<PgHost>, &mut [ValRaw]) -> std::result::Result<u64, RuntimeError>,
    ) -> std::result::Result<u64, RuntimeError> {
        let started = self.track_time.then(Instant::now);
        let outcome = f(&mut self.instance, &mut self.buf);
        if let Some(t) = started {
            self.counters.nanos += t.elapsed().as_nanos() as u64;
        }
        self.counters.calls += 1;
        outcome
    }

    /// The call of a function with text, bytea, JSON or other byte-borne
    /// arguments or results (ABI version 1, SPEC §5).
    ///
    /// # Safety
    /// As [`CallSite::call`].
    unsafe fn call_with_memory(
        &mut self,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Result<Option<pg_sys::Datum>> {
        // SAFETY: as in `call`.
        let args = unsafe { (*fcinfo).args.as_slice((*fcinfo).nargs as usize) };
        // A NULL numeric argument means no call (SPEC §5): decide before
        // anything is copied into the guest.
        let scalar_null = args
            .iter()
            .zip(&self.shape.args)
            .any(|(a, k)| a.isnull && matches!(k, Arg::Scalar(_)));
        if scalar_null {
            return Ok(None);
        }
        let mut slot = 0;
        let mut wrote = false;
        for (i, arg) in args.iter().enumerate() {
            match self.shape.args[i] {
                Arg::Scalar(scalar) => {
                    self.buf[slot] = scalar.arg_to_wasm(arg.value);
                    slot += 1;
                }
                Arg::Bytes(codec) => {
                    let (ptr, len) = if arg.isnull {
                        // Only non-strict functions get here (SPEC §5).
                        (0, -1)
                    } else {
                        // SAFETY: the argument has the type the codec was made for.
                        let bytes = unsafe { codec.arg_bytes(arg.value) };
                        let ptr = self
                            .instance
                            .write_bytes(bytes, !wrote)
                            .map_err(|e| self.trapped(e))?;
                        wrote = true;
                        (ptr, bytes.len() as i32)
                    };
                    self.buf[slot] = ValRaw::i32(ptr);
                    self.buf[slot + 1] = ValRaw::i32(len);
                    slot += 2;
                }
            }
        }
        let outcome = self.timed(|i, buf| {
            if wrote {
                i.call_after_writes(buf)
            } else {
                i.call(buf)
            }
        });
        let fuel = outcome.map_err(|e| self.trapped(e))?;
        self.counters.fuel += fuel;
        match self.shape.result {
            Ret::Void | Ret::Scalar(_) => {
                let datum = match self.shape.result {
                    Ret::Scalar(scalar) => scalar.result_from_wasm(self.buf[0], &self.target)?,
                    _ => pg_sys::Datum::from(0),
                };
                // Tell the guest the call is over (its arguments are dead).
                self.instance.free(0, 0).map_err(|e| self.trapped(e))?;
                Ok(Some(datum))
            }
            // SAFETY: forwarded contract.
            Ret::Bytes(codec) => unsafe { self.bytes_result(fcinfo, codec) },
        }
    }

    /// The byte-borne result of the call just made (in `buf[0]`): a value,
    /// or a set's rows put into `fcinfo`'s ReturnSetInfo.
    ///
    /// # Safety
    /// As [`CallSite::call`].
    pub(super) unsafe fn bytes_result(
        &mut self,
        fcinfo: pg_sys::FunctionCallInfo,
        codec: marshal::codec::Codec,
    ) -> Result<Option<pg_sys::Datum>> {
        let set = self.shape.set;
        let out = self.with_result(|bytes, shape, target| {
            // Every row of a set is parsed as a tree, whatever its type.
            let weights = match shape.result_weights {
                None if set => Some(marshal::budget::TREE),
                w => w,
            };
            marshal::budget::check(bytes, weights, set, target)?;
            if set {
                // SAFETY: fcinfo is this call's; the rows go into its
                // ReturnSetInfo.
                unsafe { srf::materialize(fcinfo, shape, bytes, target)? };
                Ok(None)
            } else {
                // SAFETY: forwarded contract (fcinfo for the row type).
                let desc = unsafe { srf::record_desc(fcinfo, shape.ret_type) };
                codec.result_datum(bytes, target, desc)
            }
        })?;
        match out {
            Some(d) => Ok(d),
            // A NULL result; a set-returning function returns no rows.
            None if set => {
                // SAFETY: fcinfo is this call's.
                unsafe { srf::materialize(fcinfo, &self.shape, b"[]", &self.target)? };
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Reads the byte result of the call just made (`ptr << 32 | len` in
    /// the first slot), hands it to `f` while it is still in guest memory,
    /// then tells the guest to free it (`pg_wasm_free`, with (0, 0) for a
    /// NULL result). `None` is a NULL result.
    pub(super) fn with_result<T>(
        &mut self,
        f: impl FnOnce(&[u8], &Shape, &str) -> Result<T>,
    ) -> Result<Option<T>> {
        let packed = self.buf[0].get_i64() as u64;
        let (ptr, len) = ((packed >> 32) as u32 as i32, packed as u32);
        if self.javascript && len == pg_wasm_runtime::javascript::LEN_EXCEPTION {
            return Err(self.javascript_exception(packed as i64));
        }
        if len == u32::MAX {
            self.instance.free(0, 0).map_err(|e| self.trapped(e))?;
            return Ok(None);
        }
        let len = len as i32;
        let bytes = self
            .instance
            .read_bytes(ptr, len)
            .map_err(|err| PgWasmError::Runtime {
                target: self.target.clone(),
                err,
            })?;
        let out = f(bytes, &self.shape, &self.target);
        // Freed whether or not `f` accepted it: after an error caught in a
        // subtransaction the same guest is called again.
        self.instance.free(ptr, len).map_err(|e| self.trapped(e))?;
        out.map(Some)
    }

    /// The JavaScript exception a call returned, as ERROR P0001 with the
    /// stack in DETAIL (SPEC §15).
    #[cold]
    pub(super) fn javascript_exception(&mut self, packed: i64) -> PgWasmError {
        use pg_wasm_runtime::javascript::Returned;
        match Returned::from_packed(&self.instance, packed) {
            Ok(Returned::Threw(e)) => super::javascript::exception_error(&self.target, e),
            Ok(_) => PgWasmError::Internal("a JavaScript exception without a record".into()),
            Err(err) => PgWasmError::Runtime {
                target: self.target.clone(),
                err,
            },
        }
    }

    #[cold]
    pub(super) fn trapped(&mut self, mut err: RuntimeError) -> PgWasmError {
        if self.javascript {
            // The engine's Wasm frames say nothing about the user's code.
            if let RuntimeError::Trap { backtrace, .. } = &mut err {
                *backtrace = None;
            }
        }
        self.counters.traps += 1;
        self.counters.fuel += self.instance.last_fuel();
        // Subtransactions plv8.subtransaction began and the trap cut short
        // are rolled back before the error goes on, so whoever handles it
        // finds the transaction as the call found it (PL/Python does the
        // same). Nothing to do for other guests.
        self.instance.host_mut().abort_open_subtransactions();
        // The guest's state after a trap is whatever it was mid-call; never
        // reuse it.
        self.epoch = POISONED;
        if let Some(failure) = self.instance.host_mut().take_failure() {
            // A PostgreSQL error caught in a host call, raised again now
            // that the Wasm frames are gone.
            std::panic::resume_unwind(failure);
        }
        if let RuntimeError::Trap {
            kind: TrapKind::Cancelled,
            ..
        } = err
        {
            // Let PostgreSQL report the cancel in its own words
            // (statement timeout, user request, terminating connection).
            pgrx::check_for_interrupts!();
        }
        PgWasmError::Runtime {
            target: self.target.clone(),
            err,
        }
    }
}

impl CallSite {
    /// Keeps a failed call's message for `wasm.stats` (its first line).
    #[cold]
    pub fn note_error(&mut self, err: &PgWasmError) {
        let msg = err.to_string();
        self.last_error = Some(stats::LastError {
            message: msg.lines().next().unwrap_or_default().to_owned(),
            role: self.user,
        });
    }
}

impl Drop for CallSite {
    fn drop(&mut self) {
        // The trigger plan serves the next statement's site.
        if let Some(plan) = self.trigger_plan.take() {
            super::trigger::plans::put(plan);
        }
        stats::flush(
            self.fn_oid,
            self.owner,
            &self.counters,
            self.last_error.as_ref(),
        );
    }
}

impl super::trigger::TriggerSite for CallSite {
    fn take_trigger_plan(&mut self) -> Option<Box<super::trigger::Plan>> {
        self.trigger_plan.take()
    }

    fn put_trigger_plan(&mut self, plan: Box<super::trigger::Plan>) {
        self.trigger_plan = Some(plan);
    }

    /// One guest call with one byte-borne argument and a byte-borne result
    /// (a trigger's event and decision): `f` reads the result in place,
    /// with the function's name for messages; `None` is a NULL result.
    fn call_bytes<T>(
        &mut self,
        input: &[u8],
        f: impl FnOnce(&[u8], &str) -> Result<T>,
    ) -> Result<Option<T>> {
        let ptr = self
            .instance
            .write_bytes(input, true)
            .map_err(|e| self.trapped(e))?;
        self.buf[0] = ValRaw::i32(ptr);
        self.buf[1] = ValRaw::i32(input.len() as i32);
        let fuel = self
            .timed(|i, buf| i.call_after_writes(buf))
            .map_err(|e| self.trapped(e))?;
        self.counters.fuel += fuel;
        self.with_result(|bytes, _, target| f(bytes, target))
    }
}
