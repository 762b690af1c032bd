//! The call site of a function bound to a component's export (SPEC §10):
//! the export's WIT signature checked against the function's SQL one once,
//! a fresh instance per site (one statement, one transaction, one role),
//! then per row the arguments converted to component values and the
//! result back.

use super::cache;
use super::component;
use super::component::LoadedComponent;
use super::function::FunctionDef;
use super::host::{self, PgHost};
use super::srf;
use super::stats::{self, Counters};
use super::trigger::{self, TriggerSite};
use crate::catalog::ModuleMeta;
use crate::error::{PgWasmError, Result};
use crate::marshal::wit_result::{self, ResultPlan};
use crate::marshal::wit_rows::ArgPlan;
use crate::marshal::{budget, wit};
use pg_wasm_runtime::component::{
    ComponentExport, ComponentExportIndex, ComponentInstance, Func, Val, WitType,
};
use pg_wasm_runtime::{RuntimeError, TrapKind};
use pgrx::pg_sys;
use std::rc::Rc;

pub struct ComponentSite {
    epoch: u64,
    xact: u64,
    user: pg_sys::Oid,
    fn_oid: pg_sys::Oid,
    target: String,
    instance: ComponentInstance<PgHost>,
    func: Func,
    params: Vec<(String, WitType)>,
    arg_types: Vec<pg_sys::Oid>,
    ret_type: pg_sys::Oid,
    /// How arguments are taken apart and results built, made by the first
    /// call (a `record` result's columns are only known from a call).
    arg_plans: Vec<ArgPlan>,
    result_plan: Option<ResultPlan>,
    /// Where the plans' descriptors live: a context of this site's own,
    /// deleted with it (a site made for a nested call lives one call, so
    /// the FmgrInfo's context would collect one set per call).
    plan_memory: pg_sys::MemoryContext,
    retset: bool,
    /// A trigger function: the event in as a string, the decision out.
    trigger: bool,
    trigger_plan: Option<Box<trigger::Plan>>,
    args: Vec<Val>,
    results: Vec<Val>,
    counters: Counters,
    last_error: Option<stats::LastError>,
    /// The function's owner (for the stats table's per-owner share).
    owner: pg_sys::Oid,
}

const POISONED: u64 = u64::MAX;

/// Switches back to the memory context it holds when dropped.
struct SwitchedBack(pg_sys::MemoryContext);

impl Drop for SwitchedBack {
    fn drop(&mut self) {
        // SAFETY: the context that was current before, still alive.
        unsafe { pg_sys::MemoryContextSwitchTo(self.0) };
    }
}

/// The element type of a set-returning export's `list<T>` result.
fn set_element(t: &WitType) -> Option<&WitType> {
    match t {
        WitType::Option(t) | WitType::Result { ok: Some(t), .. } => set_element(t),
        WitType::List(elem) => Some(elem),
        _ => None,
    }
}

/// A trigger function's export takes the event document (SPEC §6) as a
/// `string` and returns the decision as a `string`, an `option<string>`
/// (`none`: go on unchanged) or a `result<string, string>`.
fn check_trigger(export: &ComponentExport) -> std::result::Result<(), String> {
    let decision = |t: &WitType| match t {
        WitType::String => true,
        WitType::Option(t) | WitType::Result { ok: Some(t), .. } => **t == WitType::String,
        _ => false,
    };
    match (export.params.as_slice(), &export.result) {
        ([(_, WitType::String)], Some(r)) if decision(r) => Ok(()),
        _ => Err(
            "a trigger function's export must take the event as a string and return the decision as a string (SPEC §6's JSON documents): func(event: string) -> string"
                .into(),
        ),
    }
}

/// Checks that the SQL signature of `def` is the one SPEC §10 maps
/// `export`'s WIT signature to.
pub fn check_signature(def: &FunctionDef, export: &ComponentExport, target: &str) -> Result<()> {
    let refuse = |why: String| {
        PgWasmError::invalid_function(
            format!("wasm function {} does not fit {target}: {why}", def.name),
            Some(format!("The export's WIT signature is {}.", export.wit())),
        )
    };
    if def.ret_type == pg_sys::TRIGGEROID {
        return check_trigger(export).map_err(refuse);
    }
    if def.arg_types.len() != export.params.len() {
        return Err(refuse(format!(
            "it takes {} arguments, the export {}",
            def.arg_types.len(),
            export.params.len()
        )));
    }
    for (i, ((name, t), &oid)) in export.params.iter().zip(&def.arg_types).enumerate() {
        wit::fits(t, oid).map_err(|why| refuse(format!("argument {} ({name}) {why}", i + 1)))?;
    }
    match (&export.result, def.retset) {
        (None, false) if def.ret_type == pg_sys::VOIDOID => {}
        (None, _) => {
            return Err(refuse(format!(
                "it returns {}, but the export has no result (void)",
                crate::marshal::type_name(def.ret_type)
            )))
        }
        (Some(t), false) => {
            result_fits(def, t).map_err(|why| refuse(format!("the result {why}")))?
        }
        // RETURNS SETOF t: the export returns list<t> (in an option or a
        // result, or not); each element is a row.
        (Some(t), true) => match set_element(t) {
            Some(elem) => {
                result_fits(def, elem).map_err(|why| refuse(format!("each row {why}")))?
            }
            None => {
                return Err(refuse(format!(
                    "it returns SETOF {}, but the export's result {} is not a list",
                    crate::marshal::type_name(def.ret_type),
                    t.wit()
                )))
            }
        },
    }
    Ok(())
}

/// Whether `t` fits the declared result; a `record` result (OUT
/// parameters, RETURNS TABLE) by its columns.
fn result_fits(def: &FunctionDef, t: &WitType) -> std::result::Result<(), String> {
    let unwrapped = match t {
        WitType::Option(t) | WitType::Result { ok: Some(t), .. } => t,
        t => t,
    };
    if def.ret_type != pg_sys::RECORDOID {
        return wit::fits(t, def.ret_type);
    }
    let mut ret = pg_sys::InvalidOid;
    let mut desc: pg_sys::TupleDesc = std::ptr::null_mut();
    // SAFETY: a function OID from pg_proc; the descriptor (built from the
    // OUT parameters) is allocated in the current memory context.
    let kind = unsafe { pg_sys::get_func_result_type(def.oid, &mut ret, &mut desc) };
    if kind != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE || desc.is_null() {
        return Err(format!(
            "is record without OUT parameters, but WIT type {} needs them (or a composite type)",
            t.wit()
        ));
    }
    // SAFETY: a valid descriptor, just built.
    let columns = unsafe { wit::desc_columns(desc) };
    wit::row_fits(unwrapped, &columns, "record")
}

/// A function bound to a component's export, checked: what every call
/// site of it starts from (kept per backend by `fn_cache`).
pub struct Bound {
    pub loaded: Rc<LoadedComponent>,
    /// The module's row when the function was bound (its settings, and its
    /// owner for the check of the function's owner).
    pub meta: ModuleMeta,
    target: String,
    index: ComponentExportIndex,
    params: Vec<(String, WitType)>,
    has_result: bool,
}

/// Finds `module`'s export `export` and checks it against `def`'s SQL
/// signature.
pub fn bind(def: &FunctionDef, module: &str, export: &str) -> Result<Bound> {
    let (loaded, meta) = component::loaded(module)?;
    def.check_module_owner(&meta)?;
    let target = format!("{module}.{export}");
    let found = loaded.info.export(export).ok_or_else(|| {
        PgWasmError::invalid_function(
            format!("wasm component \"{module}\" has no export \"{export}\""),
            Some(format!(
                "Its exports: {}.",
                loaded
                    .info
                    .exports
                    .iter()
                    .map(|e| e.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )
    })?;
    check_signature(def, found, &target)?;
    let index = loaded
        .prepared
        .export_index(found)
        .map_err(|err| PgWasmError::Runtime {
            target: target.clone(),
            err,
        })?;
    Ok(Bound {
        params: found.params.clone(),
        has_result: found.result.is_some(),
        index,
        target,
        meta,
        loaded,
    })
}

impl ComponentSite {
    /// A call site with a fresh instance of the bound component.
    pub fn prepare(
        fn_oid: pg_sys::Oid,
        epoch: u64,
        def: &FunctionDef,
        bound: &Bound,
    ) -> Result<Self> {
        let target = bound.target.clone();
        let runtime = |err| PgWasmError::Runtime {
            target: target.clone(),
            err,
        };
        let pg = PgHost::new(
            target.clone(),
            bound.meta.settings.allow_spi,
            def.read_only(),
        );
        let failure = pg.failure_slot();
        super::reset::configure();
        let mut instance = bound
            .loaded
            .prepared
            .instantiate(cache::engine()?, bound.meta.settings.effective(), pg)
            .map_err(|err| {
                // A PostgreSQL error caught in a host call made while the
                // component started: raised with its own SQLSTATE.
                if let Some(caught) = host::take(&failure) {
                    std::panic::resume_unwind(caught);
                }
                runtime(err)
            })?;
        // What one lift may build, counted wasmtime's way (40 bytes a list
        // element or record field, strings by their bytes): half the
        // result budget, as the `Val`s it builds take up to about twice
        // what is counted (a record field's name and slot) and the
        // conversion that follows is checked against the budget itself.
        instance.set_result_budget(budget::budget() / 2);
        let func = instance.func(&bound.index).map_err(runtime)?;
        Ok(ComponentSite {
            epoch,
            xact: cache::xact(),
            // SAFETY: reads the backend's current user id.
            user: unsafe { pg_sys::GetUserId() },
            fn_oid,
            target,
            instance,
            func,
            params: bound.params.clone(),
            arg_types: def.arg_types.clone(),
            ret_type: def.ret_type,
            arg_plans: Vec::new(),
            result_plan: None,
            plan_memory: std::ptr::null_mut(),
            retset: def.retset,
            trigger: def.ret_type == pg_sys::TRIGGEROID,
            trigger_plan: None,
            args: Vec::with_capacity(bound.params.len()),
            results: if bound.has_result {
                vec![Val::Bool(false)]
            } else {
                vec![]
            },
            counters: Counters::default(),
            last_error: None,
            owner: def.owner,
        })
    }

    pub fn is_current(&self) -> bool {
        // SAFETY: GetUserId only reads a backend global.
        self.epoch == cache::epoch()
            && self.xact == cache::xact()
            && self.user == unsafe { pg_sys::GetUserId() }
    }

    /// # Safety
    /// `fcinfo` must be the call's valid FunctionCallInfo, with the
    /// argument types this site was prepared for.
    pub unsafe fn call(
        &mut self,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Result<Option<pg_sys::Datum>> {
        if self.trigger {
            // SAFETY: a site prepared for a trigger function is only used
            // by trigger calls (fmgr refuses other calls of functions
            // returning trigger).
            return unsafe { trigger::call(self, fcinfo) }.map(Some);
        }
        if self.result_plan.is_none() {
            // SAFETY: fcinfo is this call's.
            unsafe { self.make_plans(fcinfo) };
        }
        // SAFETY: nargs arguments are filled in (fmgr contract).
        let args = unsafe { (*fcinfo).args.as_slice((*fcinfo).nargs as usize) };
        self.args.clear();
        for (i, (((arg, (name, t)), &oid), plan)) in args
            .iter()
            .zip(&self.params)
            .zip(&self.arg_types)
            .zip(&self.arg_plans)
            .enumerate()
        {
            let what = || format!("argument {} ({name}) of {}", i + 1, self.target);
            // SAFETY: the argument's SQL type was checked against t, and
            // the plan made for it.
            self.args
                .push(unsafe { wit::to_val(arg.value, arg.isnull, oid, t, plan, &what)? });
        }
        match self.invoke()? {
            Some(v) if self.retset => {
                let rows = wit_result::set_rows(v, &self.target)?;
                // One row at a time is converted (and the tuplestore
                // spills): the largest row counts.
                let limit = budget::budget();
                let largest = rows
                    .iter()
                    .map(|row| wit_result::conversion_cost(row, None, limit))
                    .max()
                    .unwrap_or(0);
                budget::check_cost(largest, true, &self.target)?;
                // SAFETY: fcinfo is this call's; the rows go into its
                // ReturnSetInfo.
                unsafe { srf::materialize_vals(fcinfo, self.ret_type, rows, &self.target)? };
                Ok(None)
            }
            Some(v) => {
                let plan = self.result_plan.as_ref().expect("made above");
                let cost = wit_result::conversion_cost(&v, Some(plan), budget::budget());
                budget::check_cost(cost, false, &self.target)?;
                wit_result::from_val(v, plan, &self.target)
            }
            None => Ok(Some(pg_sys::Datum::from(0))),
        }
    }

    /// The arguments' and the result's plans, with the row type of a
    /// `record` result, in a memory context that lives as long as the site.
    ///
    /// # Safety
    /// `fcinfo` must be the current call's.
    #[cold]
    unsafe fn make_plans(&mut self, fcinfo: pg_sys::FunctionCallInfo) {
        // SAFETY: per the contract; the context is a child of
        // TopMemoryContext, deleted in Drop (and nowhere else); the types
        // are the function's.
        unsafe {
            if self.plan_memory.is_null() {
                self.plan_memory = pg_sys::AllocSetContextCreateInternal(
                    pg_sys::TopMemoryContext,
                    c"pg_wasm call site plans".as_ptr(),
                    0,
                    1024,
                    8 * 1024,
                );
            }
            // Switched back also when a lookup raises (unwinding): the
            // context may be deleted by a nested site's Drop right after.
            let _back = SwitchedBack(pg_sys::MemoryContextSwitchTo(self.plan_memory));
            self.arg_plans = self
                .arg_types
                .iter()
                .map(|&oid| ArgPlan::new(oid))
                .collect();
            let desc = if self.retset {
                None
            } else {
                srf::record_desc(fcinfo, self.ret_type)
            };
            self.result_plan = Some(ResultPlan::new(self.ret_type, desc));
        }
    }

    /// Calls the export with `self.args`: counts the call and its fuel,
    /// logs what the guest wrote, and returns its result (`None`: the
    /// export has none).
    fn invoke(&mut self) -> Result<Option<Val>> {
        self.counters.calls += 1;
        let outcome = self
            .instance
            .call(&self.func, &self.args, &mut self.results);
        self.log_output();
        self.counters.fuel += outcome.map_err(|err| self.trapped(err))?;
        Ok(self
            .results
            .first_mut()
            .map(|v| std::mem::replace(v, Val::Bool(false))))
    }

    /// What the guest wrote to stdout and stderr: one record per stream
    /// and call, to the server log only (LOG_SERVER_ONLY: never sent to the
    /// client), within the guest's log budget (`guest_log`).
    fn log_output(&mut self) {
        let call = self.instance.calls();
        for (stream, out) in self.instance.take_output() {
            let text = out.text.strip_suffix('\n').unwrap_or(&out.text);
            let message = if text.is_empty() {
                String::new()
            } else {
                format!("pg_wasm: {} {stream}:\n{text}", self.target)
            };
            self.instance
                .host_mut()
                .write_output(call, &message, out.dropped);
        }
    }

    fn trapped(&mut self, err: RuntimeError) -> PgWasmError {
        self.counters.traps += 1;
        self.counters.fuel += self.instance.last_fuel();
        self.epoch = POISONED;
        if let Some(failure) = self.instance.host_mut().take_failure() {
            // A PostgreSQL error caught in a host call (pg:wasm/host.query),
            // raised again now that the Wasm frames are gone.
            std::panic::resume_unwind(failure);
        }
        if let RuntimeError::Trap {
            kind: TrapKind::Cancelled,
            ..
        } = err
        {
            pgrx::check_for_interrupts!();
        }
        let err = match err {
            RuntimeError::Trap {
                kind: TrapKind::ResultTooLarge,
                message,
                backtrace,
            } => RuntimeError::Trap {
                kind: TrapKind::ResultTooLarge,
                message: format!(
                    "{message} ({} MB: half of pg_wasm.max_result_mb)",
                    budget::budget() >> 21
                ),
                backtrace,
            },
            err => err,
        };
        PgWasmError::Runtime {
            target: self.target.clone(),
            err,
        }
    }

    #[cold]
    pub fn note_error(&mut self, err: &PgWasmError) {
        let msg = err.to_string();
        self.last_error = Some(stats::LastError {
            message: msg.lines().next().unwrap_or_default().to_owned(),
            role: self.user,
        });
    }
}

impl Drop for ComponentSite {
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
        // The plans point into plan_memory: gone first.
        self.arg_plans.clear();
        self.result_plan = None;
        if !self.plan_memory.is_null() {
            // SAFETY: the context made in make_plans, deleted only here.
            unsafe { pg_sys::MemoryContextDelete(self.plan_memory) };
        }
    }
}

impl TriggerSite for ComponentSite {
    fn take_trigger_plan(&mut self) -> Option<Box<trigger::Plan>> {
        self.trigger_plan.take()
    }

    fn put_trigger_plan(&mut self, plan: Box<trigger::Plan>) {
        self.trigger_plan = Some(plan);
    }

    fn call_bytes<T>(
        &mut self,
        input: &[u8],
        f: impl FnOnce(&[u8], &str) -> Result<T>,
    ) -> Result<Option<T>> {
        let event = std::str::from_utf8(input).map_err(|_| {
            PgWasmError::Unsupported(format!(
                "the trigger event for {} is not valid UTF-8 (a component's string must be; use a UTF8 database)",
                self.target
            ))
        })?;
        self.args.clear();
        self.args.push(Val::String(event.to_string()));
        match self.invoke()? {
            Some(v) => match decision_text(v, &self.target)? {
                Some(text) => f(text.as_bytes(), &self.target).map(Some),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }
}

/// A trigger export's decision as text: a `string`, or one inside `some` or
/// `ok`; `none` is no decision; an `err` raises P0001 as for any export.
fn decision_text(v: Val, target: &str) -> Result<Option<String>> {
    match v {
        Val::String(s) => Ok(Some(s)),
        Val::Option(Some(v)) | Val::Result(Ok(Some(v))) => decision_text(*v, target),
        Val::Result(Err(e)) => Err(wit_result::raised(e, target)),
        // none, or ok without a value (the signature check allows no other)
        _ => Ok(None),
    }
}
