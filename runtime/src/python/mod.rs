//! The host side of `LANGUAGE python` (SPEC §16): the engine module
//! (CPython 3.11 built to Wasm and pre-initialized with Wizer by
//! engines/python/build.sh, embedded here), the WASI functions it imports
//! answered with "no such thing", and the source a function body becomes.
//!
//! The engine has the JavaScript engine's ABI ([`ABI`], `pgpy_*`): the
//! argument record, result kinds and exception record of
//! [`crate::javascript`], so the extension's call sites serve both.

use crate::javascript::Abi;
use wasmtime::{Caller, Engine, Extern, FuncType, Linker, Module, Val, ValType};

/// The engine, already pre-initialized: instances start with the
/// interpreter running and the prelude (plpy, the standard library in
/// memory) loaded.
pub const ENGINE_WASM: &[u8] = include_bytes!(env!("PG_WASM_PY_ENGINE"));
/// [`ENGINE_WASM`]'s SHA-256, in hex (computed when the crate is built).
pub const ENGINE_SHA256: &str = env!("PG_WASM_PY_ENGINE_SHA256");

/// The Python engine's entry points (engines/python/pg_py.c).
pub const ABI: Abi = Abi {
    language: "Python",
    compile: "pgpy_compile",
    load: "pgpy_load",
    call: "pgpy_call",
    args: "pgpy_args",
    seed: "pgpy_seed",
    warm: Some("pgpy_warm"),
};

const WASI: &str = "wasi_snapshot_preview1";
/// WASI's errno values the stubs answer with.
const EACCES: i32 = 2;
const EBADF: i32 = 8;
const EINVAL: i32 = 28;
const ENOSYS: i32 = 52;

/// The WASI functions [`link_wasi_stubs`] answers in their own way.
const DEFINED: [&str; 8] = [
    "clock_time_get",
    "random_get",
    "environ_sizes_get",
    "args_sizes_get",
    "environ_get",
    "args_get",
    "sched_yield",
    "proc_exit",
];

/// Every WASI function the engine imports, answered without reaching
/// anything: the clocks and randomness are real; environment and
/// arguments are empty; files, directories and sockets fail (`path_*`
/// with EACCES, so `open()` is a PermissionError; `fd_*` with EBADF);
/// `poll_oneoff` (sleeping) with ENOSYS; `proc_exit` traps.
pub(crate) fn link_wasi_stubs<T: 'static>(
    linker: &mut Linker<T>,
    module: &Module,
) -> wasmtime::Result<()> {
    crate::javascript::link_wasi_clock(linker)?;
    linker.func_wrap(
        WASI,
        "random_get",
        |mut caller: Caller<'_, T>, ptr: i32, len: i32| -> i32 {
            let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                return EINVAL;
            };
            let mut bytes = vec![0u8; len.max(0) as usize];
            let mut filled = 0;
            while filled < bytes.len() {
                // SAFETY: getrandom writes at most the given length into
                // the buffer it is handed.
                let got = unsafe {
                    libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
                };
                if got <= 0 {
                    return EINVAL;
                }
                filled += got as usize;
            }
            match memory.write(&mut caller, ptr as u32 as usize, &bytes) {
                Ok(()) => 0,
                Err(_) => EINVAL,
            }
        },
    )?;
    for name in ["environ_sizes_get", "args_sizes_get"] {
        linker.func_wrap(
            WASI,
            name,
            |mut caller: Caller<'_, T>, count: i32, size: i32| -> i32 {
                let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                    return EINVAL;
                };
                let zero = [0u8; 4];
                let ok = memory
                    .write(&mut caller, count as u32 as usize, &zero)
                    .and_then(|()| memory.write(&mut caller, size as u32 as usize, &zero));
                if ok.is_ok() {
                    0
                } else {
                    EINVAL
                }
            },
        )?;
    }
    for name in ["environ_get", "args_get"] {
        linker.func_wrap(WASI, name, |_: i32, _: i32| -> i32 { 0 })?;
    }
    linker.func_wrap(WASI, "sched_yield", || -> i32 { 0 })?;
    linker.func_wrap(WASI, "proc_exit", |code: i32| -> wasmtime::Result<()> {
        Err(wasmtime::Error::msg(format!(
            "the Python engine exited (status {code})"
        )))
    })?;
    // The rest: one errno each, typed as the module imports them.
    for import in module.imports() {
        if import.module() != WASI || DEFINED.contains(&import.name()) {
            continue;
        }
        let wasmtime::ExternType::Func(ty) = import.ty() else {
            continue;
        };
        let errno = if import.name().starts_with("path_") {
            EACCES
        } else if import.name().starts_with("fd_") || import.name().starts_with("sock_") {
            EBADF
        } else {
            ENOSYS
        };
        let results: Vec<ValType> = ty.results().collect();
        let ty = FuncType::new(module.engine(), ty.params(), results);
        linker.func_new(WASI, import.name(), ty, move |_, _, out| {
            if let Some(first) = out.first_mut() {
                *first = Val::I32(errno);
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The compiled engine, as the artifact store keeps it: mapped only if it
/// imports nothing beyond the host API and WASI (all of which
/// [`link_wasi_stubs`] answers).
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
                "pg" => crate::host::check_import_in(
                    &crate::javascript::HOST_IMPORTS,
                    "pg",
                    i.name(),
                    &i.ty(),
                )
                .is_none(),
                WASI => matches!(i.ty(), wasmtime::ExternType::Func(_)),
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "the Python engine imports \"{}.{}\", which pg_wasm does not provide",
                    i.module(),
                    i.name()
                ));
            }
        }
        Ok(CompiledImage(m))
    }
}

/// The source a function body becomes, as PL/Python makes it: a function
/// without parameters (the arguments are globals of the function) whose
/// body is the SQL body, each line one tab in. Line 2 is the body's line 1.
pub fn function_source(body: &str) -> String {
    let body = body.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(body.len() + 64);
    out.push_str("def __plpython_procedure():\n\t");
    out.push_str(&body.replace('\n', "\n\t"));
    out.push('\n');
    out
}

/// What `pgpy_compile` takes as the name: the SQL function's name, then
/// each argument's name (empty for an unnamed one), a line each.
pub fn spec(name: &str, params: &[Option<String>]) -> String {
    let mut out = name.replace('\n', " ");
    for p in params {
        out.push('\n');
        if let Some(p) = p {
            out.push_str(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(
            function_source("x = 1\r\nreturn x"),
            "def __plpython_procedure():\n\tx = 1\n\treturn x\n"
        );
        assert_eq!(spec("f", &[Some("a".into()), None]), "f\na\n");
    }
}
