//! A wasm function's definition (pg_proc) resolved against its module.

use super::body::{self, Body};
use super::cache;
use super::cache::Compiled;
use crate::catalog;
use crate::error::{PgWasmError, Result};
use crate::marshal::{self, Shape};
use pg_wasm_runtime::{describe, export_info, Limits, Module};
use pgrx::pg_catalog::pg_proc::{PgProc, ProVolatile};
use pgrx::pg_sys;
use std::rc::Rc;

/// What pg_proc says about a function of language wasm.
pub struct FunctionDef {
    pub oid: pg_sys::Oid,
    pub name: String,
    pub arg_types: Vec<pg_sys::Oid>,
    pub ret_type: pg_sys::Oid,
    pub retset: bool,
    pub volatility: ProVolatile,
    /// The function's owner: whoever owns it may bind it to a module only
    /// if they may use that module (checked at every preparation).
    pub owner: pg_sys::Oid,
    /// Argument names (`None` for unnamed ones): JavaScript's parameters.
    pub arg_names: Vec<Option<String>>,
    pub body: Body,
}

/// Everything a call site needs, checked.
pub struct Resolved {
    /// "module.export", or "function (inline)" for inline WAT; used in messages.
    pub target: String,
    pub module: Rc<Compiled>,
    pub export: String,
    pub shape: Shape,
    /// The module's row: its settings (`wasm.configure`), and its owner,
    /// whom the function's owner must be allowed to use (checked again at
    /// every preparation: a role's memberships change without touching
    /// pg_proc); `None` for inline bodies.
    pub module_meta: Option<catalog::ModuleMeta>,
    /// The JavaScript or Python engine runs it: a result may be an
    /// exception.
    pub javascript: bool,
}

impl Resolved {
    /// The module's settings; an inline body has none of its own, and
    /// JavaScript's come from `pg_wasm.javascript_sql`.
    pub fn settings(&self) -> catalog::Settings {
        if self.javascript {
            // Read when each site is made: a superuser's SET applies at once.
            return super::javascript::settings(&self.target);
        }
        self.module_meta
            .as_ref()
            .map(|m| m.settings)
            .unwrap_or_default()
    }

    /// The limits of a new instance: the module's settings within the
    /// session's, which may have changed since the function was resolved.
    pub fn limits(&self) -> Limits {
        self.settings().effective()
    }
}

impl FunctionDef {
    pub fn load(oid: pg_sys::Oid) -> Result<Self> {
        let proc = PgProc::new(oid)
            .ok_or_else(|| PgWasmError::Internal(format!("function {oid:?} not found")))?;
        let body = if super::javascript::is_javascript(proc.prolang()) {
            Body::JavaScript(proc.prosrc())
        } else if super::python::is_python(proc.prolang()) {
            Body::Python(proc.prosrc())
        } else {
            body::parse(&proc.prosrc())?
        };
        Ok(FunctionDef {
            oid,
            name: function_name(oid),
            arg_types: proc.proargtypes(),
            ret_type: proc.prorettype(),
            retset: proc.proretset(),
            volatility: proc.provolatile(),
            owner: proc.proowner(),
            arg_names: input_names(&proc),
            body,
        })
    }

    /// STABLE and IMMUTABLE functions run SQL read-only (SPEC §8).
    pub fn read_only(&self) -> bool {
        self.volatility != ProVolatile::Volatile
    }

    pub fn signature(&self) -> String {
        let args: Vec<String> = self
            .arg_types
            .iter()
            .map(|&t| marshal::type_name(t))
            .collect();
        format!("{}({})", self.name, args.join(", "))
    }

    /// The checks that protect other roles, which hold even when the
    /// validator's body checks are off (`check_function_bodies = off`, as
    /// during a restore, when the module may not be loaded yet): the owner
    /// of a function may bind it only to a module they own.
    pub fn check_module_owner(&self, meta: &catalog::ModuleMeta) -> Result<()> {
        catalog::check_function_owner(meta, self.owner, || self.signature())
    }

    /// The validator's check when `check_function_bodies` is off: only what
    /// protects someone else, and only if the module exists.
    pub fn check_without_body(&self) -> Result<()> {
        if let Body::Export { module, .. } = &self.body {
            if let Some(meta) = catalog::find(module)? {
                self.check_module_owner(&meta)?;
            }
        }
        Ok(())
    }

    /// Finds the module and export and checks that the signatures fit and
    /// that the function's owner may use the module — at CREATE FUNCTION
    /// and again whenever a call site is prepared, so a function created
    /// with the validator off cannot reach someone else's module.
    /// `as_creator` words a missing module as a definition error.
    pub fn resolve(&self, as_creator: bool) -> Result<Resolved> {
        if self.ret_type == pg_sys::EVENT_TRIGGEROID {
            return Err(PgWasmError::Unsupported(format!(
                "wasm function {}: event trigger functions are not supported",
                self.signature()
            )));
        }
        let (label, target, module, export, module_meta) = match &self.body {
            Body::Export { module, export } => {
                let cached = match cache::module(module) {
                    // A Citus worker added after the module was loaded.
                    Err(PgWasmError::UnknownModule(_))
                        if !as_creator && crate::pg::citus::catch_up_on_miss(module)? =>
                    {
                        cache::module(module)
                    }
                    found => found,
                }
                .map_err(|e| match e {
                    PgWasmError::UnknownModule(m) if as_creator => PgWasmError::invalid_function(
                        format!("wasm module \"{m}\" does not exist"),
                        Some(format!(
                            "function {} refers to \"{m}.{export}\"",
                            self.signature()
                        )),
                    ),
                    other => other,
                })?;
                self.check_module_owner(&cached.meta)?;
                (
                    module.clone(),
                    format!("{module}.{export}"),
                    cached.module.clone(),
                    export.clone(),
                    Some(cached.meta.clone()),
                )
            }
            Body::InlineWat(wat) => {
                let target = format!("{} (inline)", self.name);
                let module = cache::inline_module(&target, wat)?;
                let export = inline_export(&module.module, &self.name).ok_or_else(|| {
                    PgWasmError::invalid_function(
                        format!(
                            "inline WebAssembly of function {} must export a function named \"{}\" or exactly one function besides pg_wasm_alloc and pg_wasm_free",
                            self.signature(),
                            self.name
                        ),
                        None,
                    )
                })?;
                (target.clone(), target, module, export, None)
            }
            Body::JavaScript(_) | Body::Python(_) => {
                return Err(PgWasmError::Internal(format!(
                    "function {} is JavaScript or Python, not a wasm export",
                    self.signature()
                )))
            }
        };
        // One export looked up, not the whole module described: this runs
        // once per statement, and a module may export thousands.
        let func = export_info(&module.module, &export)
            .filter(|e| e.kind == "func")
            .ok_or_else(|| {
                PgWasmError::invalid_function(
                    format!("wasm module \"{label}\" has no exported function \"{export}\""),
                    Some(format!(
                        "Exported functions: {}.",
                        exported_functions(&describe(&module.module)).join(", ")
                    )),
                )
            })?;
        let sig = func.sig.as_ref().ok_or_else(|| {
            PgWasmError::invalid_function(
                format!("wasm export \"{target}\" uses Wasm types pg_wasm cannot pass"),
                Some(format!(
                    "({}) -> ({})",
                    func.params.join(", "),
                    func.results.join(", ")
                )),
            )
        })?;
        let shape = if self.ret_type == pg_sys::TRIGGEROID {
            marshal::trigger_shape(sig)
        } else {
            marshal::shape(&self.arg_types, self.ret_type, self.retset, sig)
        }
        .map_err(|detail| {
            PgWasmError::invalid_function(
                format!(
                    "wasm function {} does not match the signature of \"{target}\"",
                    self.signature()
                ),
                Some(detail),
            )
        })?;
        if shape.uses_memory() && !has_memory_abi(&module.module) {
            return Err(PgWasmError::invalid_function(
                format!(
                    "wasm function {} passes text, bytea or JSON, but module \"{label}\" does not export \"memory\" and \"pg_wasm_alloc\"",
                    self.signature()
                ),
                Some(
                    "Such values travel through guest memory: export the linear memory as \"memory\" and an allocator (func $pg_wasm_alloc (param i32) (result i32)); see docs/abi.md."
                        .into(),
                ),
            ));
        }
        Ok(Resolved {
            target,
            module,
            export,
            shape,
            module_meta,
            javascript: false,
        })
    }
}

/// The names of the input arguments (proargnames lists OUT and TABLE
/// columns too), one per argument, `None` for unnamed ones.
fn input_names(proc: &PgProc) -> Vec<Option<String>> {
    use pgrx::pg_catalog::pg_proc::ProArgMode;
    let names = proc.proargnames();
    let modes = proc.proargmodes();
    let inputs: Vec<Option<String>> = if modes.is_empty() {
        names
    } else {
        names
            .into_iter()
            .zip(modes)
            .filter(|(_, m)| matches!(m, ProArgMode::In | ProArgMode::InOut | ProArgMode::Variadic))
            .map(|(n, _)| n)
            .collect()
    };
    (0..proc.pronargs())
        .map(|i| inputs.get(i).cloned().flatten().filter(|n| !n.is_empty()))
        .collect()
}

fn has_memory_abi(module: &Module) -> bool {
    export_info(module, "memory").is_some_and(|e| e.kind == "memory")
        && export_info(module, "pg_wasm_alloc")
            .is_some_and(|f| f.kind == "func" && f.params == ["i32"] && f.results == ["i32"])
}

fn exported_functions(info: &pg_wasm_runtime::ModuleInfo) -> Vec<String> {
    let names: Vec<String> = info
        .exports
        .iter()
        .filter(|e| e.kind == "func")
        .map(|e| e.name.clone())
        .collect();
    if names.is_empty() {
        vec!["none".into()]
    } else {
        names
    }
}

/// An inline module's entry point: the export named like the SQL function,
/// or its only exported function (not counting pg_wasm_alloc/pg_wasm_free).
fn inline_export(module: &Module, function_name: &str) -> Option<String> {
    let info = describe(module);
    if info.export_func(function_name).is_some() {
        return Some(function_name.to_string());
    }
    // The memory ABI's pg_wasm_alloc / pg_wasm_free are plumbing, not
    // candidates.
    let mut funcs = info
        .exports
        .iter()
        .filter(|e| e.kind == "func" && !e.name.starts_with("pg_wasm_"));
    match (funcs.next(), funcs.next()) {
        (Some(only), None) => Some(only.name.clone()),
        _ => None,
    }
}

fn function_name(oid: pg_sys::Oid) -> String {
    // SAFETY: get_func_name returns NULL or a palloc'd C string.
    unsafe {
        let p = pg_sys::get_func_name(oid);
        if p.is_null() {
            format!("{oid:?}")
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}
