//! `LANGUAGE javascript` (SPEC §15), the glue: which functions are
//! JavaScript, how one is resolved (the engine's image, the source its
//! body becomes, how its values cross), the validator's syntax check, DO
//! blocks, and JavaScript exceptions as errors. The engine's host side is
//! `pg_wasm_runtime::javascript`; calls go through [`super::js_site`].

use super::cache;
use super::function::{FunctionDef, Resolved};
use super::host::PgHost;
use crate::catalog;
use crate::error::{PgWasmError, Result};
use crate::guc;
use crate::marshal::codec::Codec;
use crate::marshal::{self, Arg, Ret, Scalar, Shape};
use pg_wasm_runtime::javascript::{self as js, ArgRecord, Exception, ResultKind};
use pg_wasm_runtime::Instance;
use pgrx::pg_sys;

/// Milliseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MS: f64 = 946_684_800_000.0;

/// Whether `prolang` is `javascript` (the language may not exist).
pub fn is_javascript(prolang: pg_sys::Oid) -> bool {
    // SAFETY: a syscache lookup by name; missing_ok.
    let oid = unsafe { pg_sys::get_language_oid(c"javascript".as_ptr(), true) };
    oid != pg_sys::InvalidOid && oid == prolang
}

/// How one argument becomes a JavaScript value (plv8's conversions).
#[derive(Clone, Copy, Debug)]
pub enum JsArg {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// A string (text, varchar, uuid, and every type without a closer
    /// JavaScript value, in its text form).
    Text(Codec),
    /// json, jsonb, composites, records and arrays: parsed JSON.
    Json(Codec),
    Bytea,
    /// numeric: a Number.
    Number(Codec),
    Date,
    Timestamp,
}

impl JsArg {
    pub fn for_arg(arg: Arg, typid: pg_sys::Oid) -> JsArg {
        match arg {
            Arg::Scalar(s) => match s {
                Scalar::Bool => JsArg::Bool,
                Scalar::Int2 => JsArg::Int2,
                Scalar::Int4 => JsArg::Int4,
                Scalar::Int8 => JsArg::Int8,
                Scalar::Float4 => JsArg::Float4,
                Scalar::Float8 => JsArg::Float8,
            },
            Arg::Bytes(codec) => match codec {
                Codec::Bytea => JsArg::Bytea,
                Codec::Json { .. } => JsArg::Json(codec),
                Codec::Text { typid } if typid == pg_sys::JSONOID => JsArg::Json(codec),
                Codec::Text { .. } => JsArg::Text(codec),
                Codec::Io { .. } => match typid {
                    pg_sys::JSONBOID => JsArg::Json(codec),
                    pg_sys::NUMERICOID => JsArg::Number(codec),
                    pg_sys::DATEOID => JsArg::Date,
                    pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID => JsArg::Timestamp,
                    _ => JsArg::Text(codec),
                },
            },
        }
    }

    /// Appends the (non-NULL) value `d` to `rec`.
    ///
    /// # Safety
    /// `d` must be a valid datum of the type this was made for.
    #[inline]
    pub unsafe fn encode(self, d: pg_sys::Datum, rec: &mut ArgRecord) {
        let raw = d.value() as u64;
        match self {
            JsArg::Bool => rec.bool(raw & 0xff != 0),
            JsArg::Int2 => rec.int32(raw as i16 as i32),
            JsArg::Int4 => rec.int32(raw as i32),
            JsArg::Int8 => rec.int64(raw as i64),
            JsArg::Float4 => rec.float64(f32::from_bits(raw as u32) as f64),
            JsArg::Float8 => rec.float64(f64::from_bits(raw)),
            // SAFETY (all three): forwarded contract.
            JsArg::Text(c) => rec.string(unsafe { c.arg_bytes(d) }),
            JsArg::Json(c) => rec.json(unsafe { c.arg_bytes(d) }),
            JsArg::Number(c) => rec.number_text(unsafe { c.arg_bytes(d) }),
            JsArg::Bytea => rec.bytes(unsafe { Codec::Bytea.arg_bytes(d) }),
            JsArg::Date => {
                let days = raw as i32;
                let ms = match days {
                    i32::MIN => f64::NEG_INFINITY,
                    i32::MAX => f64::INFINITY,
                    d => d as f64 * 86_400_000.0 + PG_EPOCH_MS,
                };
                rec.date(ms)
            }
            JsArg::Timestamp => {
                let micros = raw as i64;
                let ms = match micros {
                    i64::MIN => f64::NEG_INFINITY,
                    i64::MAX => f64::INFINITY,
                    us => (us as f64 / 1000.0).floor() + PG_EPOCH_MS,
                };
                rec.date(ms)
            }
        }
    }
}

/// What a JavaScript function's call site needs, worked out once per
/// backend (`fn_cache`).
pub struct JsResolved {
    /// The engine, bound to `pgjs_call`, with the function's shape.
    pub resolved: Resolved,
    /// The function expression the body becomes, and its name in stacks.
    pub source: String,
    pub script: String,
    pub args: Vec<JsArg>,
    /// `pgjs_call`'s result kind (with `js::SET` or `js::TRIGGER`).
    pub kind: i32,
    /// The function's bytecode once an instance compiled it: later
    /// instances in this backend load it instead of parsing the source.
    pub bytecode: std::cell::RefCell<Option<std::rc::Rc<[u8]>>>,
    /// The engine's entry points (JavaScript's or Python's).
    pub abi: &'static js::Abi,
    /// The engine's image with this function loaded, once made.
    pub image: std::cell::RefCell<FunctionImage>,
}

/// A function's own image of the engine ([`pg_wasm_runtime::function_image`]).
#[derive(Clone, Default)]
pub enum FunctionImage {
    /// Not made yet: made from the first instance that only loaded the
    /// function's bytecode (the backend's second statement calling it).
    #[default]
    NotYet,
    Ready(std::rc::Rc<super::cache::Compiled>),
    /// Could not be made (memory grew while loading, or this backend has
    /// made [`MAX_IMAGES`]): statements load the function.
    Unavailable,
}

/// Function images a backend makes at most (each keeps the pages loading
/// its function wrote, tens to hundreds of kB, in a memfd).
pub const MAX_IMAGES: usize = 64;

thread_local! {
    static IMAGES_MADE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one more image made in this backend; false past [`MAX_IMAGES`].
pub fn may_make_image() -> bool {
    IMAGES_MADE.with(|n| {
        let made = n.get();
        n.set(made + 1);
        made < MAX_IMAGES
    })
}

pub(super) fn result_kind(shape: &Shape) -> i32 {
    let base = match shape.result {
        Ret::Void => ResultKind::Void,
        Ret::Scalar(Scalar::Bool) => ResultKind::Bool,
        Ret::Scalar(Scalar::Float4 | Scalar::Float8) => ResultKind::Float,
        Ret::Scalar(_) => ResultKind::Integer,
        Ret::Bytes(Codec::Bytea) => ResultKind::Bytes,
        Ret::Bytes(Codec::Json { .. }) => ResultKind::Json,
        Ret::Bytes(Codec::Text { typid }) if typid == pg_sys::JSONOID => ResultKind::Json,
        Ret::Bytes(Codec::Io { typid, .. }) if typid == pg_sys::JSONBOID => ResultKind::Json,
        Ret::Bytes(_) => ResultKind::Text,
    };
    base as i32 | if shape.set { js::SET } else { 0 }
}

/// The SQL access JavaScript (plv8.execute) or Python (plpy.execute) gets
/// for the function `target` names, unless a superuser turned it off.
pub fn settings(target: &str) -> catalog::Settings {
    let allowed = if target.ends_with(" (python)") {
        guc::PYTHON_SQL.get()
    } else {
        guc::JAVASCRIPT_SQL.get()
    };
    catalog::Settings {
        allow_spi: allowed,
        ..Default::default()
    }
}

/// The source a body becomes and the name given with it to the engine's
/// compile, from the function's name, its argument names, whether it is a
/// trigger, and the body.
pub type SourceFn = fn(&str, &[Option<String>], bool, &str) -> (String, String);

/// What resolving a function of one of pg_wasm's interpreted languages
/// needs to know of the language.
pub struct Language {
    /// Its SQL name, as messages and call-site targets use it.
    pub name: &'static str,
    /// How an argument of a SQL type becomes a value of the language.
    pub arg: fn(Arg, pg_sys::Oid) -> JsArg,
    /// The engine, compiled once per cluster.
    pub engine: fn() -> Result<std::rc::Rc<cache::Compiled>>,
    pub abi: &'static js::Abi,
    pub source: SourceFn,
}

/// `LANGUAGE javascript`.
pub const JAVASCRIPT: Language = Language {
    name: "javascript",
    arg: JsArg::for_arg,
    engine: cache::javascript_engine,
    abi: &js::ABI,
    source: |name, params, trigger, body| {
        (
            js::function_source(name, params, trigger, body),
            js::script_name(name),
        )
    },
};

/// Resolves a JavaScript function: its types, its source, the engine.
pub fn resolve(def: &FunctionDef, body: &str) -> Result<JsResolved> {
    resolve_in(&JAVASCRIPT, def, body)
}

/// Resolves a function of `lang`: its types, its source, the engine.
pub fn resolve_in(lang: &Language, def: &FunctionDef, body: &str) -> Result<JsResolved> {
    if def.ret_type == pg_sys::EVENT_TRIGGEROID {
        return Err(PgWasmError::Unsupported(format!(
            "{} function {}: event trigger functions are not supported",
            lang.name,
            def.signature()
        )));
    }
    let trigger = def.ret_type == pg_sys::TRIGGEROID;
    let shape = if trigger {
        marshal::trigger_sql_shape()
    } else {
        marshal::sql_shape(&def.arg_types, def.ret_type, def.retset).map_err(|detail| {
            PgWasmError::invalid_function(
                format!(
                    "{} function {} cannot be called",
                    lang.name,
                    def.signature()
                ),
                Some(detail),
            )
        })?
    };
    let args = if trigger {
        Vec::new()
    } else {
        shape
            .args
            .iter()
            .zip(&def.arg_types)
            .map(|(&a, &t)| (lang.arg)(a, t))
            .collect()
    };
    let kind = if trigger {
        js::TRIGGER | ResultKind::Json as i32
    } else {
        result_kind(&shape)
    };
    let (source, script) = (lang.source)(&def.name, &def.arg_names, trigger, body);
    Ok(JsResolved {
        resolved: Resolved {
            target: format!("{} ({})", def.name, lang.name),
            module: (lang.engine)()?,
            export: lang.abi.call.to_string(),
            shape,
            module_meta: None,
            javascript: true,
        },
        source,
        script,
        args,
        kind,
        image: Default::default(),
        bytecode: Default::default(),
        abi: lang.abi,
    })
}

/// A JavaScript exception as ERROR P0001: its text as the message, and
/// which function threw and the JavaScript stack in DETAIL; an uncaught SQL
/// error from plv8.execute keeps its SQLSTATE, DETAIL and HINT (a Python one:
/// [`super::python::exception_error`]).
pub fn exception_error(target: &str, e: Exception) -> PgWasmError {
    if target.ends_with(" (python)") {
        return super::python::exception_error(target, e);
    }
    let function = target.trim_end_matches(" (javascript)");
    // A SQL error's own DETAIL (plv8.execute's, uncaught) comes first.
    let mut detail = e.detail;
    if !detail.is_empty() {
        detail.push('\n');
    }
    detail.push_str(&format!("JavaScript function {function}"));
    // The prelude's own frames (plv8.elog throwing, say) are not the user's.
    let stack: Vec<&str> = e
        .stack
        .lines()
        .filter(|l| {
            let l = l.trim();
            !l.contains("<pg_wasm prelude>") && !l.ends_with("(native)")
        })
        .collect();
    if !stack.is_empty() {
        detail.push_str(":\n");
        detail.push_str(&stack.join("\n"));
    }
    let hint = Some(e.hint).filter(|h| !h.is_empty());
    if let Some(sqlstate) = crate::error::sqlstate_code(&e.sqlstate) {
        return PgWasmError::SqlError {
            sqlstate,
            message: e.message,
            detail,
            hint,
        };
    }
    PgWasmError::Raised {
        message: e.message,
        detail,
        hint,
    }
}

/// A new instance of the engine for `r` with the function compiled and
/// loaded, `Math.random` reseeded (`check_only`: compiled only, for the
/// validator and `wasm.load_javascript`).
pub fn instantiate(
    r: &Resolved,
    abi: &js::Abi,
    source: &str,
    script: &str,
    host: PgHost,
    check_only: bool,
) -> Result<Instance<PgHost>> {
    let runtime = |err| PgWasmError::Runtime {
        target: r.target.clone(),
        err,
    };
    let prepared = r.module.prepared(&r.target)?;
    let mut inst = Instance::from_prepared(cache::engine()?, prepared, &r.export, r.limits(), host)
        .map_err(runtime)?;
    let bytecode = abi
        .compile(&mut inst, source, script)
        .map_err(runtime)?
        .map_err(|e| compile_error(&r.target, e))?;
    if !check_only {
        if let Some(e) = abi
            .load(&mut inst, &bytecode, next_seed())
            .map_err(runtime)?
        {
            return Err(compile_error(&r.target, e));
        }
    }
    Ok(inst)
}

thread_local! {
    static SEEDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A new seed for an instance's Math.random: a stream of the backend's own,
/// started from the kernel's randomness once (no system call per
/// statement), so that no two instances, backends or runs share a sequence.
pub fn next_seed() -> i64 {
    SEEDS.with(|s| {
        let mut state = s.get();
        if state == 0 {
            let mut bytes = [0u8; 8];
            // SAFETY: getrandom writes at most `bytes.len()` bytes.
            let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
            state = if got == bytes.len() as isize {
                u64::from_le_bytes(bytes)
            } else {
                // No randomness: the process and the time, still per backend.
                std::process::id() as u64
                    ^ std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos() as u64)
                        .unwrap_or(0)
            } | 1;
        }
        // splitmix64's increment; pg_js.c mixes the seed itself.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(state);
        state as i64
    })
}

/// A body that does not compile: 42P13 with the SyntaxError and its line.
fn compile_error(target: &str, e: Exception) -> PgWasmError {
    let (function, language) = match target.strip_suffix(" (python)") {
        Some(f) => (f, "python"),
        None => (target.trim_end_matches(" (javascript)"), "javascript"),
    };
    PgWasmError::invalid_function(
        format!("{language} function {function}: {}", e.message),
        Some(if e.stack.is_empty() {
            "The function body does not compile.".to_string()
        } else {
            format!("at {}", e.stack.trim().trim_start_matches("at "))
        }),
    )
}

/// The validator's check (CREATE FUNCTION): the types can cross and the
/// body compiles.
pub fn validate(fn_oid: pg_sys::Oid, check_bodies: bool) -> Result<()> {
    let def = FunctionDef::load(fn_oid)?;
    let super::body::Body::JavaScript(body) = &def.body else {
        return Err(PgWasmError::Internal(format!(
            "function {} is not JavaScript",
            def.signature()
        )));
    };
    if !check_bodies {
        return Ok(());
    }
    let r = resolve(&def, body)?;
    let host = PgHost::new(r.resolved.target.clone(), false, true);
    instantiate(&r.resolved, r.abi, &r.source, &r.script, host, true).map(|_| ())
}

/// The engine as a function without arguments or result (a DO block, a
/// library's load-time check).
pub(super) fn no_arguments(
    target: String,
    module: std::rc::Rc<cache::Compiled>,
    abi: &js::Abi,
) -> Result<Resolved> {
    Ok(Resolved {
        target,
        module,
        export: abi.call.to_string(),
        shape: Shape {
            args: Vec::new(),
            result: Ret::Void,
            set: false,
            ret_type: pg_sys::VOIDOID,
            result_weights: None,
        },
        module_meta: None,
        javascript: true,
    })
}

/// `DO $$ ... $$ LANGUAGE javascript`: the block runs once, as a function
/// without arguments, with the session's limits and SQL access.
pub fn run_inline(source_text: &str) -> Result<()> {
    let resolved = no_arguments(
        "DO block (javascript)".to_string(),
        cache::javascript_engine()?,
        &js::ABI,
    )?;
    let source = js::function_source("do_block", &[], false, source_text);
    run_block(&resolved, &js::ABI, &source, "do_block")
}

/// Runs a DO block's function once (either language).
pub(super) fn run_block(
    resolved: &Resolved,
    abi: &js::Abi,
    source: &str,
    script: &str,
) -> Result<()> {
    // SAFETY: reads the current user id.
    let user = unsafe { pg_sys::GetUserId() };
    let host = PgHost::new(
        resolved.target.clone(),
        resolved.settings().allow_spi,
        false,
    )
    .with_library_owner(user);
    let failure = host.failure_slot();
    let raise_caught = |e: PgWasmError| {
        if let Some(caught) = super::host::take(&failure) {
            std::panic::resume_unwind(caught);
        }
        e
    };
    let mut inst = instantiate(resolved, abi, source, script, host, false).map_err(raise_caught)?;
    let mut buf = [pg_wasm_runtime::ValRaw::i64(0); 3];
    let outcome = abi.call(
        &mut inst,
        &mut js::GuestArgs::default(),
        &ArgRecord::default(),
        ResultKind::Void as i32,
        &mut buf,
    );
    if let Some(caught) = inst.host_mut().take_failure() {
        std::panic::resume_unwind(caught);
    }
    if outcome.is_ok() {
        inst.host_mut().close_forgotten_subtransactions();
    } else {
        inst.host_mut().abort_open_subtransactions();
    }
    outcome.map_err(|mut err| {
        // The engine's Wasm frames say nothing about the user's code.
        if let pg_wasm_runtime::RuntimeError::Trap { backtrace, .. } = &mut err {
            *backtrace = None;
        }
        PgWasmError::Runtime {
            target: resolved.target.clone(),
            err,
        }
    })?;
    match js::Returned::from_packed(&inst, buf[0].get_i64()) {
        Ok(js::Returned::Threw(e)) => Err(exception_error(&resolved.target, e)),
        Ok(_) => Ok(()),
        Err(err) => Err(PgWasmError::Runtime {
            target: resolved.target.clone(),
            err,
        }),
    }
}

/// A JavaScript scalar result as the SQL type `s` wants it: numbers are
/// rounded to integers as a float-to-integer cast does, and must fit.
pub fn scalar_datum(s: Scalar, v: js::Scalar, function: &str) -> Result<Option<pg_sys::Datum>> {
    let out_of_range = |what: String| {
        PgWasmError::OutOfRange(format!(
            "{} returned {what}, which is out of range for type {}",
            crate::error::Label(function),
            s.sql_name()
        ))
    };
    let number = match v {
        js::Scalar::Null => return Ok(None),
        js::Scalar::Bool(b) => {
            if s == Scalar::Bool {
                return Ok(Some(pg_sys::Datum::from(b)));
            }
            b as i64 as f64
        }
        js::Scalar::BigInt(i) => {
            return match s {
                Scalar::Int8 => Ok(Some(pg_sys::Datum::from(i))),
                Scalar::Int4 => i32::try_from(i)
                    .map(|v| Some(pg_sys::Datum::from(v)))
                    .map_err(|_| out_of_range(i.to_string())),
                Scalar::Int2 => i16::try_from(i)
                    .map(|v| Some(pg_sys::Datum::from(v)))
                    .map_err(|_| out_of_range(i.to_string())),
                _ => Ok(Some(float_datum(s, i as f64))),
            }
        }
        js::Scalar::Number(n) => n,
    };
    Ok(Some(match s {
        Scalar::Bool => pg_sys::Datum::from(number != 0.0 && !number.is_nan()),
        Scalar::Float4 | Scalar::Float8 => float_datum(s, number),
        Scalar::Int2 | Scalar::Int4 | Scalar::Int8 => {
            let r = number.round_ties_even();
            let fits = match s {
                Scalar::Int2 => (-32768.0..=32767.0).contains(&r),
                Scalar::Int4 => (-2147483648.0..=2147483647.0).contains(&r),
                _ => (-9.223372036854776e18..9.223372036854776e18).contains(&r),
            };
            if !fits {
                return Err(out_of_range(format!("{number}")));
            }
            match s {
                Scalar::Int2 => pg_sys::Datum::from(r as i16),
                Scalar::Int4 => pg_sys::Datum::from(r as i32),
                _ => pg_sys::Datum::from(r as i64),
            }
        }
    }))
}

fn float_datum(s: Scalar, n: f64) -> pg_sys::Datum {
    if s == Scalar::Float4 {
        pg_sys::Datum::from((n as f32).to_bits())
    } else {
        pg_sys::Datum::from(n.to_bits())
    }
}

/// A library as this backend read it: its owner and source, and its
/// bytecode once an instance compiled it (`None`: no library of that name).
type KnownLibrary = Option<std::rc::Rc<LibraryEntry>>;

pub struct LibraryEntry {
    owner: pg_sys::Oid,
    source: std::rc::Rc<str>,
    bytecode: std::cell::RefCell<Option<std::rc::Rc<[u8]>>>,
}

thread_local! {
    /// Libraries read by this backend, by name, under one relations epoch
    /// (loading, replacing or unloading one invalidates the table's
    /// relcache entry in every backend).
    static LIBRARIES: std::cell::RefCell<(u64, std::collections::HashMap<String, KnownLibrary>)> =
        Default::default();
}

/// `pg.library`'s answer for `name` to a function owned by `owner`: `B`
/// and the bytecode an earlier instance compiled, `S` and the source, `N`
/// (no such library), or `D` and why the function may not load it. Only
/// the owner's own libraries (or those of a role the owner is a member
/// of): a library runs with the caller's rights, so a tenant's library must
/// never run inside another role's function. The bytecode comes from an
/// instance of a function allowed to load the same library, compiled from
/// its source before any of it ran.
pub fn library_answer(name: &str, owner: pg_sys::Oid) -> Vec<u8> {
    match library(name) {
        Ok(None) => b"N".to_vec(),
        Ok(Some(lib)) => {
            // SAFETY: a plain lookup of role memberships (no superuser
            // shortcut, as for modules).
            if !unsafe { pg_sys::is_member_of_role_nosuper(owner, lib.owner) } {
                return format!(
                    "DJavaScript library \"{name}\" belongs to role {}; a function may require only its own owner's libraries",
                    role_name(lib.owner)
                )
                .into_bytes();
            }
            let bytecode = lib.bytecode.borrow();
            let (tag, body): (u8, &[u8]) = match &*bytecode {
                Some(b) => (b'B', b),
                None => (b'S', lib.source.as_bytes()),
            };
            let mut out = Vec::with_capacity(body.len() + 1);
            out.push(tag);
            out.extend_from_slice(body);
            out
        }
        Err(e) => format!("D{e}").into_bytes(),
    }
}

/// Keeps the bytecode an instance compiled from library `name`'s source
/// (the one this backend handed out, under the same relations epoch).
pub fn keep_library_bytecode(name: &str, bytecode: &[u8]) {
    LIBRARIES.with(|l| {
        let l = l.borrow();
        if l.0 != cache::relations_epoch() {
            return;
        }
        if let Some(Some(lib)) = l.1.get(name) {
            let mut b = lib.bytecode.borrow_mut();
            if b.is_none() {
                *b = Some(bytecode.into());
            }
        }
    });
}

fn library(name: &str) -> Result<KnownLibrary> {
    let epoch = cache::relations_epoch();
    let known = LIBRARIES.with(|l| {
        let mut l = l.borrow_mut();
        if l.0 != epoch {
            l.1.clear();
            l.0 = epoch;
        }
        l.1.get(name).cloned()
    });
    if let Some(found) = known {
        return Ok(found);
    }
    let found = crate::catalog::libraries::find(name)?.map(|lib| {
        std::rc::Rc::new(LibraryEntry {
            owner: lib.owner,
            source: lib.source.into(),
            bytecode: Default::default(),
        })
    });
    LIBRARIES.with(|l| {
        let mut l = l.borrow_mut();
        if l.0 == epoch && l.1.len() < 256 {
            l.1.insert(name.to_string(), found.clone());
        }
    });
    Ok(found)
}

/// `wasm.load_javascript`'s check: the source compiles as a CommonJS module
/// (a SyntaxError with its line is 22023).
pub fn check_library(name: &str, source: &str) -> Result<()> {
    let resolved = no_arguments(
        format!("library {name} (javascript)"),
        cache::javascript_engine()?,
        &js::ABI,
    )?;
    let wrapped = js::library_source(source);
    let host = PgHost::new(resolved.target.clone(), false, true);
    match instantiate(&resolved, &js::ABI, &wrapped, name, host, true) {
        Ok(_) => Ok(()),
        Err(PgWasmError::InvalidFunction { message, detail }) => {
            Err(PgWasmError::InvalidParameter(format!(
                "{}{}",
                message.replace("javascript function library ", "JavaScript library "),
                detail.map(|d| format!(" ({d})")).unwrap_or_default()
            )))
        }
        Err(e) => Err(e),
    }
}

fn role_name(role: pg_sys::Oid) -> String {
    // SAFETY: a syscache lookup; noerr returns "" for a missing role.
    unsafe {
        let name = pg_sys::GetUserNameFromId(role, true);
        if name.is_null() {
            format!("{}", role.to_u32())
        } else {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        }
    }
}
