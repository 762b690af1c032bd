//! The host side of `LANGUAGE javascript` (SPEC §15): the engine module
//! (QuickJS-ng built to Wasm by engines/javascript/build.sh, embedded
//! here), its pre-initialized image, the source a function body becomes,
//! and the values that cross (see [`values`]).
//!
//! One instance of the engine runs one SQL function: the call site defines
//! the function once (`pgjs_compile` then `pgjs_load`) and calls `pgjs_call` per row, whose
//! result has the core ABI's form (`ptr << 32 | len`), so the extension's
//! usual machinery (instances, limits, stats, result conversion) applies.

mod snapshot;
mod values;

pub use values::{ArgRecord, Exception, ResultKind, Scalar, LEN_EXCEPTION, LEN_NULL, SET, TRIGGER};

use crate::error::{classify, RuntimeError};
use crate::host::Host;
use crate::instance::Instance;
use wasmtime::{Caller, Engine, Extern, Linker, Module, Store, ValRaw};

/// The engine as built (a reactor: `_initialize`, then `pgjs_init`).
pub const ENGINE_WASM: &[u8] = include_bytes!(env!("PG_WASM_JS_ENGINE"));
/// [`ENGINE_WASM`]'s SHA-256, in hex (computed when the crate is built).
pub const ENGINE_SHA256: &str = env!("PG_WASM_JS_ENGINE_SHA256");

/// The export a JavaScript call site is bound to: `(args_ptr, args_len,
/// kind) -> ptr << 32 | len`.
pub const CALL_EXPORT: &str = "pgjs_call";
/// `(seed i64)`: reseeds `Math.random` (every instance starts from the
/// same image).
pub const SEED_EXPORT: &str = "pgjs_seed";

const WASI: &str = "wasi_snapshot_preview1";
const EBADF: i32 = 8;
const EINVAL: i32 = 28;

/// What wasi-libc needs from WASI: the clock (`Date`), and file functions
/// its printf links but never calls here, which fail with EBADF. Nothing
/// else: the engine can reach no file, socket or process.
pub(crate) fn link_wasi_stubs<T: 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    link_wasi_clock(linker)?;
    linker.func_wrap(WASI, "fd_close", |_: i32| -> i32 { EBADF })?;
    linker.func_wrap(WASI, "fd_fdstat_get", |_: i32, _: i32| -> i32 { EBADF })?;
    linker.func_wrap(WASI, "fd_seek", |_: i32, _: i64, _: i32, _: i32| -> i32 {
        EBADF
    })?;
    linker.func_wrap(WASI, "fd_write", |_: i32, _: i32, _: i32, _: i32| -> i32 {
        EBADF
    })?;
    Ok(())
}

/// WASI's `clock_time_get`: the real time, and one monotonic clock (the
/// ticker's) for the others.
pub(crate) fn link_wasi_clock<T: 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut caller: Caller<'_, T>, clock: i32, _precision: i64, out: i32| -> i32 {
            let nanos = match clock {
                // realtime
                0 => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0),
                // monotonic, process and thread CPU time: one monotonic clock
                1..=3 => crate::ticker::now(),
                _ => return EINVAL,
            };
            let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                return EINVAL;
            };
            match memory.write(&mut caller, out as u32 as usize, &nanos.to_le_bytes()) {
                Ok(()) => 0,
                Err(_) => EINVAL,
            }
        },
    )?;
    Ok(())
}

/// The host API as the engines see it: every core module's, and
/// `pg.execute`, `pg.library`, `pg.subtransaction`, `pg.memo_get`,
/// `pg.memo_put`, `pg.library_compiled` and the cursors'.
pub(crate) const HOST_IMPORTS: [crate::host::ImportSig; 12] = [
    crate::host::IMPORTS[0],
    crate::host::IMPORTS[1],
    crate::host::IMPORTS[2],
    (
        "execute",
        &[
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
        ],
        &[wasmtime::ValType::I64],
    ),
    (
        "library",
        &[wasmtime::ValType::I32, wasmtime::ValType::I32],
        &[wasmtime::ValType::I64],
    ),
    (
        "subtransaction",
        &[wasmtime::ValType::I32],
        &[wasmtime::ValType::I32],
    ),
    (
        "memo_get",
        &[wasmtime::ValType::I32, wasmtime::ValType::I32],
        &[wasmtime::ValType::I64],
    ),
    (
        "memo_put",
        &[
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
        ],
        &[],
    ),
    (
        "library_compiled",
        &[
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
        ],
        &[],
    ),
    (
        "cursor_open",
        &[
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
            wasmtime::ValType::I32,
        ],
        &[wasmtime::ValType::I64],
    ),
    (
        "cursor_fetch",
        &[wasmtime::ValType::I32, wasmtime::ValType::I32],
        &[wasmtime::ValType::I64],
    ),
    ("cursor_close", &[wasmtime::ValType::I32], &[]),
];

/// The WASI functions [`link_wasi_stubs`] defines.
const WASI_STUBS: [&str; 5] = [
    "clock_time_get",
    "fd_close",
    "fd_fdstat_get",
    "fd_seek",
    "fd_write",
];

/// The compiled image, as the artifact store keeps it: mapped only if it
/// imports nothing beyond the host API and [`link_wasi_stubs`].
pub struct CompiledImage(pub Module);

impl crate::artifacts::Artifact for CompiledImage {
    fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        self.0.serialize()
    }

    unsafe fn map(engine: &Engine, path: &std::path::Path) -> Result<Self, String> {
        // SAFETY: forwarded from the caller.
        let m = unsafe { Module::deserialize_file(engine, path) }.map_err(|e| format!("{e:#}"))?;
        for i in m.imports() {
            let ok = match i.module() {
                "pg" => {
                    crate::host::check_import_in(&HOST_IMPORTS, "pg", i.name(), &i.ty()).is_none()
                }
                WASI => WASI_STUBS.contains(&i.name()),
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "the JavaScript engine imports \"{}.{}\", which pg_wasm does not provide",
                    i.module(),
                    i.name()
                ));
            }
        }
        Ok(CompiledImage(m))
    }
}

/// The engine's pre-initialized image: [`ENGINE_WASM`] after `_initialize`
/// and `pgjs_init`, as a module of its own (compile it like any other).
/// Takes one compile of the engine (1–2 s); the extension keeps the result
/// compiled once per cluster.
pub fn image(engine: &Engine) -> Result<Vec<u8>, RuntimeError> {
    let module = Module::new(engine, ENGINE_WASM).map_err(classify)?;
    let mut linker: Linker<()> = Linker::new(engine);
    let fail = |e: wasmtime::Error| RuntimeError::Engine(format!("{e:#}"));
    linker
        .func_wrap("pg", "log", |_: i32, _: i32, _: i32| {})
        .map_err(fail)?;
    for name in ["query", "execute", "cursor_open"] {
        linker
            .func_wrap("pg", name, |_: i32, _: i32, _: i32, _: i32| -> i64 { 0 })
            .map_err(fail)?;
    }
    linker
        .func_wrap("pg", "cursor_fetch", |_: i32, _: i32| -> i64 { 0 })
        .map_err(fail)?;
    linker
        .func_wrap("pg", "cursor_close", |_: i32| {})
        .map_err(fail)?;
    linker
        .func_wrap("pg", "library", |_: i32, _: i32| -> i64 { 0 })
        .map_err(fail)?;
    linker
        .func_wrap("pg", "subtransaction", |_: i32| -> i32 { 1 })
        .map_err(fail)?;
    linker
        .func_wrap(
            "pg",
            "library_compiled",
            |_: i32, _: i32, _: i32, _: i32| {},
        )
        .map_err(fail)?;
    link_wasi_stubs(&mut linker).map_err(fail)?;
    let mut store = Store::new(engine, ());
    // Our own code, run once: no fuel or deadline of a user's call.
    store.set_fuel(u64::MAX).map_err(fail)?;
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = linker.instantiate(&mut store, &module).map_err(classify)?;
    instance
        .get_typed_func::<(), ()>(&mut store, "_initialize")
        .map_err(fail)?
        .call(&mut store, ())
        .map_err(classify)?;
    let status = instance
        .get_typed_func::<(), i32>(&mut store, "pgjs_init")
        .map_err(fail)?
        .call(&mut store, ())
        .map_err(classify)?;
    if status != 0 {
        return Err(RuntimeError::Engine(
            "the JavaScript engine's prelude failed to run".into(),
        ));
    }
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| RuntimeError::Engine("the JavaScript engine has no memory".into()))?;
    snapshot::rewrite(ENGINE_WASM, memory.data(&store))
}

/// A library's source as `require` compiles it: a CommonJS module's
/// function (for the load-time syntax check; keep in step with
/// engines/javascript/pg_js.c, `native_library`).
pub fn library_source(source: &str) -> String {
    format!("(function (module, exports, require) {{{source}\n}})")
}

/// The names a trigger function's body sees, in plv8's order.
pub const TRIGGER_PARAMS: [&str; 10] = [
    "NEW",
    "OLD",
    "TG_NAME",
    "TG_WHEN",
    "TG_LEVEL",
    "TG_OP",
    "TG_RELID",
    "TG_TABLE_NAME",
    "TG_TABLE_SCHEMA",
    "TG_ARGV",
];

const RESERVED: &[&str] = &[
    "arguments",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "eval",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// Whether `s` can name a JavaScript parameter as it is.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !RESERVED.contains(&s)
}

/// A JavaScript name for the SQL function `name` (in stacks).
pub fn script_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !is_identifier(&out) {
        out.insert(0, '_');
    }
    out
}

/// The source a function body becomes: a function expression whose
/// parameters are the SQL argument names (`$1`, `$2`, … for unnamed ones,
/// and as aliases of named ones), or a trigger's `NEW`, `OLD`, `TG_*`. The
/// body starts on line 1, so its line numbers are the ones in stacks.
pub fn function_source(name: &str, params: &[Option<String>], trigger: bool, body: &str) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut aliases = String::new();
    if trigger {
        names.extend(TRIGGER_PARAMS.iter().map(|s| s.to_string()));
    } else {
        for (i, p) in params.iter().enumerate() {
            match p {
                Some(n) if is_identifier(n) && !names.contains(n) => {
                    names.push(n.clone());
                    aliases.push_str(&format!("var ${} = {n}; ", i + 1));
                }
                _ => names.push(format!("${}", i + 1)),
            }
        }
    }
    format!(
        "(function {}({}) {{{aliases}{body}\n}})",
        script_name(name),
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        let s = function_source(
            "add",
            &[Some("a".into()), None, Some("new".into())],
            false,
            "return a + $2;",
        );
        assert_eq!(
            s,
            "(function add(a, $2, $3) {var $1 = a; return a + $2;\n})"
        );
        assert!(function_source("t", &[], true, "return NEW;")
            .starts_with("(function t(NEW, OLD, TG_NAME"));
        assert_eq!(script_name("9lives"), "_9lives");
        assert_eq!(script_name("my-fn"), "my_fn");
    }
}

/// What `pgjs_call`, `pgjs_compile` or `pgjs_load` returned.
#[derive(Debug, PartialEq)]
pub enum Returned {
    /// NULL (or nothing, for `pgjs_load`: success).
    Null,
    /// `len` bytes at `ptr` in the instance's memory: the result, read in
    /// place and then given back with [`Instance::free`].
    Bytes { ptr: i32, len: i32 },
    /// The function threw.
    Threw(Exception),
}

impl Returned {
    /// Decodes `ptr << 32 | len`, reading an exception record at once.
    pub fn from_packed<H: Host>(inst: &Instance<H>, packed: i64) -> Result<Returned, RuntimeError> {
        let (ptr, len) = ((packed as u64 >> 32) as u32 as i32, packed as u32);
        Ok(match len {
            LEN_NULL => Returned::Null,
            LEN_EXCEPTION => {
                if ptr == 0 {
                    // No room left even for the record.
                    Returned::Threw(Exception::decode(&[]))
                } else {
                    // Five length-prefixed fields (Exception::decode).
                    let mut end = ptr;
                    for _ in 0..5 {
                        let head = inst.read_bytes(end, 4)?;
                        let len = u32::from_le_bytes(head.try_into().unwrap()) as i32;
                        end = end.wrapping_add(4).wrapping_add(len);
                    }
                    let all = inst.read_bytes(ptr, end.wrapping_sub(ptr))?;
                    Returned::Threw(Exception::decode(all))
                }
            }
            0 if ptr == 0 => Returned::Null,
            len => Returned::Bytes {
                ptr,
                len: len as i32,
            },
        })
    }
}

/// Where an instance's argument records go: a buffer in its memory
/// (`pgjs_args`), asked for once and again only when a record outgrows it.
/// Belongs to one instance.
#[derive(Debug, Default)]
pub struct GuestArgs {
    ptr: i32,
    cap: usize,
}

/// The entry points of an interpreter engine (JavaScript's `pgjs_*`,
/// Python's `pgpy_*`): the same ABI, so one host side serves both.
#[derive(Debug)]
pub struct Abi {
    /// What the engine is called in errors.
    pub language: &'static str,
    pub compile: &'static str,
    pub load: &'static str,
    pub call: &'static str,
    pub args: &'static str,
    pub seed: &'static str,
    /// Run once before a function's image is taken ([`Abi::warm`]).
    pub warm: Option<&'static str>,
}

/// The JavaScript engine's entry points.
pub const ABI: Abi = Abi {
    language: "JavaScript",
    compile: "pgjs_compile",
    load: "pgjs_load",
    call: CALL_EXPORT,
    args: "pgjs_args",
    seed: SEED_EXPORT,
    warm: None,
};

impl Abi {
    /// In an instance that has just loaded a function, before its memory
    /// becomes the function's image (`Prepared::with_memory_of`): work the
    /// function's first call would do in every statement, done once
    /// (Python: its regular expressions compiled into re's cache). Nothing
    /// a call can observe changes but its time.
    pub fn warm<H: Host>(&self, inst: &mut Instance<H>) -> Result<(), RuntimeError> {
        match self.warm {
            Some(name) => inst.call_export::<(), ()>(name, ()),
            None => Ok(()),
        }
    }

    /// Compiles `source` without running it and returns its bytecode, for
    /// [`Abi::load`] in other instances of the same function (in this
    /// process: the engine's bytecode format is its own); `Err(Ok(e))` is
    /// an exception of the language. `name` names the source in stacks
    /// (Python: the function's name, then its arguments', a line each).
    pub fn compile<H: Host>(
        &self,
        inst: &mut Instance<H>,
        source: &str,
        name: &str,
    ) -> Result<Result<Vec<u8>, Exception>, RuntimeError> {
        let src = inst.write_bytes(source.as_bytes(), true)?;
        let file = inst.write_bytes(name.as_bytes(), false)?;
        let packed: i64 = inst.call_export(
            self.compile,
            (src, source.len() as i32, file, name.len() as i32),
        )?;
        match Returned::from_packed(inst, packed)? {
            Returned::Threw(e) => Ok(Err(e)),
            Returned::Bytes { ptr, len } => {
                let bytecode = inst.read_bytes(ptr, len)?.to_vec();
                inst.free(ptr, len)?;
                Ok(Ok(bytecode))
            }
            Returned::Null => Err(RuntimeError::Engine(format!(
                "the {} engine wrote no bytecode",
                self.language
            ))),
        }
    }

    /// Makes the instance's function from [`Abi::compile`]'s bytecode, and
    /// reseeds its random numbers with `seed`.
    pub fn load<H: Host>(
        &self,
        inst: &mut Instance<H>,
        bytecode: &[u8],
        seed: i64,
    ) -> Result<Option<Exception>, RuntimeError> {
        let ptr = inst.write_bytes(bytecode, true)?;
        let packed: i64 = inst.call_export(self.load, (ptr, bytecode.len() as i32, seed))?;
        match Returned::from_packed(inst, packed)? {
            Returned::Threw(e) => Ok(Some(e)),
            _ => Ok(None),
        }
    }

    /// Reseeds the instance's random numbers.
    pub fn seed<H: Host>(&self, inst: &mut Instance<H>, seed: i64) -> Result<(), RuntimeError> {
        inst.call_export::<i64, ()>(self.seed, seed)
    }

    /// Calls the instance's function with `args`, asking for `kind` (a
    /// [`ResultKind`] plus [`SET`] or [`TRIGGER`]); `buf` (3 slots at
    /// least) holds the packed result afterwards. Returns the fuel used.
    /// `guest` must belong to `inst`.
    #[inline]
    pub fn call<H: Host>(
        &self,
        inst: &mut Instance<H>,
        guest: &mut GuestArgs,
        args: &ArgRecord,
        kind: i32,
        buf: &mut [ValRaw],
    ) -> Result<u64, RuntimeError> {
        let bytes = args.as_bytes();
        if bytes.len() > guest.cap {
            self.grow(inst, guest, bytes.len())?;
        }
        if !bytes.is_empty() {
            inst.write_at(guest.ptr, bytes)?;
        }
        buf[0] = ValRaw::i32(guest.ptr);
        buf[1] = ValRaw::i32(bytes.len() as i32);
        buf[2] = ValRaw::i32(kind);
        inst.call(buf)
    }

    #[cold]
    fn grow<H: Host>(
        &self,
        inst: &mut Instance<H>,
        guest: &mut GuestArgs,
        need: usize,
    ) -> Result<(), RuntimeError> {
        let size = need.max(256).next_power_of_two();
        let size = i32::try_from(size).map_err(|_| RuntimeError::Trap {
            kind: crate::TrapKind::Trap,
            message: format!("arguments of {need} bytes do not fit in 32-bit guest memory"),
            backtrace: None,
        })?;
        let ptr: i32 = inst.call_export(self.args, size)?;
        if ptr == 0 {
            return Err(RuntimeError::Trap {
                kind: crate::TrapKind::MemoryLimit,
                message: format!(
                    "no room in the {} engine's memory for {need} bytes of arguments",
                    self.language
                ),
                backtrace: None,
            });
        }
        guest.ptr = ptr;
        guest.cap = size as usize;
        Ok(())
    }
}
