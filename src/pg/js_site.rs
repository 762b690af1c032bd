//! A JavaScript function's call site: a [`CallSite`] on the engine's
//! image (same instance lifecycle, limits, stats, result conversion and
//! trigger path as every wasm function), whose instance has compiled the
//! function once, and whose warm call encodes the arguments into one
//! record and calls `pgjs_call`.

use super::call_site::CallSite;
use super::javascript::{self, FunctionImage, JsArg, JsResolved};
use crate::error::{PgWasmError, Result};
use crate::guc;
use crate::marshal::io_cache::Inputs;
use crate::marshal::Ret;
use pg_wasm_runtime::javascript::{self as js, ArgRecord, GuestArgs, Returned};
use pg_wasm_runtime::ValRaw;
use pgrx::pg_sys;

pub struct JsSite {
    pub(super) site: CallSite,
    args: Vec<JsArg>,
    kind: i32,
    record: ArgRecord,
    guest: GuestArgs,
    trigger: bool,
    abi: &'static js::Abi,
}

impl JsSite {
    pub fn prepare(
        fn_oid: pg_sys::Oid,
        epoch: u64,
        def: &super::function::FunctionDef,
        r: &JsResolved,
    ) -> Result<Self> {
        let target = &r.resolved.target;
        let runtime = |err| PgWasmError::Runtime {
            target: target.clone(),
            err,
        };
        let image = r.image.borrow().clone();
        let mut site = match image {
            // The function's own image: it starts loaded; only
            // Math.random (or Python's random) is seeded anew.
            FunctionImage::Ready(module) if guc::FUNCTION_IMAGES.get() => {
                let mut site = CallSite::prepare_on(fn_oid, epoch, def, &r.resolved, &module)?;
                r.abi
                    .seed(&mut site.instance, javascript::next_seed())
                    .map_err(runtime)?;
                site
            }
            _ => Self::load(fn_oid, epoch, def, r)?,
        };
        let trigger = r.resolved.shape.ret_type == pg_sys::TRIGGEROID;
        if site.buf.len() < 3 {
            site.buf.resize(3, ValRaw::i64(0));
        }
        // The trigger path (CallSite's) sets only the pointer and length.
        site.buf[2] = ValRaw::i32(r.kind);
        Ok(JsSite {
            site,
            args: r.args.clone(),
            kind: r.kind,
            record: ArgRecord::default(),
            guest: GuestArgs::default(),
            trigger,
            abi: r.abi,
        })
    }

    /// A call site on an instance of the engine's image, the function
    /// compiled (the backend's first statement calling it) or loaded from
    /// its bytecode; the first instance that only loaded it becomes the
    /// function's image.
    fn load(
        fn_oid: pg_sys::Oid,
        epoch: u64,
        def: &super::function::FunctionDef,
        r: &JsResolved,
    ) -> Result<CallSite> {
        let mut site = CallSite::prepare(fn_oid, epoch, def, &r.resolved)?;
        let target = &r.resolved.target;
        let runtime = |err| PgWasmError::Runtime {
            target: target.clone(),
            err,
        };
        // The function's bytecode: compiled by the backend's first
        // instance of it, loaded by every later one (a fifth of the work).
        let known = r.bytecode.borrow().clone();
        let bytecode = match &known {
            Some(b) => b.clone(),
            None => {
                let compiled = r
                    .abi
                    .compile(&mut site.instance, &r.source, &r.script)
                    .map_err(runtime)?;
                let b: std::rc::Rc<[u8]> = compiled
                    .map_err(|e| javascript::exception_error(target, e))?
                    .into();
                *r.bytecode.borrow_mut() = Some(b.clone());
                b
            }
        };
        let loaded = r
            .abi
            .load(&mut site.instance, &bytecode, javascript::next_seed());
        if let Some(caught) = site.instance.host_mut().take_failure() {
            std::panic::resume_unwind(caught);
        }
        if let Some(e) = loaded.map_err(runtime)? {
            return Err(javascript::exception_error(target, e));
        }
        let first_image = matches!(*r.image.borrow(), FunctionImage::NotYet);
        if known.is_some() && first_image && guc::FUNCTION_IMAGES.get() {
            // This instance did nothing but load the function: its memory
            // is the function's image.
            let made = if javascript::may_make_image() {
                let warmed = r.abi.warm(&mut site.instance);
                if let Some(caught) = site.instance.host_mut().take_failure() {
                    std::panic::resume_unwind(caught);
                }
                warmed.map_err(runtime)?;
                r.resolved
                    .module
                    .with_memory_of(target, &mut site.instance)
                    .unwrap_or_else(|e| {
                        pgrx::debug1!("pg_wasm: no image of {target}: {e}");
                        None
                    })
            } else {
                None
            };
            *r.image.borrow_mut() = match made {
                Some(module) => FunctionImage::Ready(module),
                None => FunctionImage::Unavailable,
            };
        }
        Ok(site)
    }

    #[inline(always)]
    pub fn is_current(&self) -> bool {
        self.site.is_current()
    }

    pub fn note_error(&mut self, err: &PgWasmError) {
        self.site.note_error(err)
    }

    /// Calls the function with the arguments in `fcinfo`.
    ///
    /// # Safety
    /// As [`CallSite::call`].
    pub unsafe fn call(
        &mut self,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Result<Option<pg_sys::Datum>> {
        if self.trigger {
            // SAFETY: forwarded contract: the event goes in as JSON, the
            // decision comes back as JSON, as for a wasm trigger.
            let out = unsafe { self.site.call(fcinfo) };
            self.site
                .instance
                .host_mut()
                .close_forgotten_subtransactions();
            return out;
        }
        let inputs: *mut Inputs = &mut self.site.inputs;
        let out = Inputs::scope(inputs, || {
            // SAFETY: forwarded contract.
            unsafe { self.call_inner(fcinfo) }
        });
        self.site
            .instance
            .host_mut()
            .close_forgotten_subtransactions();
        out
    }

    unsafe fn call_inner(
        &mut self,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Result<Option<pg_sys::Datum>> {
        // SAFETY: fcinfo is valid; nargs arguments are filled in.
        let args = unsafe { (*fcinfo).args.as_slice((*fcinfo).nargs as usize) };
        self.record.clear();
        for (arg, kind) in args.iter().zip(&self.args) {
            if arg.isnull {
                self.record.null();
            } else {
                // SAFETY: the argument has the type `kind` was made for.
                unsafe { kind.encode(arg.value, &mut self.record) };
            }
        }
        let (record, guest, kind, abi) = (&self.record, &mut self.guest, self.kind, self.abi);
        let fuel = self
            .site
            .timed(|i, buf| abi.call(i, guest, record, kind, buf))
            .map_err(|e| self.site.trapped(e))?;
        self.site.counters.fuel += fuel;
        match self.site.shape.result {
            Ret::Bytes(codec) => {
                // SAFETY: forwarded contract.
                unsafe { self.site.bytes_result(fcinfo, codec) }
            }
            Ret::Void => {
                self.check_exception()?;
                Ok(Some(pg_sys::Datum::from(0)))
            }
            Ret::Scalar(s) => {
                let packed = self.site.buf[0].get_i64();
                match Returned::from_packed(&self.site.instance, packed) {
                    Ok(Returned::Bytes { ptr, len }) => {
                        let value = self
                            .site
                            .instance
                            .read_bytes(ptr, len)
                            .ok()
                            .and_then(js::Scalar::decode)
                            .ok_or_else(|| {
                                PgWasmError::Internal("a damaged JavaScript result".into())
                            })?;
                        javascript::scalar_datum(s, value, &self.site.target)
                    }
                    Ok(Returned::Null) => Ok(None),
                    Ok(Returned::Threw(e)) => {
                        Err(javascript::exception_error(&self.site.target, e))
                    }
                    Err(err) => Err(self.site.trapped(err)),
                }
            }
        }
    }

    fn check_exception(&mut self) -> Result<()> {
        let packed = self.site.buf[0].get_i64();
        if packed as u32 == js::LEN_EXCEPTION {
            return Err(self.site.javascript_exception(packed));
        }
        Ok(())
    }
}
