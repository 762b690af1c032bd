use crate::compile::{compile_watched, CompileLimits};
use crate::error::RuntimeError;
use crate::host::check_imports;
use crate::types::FuncSig;
use sha2::{Digest, Sha256};
use wasmtime::{Engine, ExternType, Module};

/// One import or export of a module, for `wasm.inspect` and the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternInfo {
    /// "func", "memory", "table", "global" or "tag".
    pub kind: &'static str,
    /// Import module name; `None` for exports.
    pub module: Option<String>,
    pub name: String,
    /// Wasm parameter and result types of functions, as written in WAT.
    pub params: Vec<String>,
    pub results: Vec<String>,
    /// The numeric signature when pg_wasm can call it.
    pub sig: Option<FuncSig>,
}

/// What a module imports and exports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleInfo {
    pub imports: Vec<ExternInfo>,
    pub exports: Vec<ExternInfo>,
    /// The text of the `pg_wasm` custom section (SPEC §4), when
    /// [`describe_with_section`] found one.
    pub section: Option<String>,
}

impl ModuleInfo {
    /// The exported function `name`, if there is one.
    pub fn export_func(&self, name: &str) -> Option<&ExternInfo> {
        self.exports
            .iter()
            .find(|e| e.kind == "func" && e.name == name)
    }
}

/// WebAssembly text to binary.
pub fn parse_wat(text: &str) -> Result<Vec<u8>, RuntimeError> {
    wat::parse_str(text).map_err(|e| RuntimeError::InvalidWat(e.to_string()))
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Validates and compiles `bytes`.
///
/// `max_size` bounds the input before any parsing. Imports must be host API
/// functions (SPEC §8) with their exact signatures; a module needing
/// anything else is refused here, naming the import, rather than failing at
/// first call.
pub fn compile(engine: &Engine, bytes: &[u8], max_size: usize) -> Result<Module, RuntimeError> {
    compile_with(engine, bytes, &CompileLimits::size(max_size), &mut || false)
}

/// [`compile`] within `limits`, on a thread of its own while `poll` is
/// called every [`crate::COMPILE_POLL`] (true abandons the compile).
pub fn compile_with(
    engine: &Engine,
    bytes: &[u8],
    limits: &CompileLimits,
    poll: &mut dyn FnMut() -> bool,
) -> Result<Module, RuntimeError> {
    let module = compile_any_with(engine, bytes, limits, poll)?;
    check_imports(&module)?;
    Ok(module)
}

/// Validates and compiles `bytes` whatever they import, for inspection:
/// such a module can be described but [`compile`] refuses to run it.
pub fn compile_any(engine: &Engine, bytes: &[u8], max_size: usize) -> Result<Module, RuntimeError> {
    compile_any_with(engine, bytes, &CompileLimits::size(max_size), &mut || false)
}

/// [`compile_any`] within `limits`, abandoned when `poll` says so.
pub fn compile_any_with(
    engine: &Engine,
    bytes: &[u8],
    limits: &CompileLimits,
    poll: &mut dyn FnMut() -> bool,
) -> Result<Module, RuntimeError> {
    let module = compile_watched(engine, bytes, limits, poll)?;
    // Wasm names are any UTF-8; PostgreSQL text (and jsonb) cannot hold NUL.
    let names = module
        .imports()
        .flat_map(|i| [i.module(), i.name()])
        .chain(module.exports().map(|e| e.name()));
    for name in names {
        if name.contains('\0') {
            return Err(RuntimeError::InvalidModule(format!(
                "the name {name:?} contains a NUL character, which PostgreSQL cannot store"
            )));
        }
    }
    Ok(module)
}

fn extern_info(kind_ty: ExternType, module: Option<&str>, name: &str) -> ExternInfo {
    let (kind, params, results, sig) = match &kind_ty {
        ExternType::Func(f) => (
            "func",
            f.params().map(|t| t.to_string()).collect(),
            f.results().map(|t| t.to_string()).collect(),
            FuncSig::from_func_type(f),
        ),
        ExternType::Memory(_) => ("memory", vec![], vec![], None),
        ExternType::Table(_) => ("table", vec![], vec![], None),
        ExternType::Global(g) => ("global", vec![], vec![g.content().to_string()], None),
        ExternType::Tag(_) => ("tag", vec![], vec![], None),
    };
    ExternInfo {
        kind,
        module: module.map(str::to_string),
        name: name.to_string(),
        params,
        results,
        sig,
    }
}

/// Name of the custom section in which a module describes its exports'
/// SQL signatures.
pub const SECTION_NAME: &str = "pg_wasm";

/// The contents of the module's `pg_wasm` custom section(s), as UTF-8.
/// Several sections (one per object file a linker merged) are joined.
pub fn pg_wasm_section(bytes: &[u8]) -> Result<Option<String>, RuntimeError> {
    let mut found: Option<Vec<u8>> = None;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| RuntimeError::InvalidModule(e.to_string()))?;
        if let wasmparser::Payload::CustomSection(reader) = payload {
            if reader.name() == SECTION_NAME {
                found
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(reader.data());
            }
        }
    }
    found
        .map(|b| {
            String::from_utf8(b).map_err(|_| {
                RuntimeError::InvalidModule("the pg_wasm custom section is not UTF-8".into())
            })
        })
        .transpose()
}

/// The `functions` object of a `pg_wasm` section's text (SPEC §4): per
/// export, its SQL signature and settings. A linker concatenates the
/// sections of several objects (the Rust SDK writes one per function), so
/// the text is a sequence of JSON objects whose "functions" maps are
/// merged. `Err` says what is wrong ("is not valid JSON: ...").
pub fn section_functions(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut merged = serde_json::Map::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
        let v = v.map_err(|e| format!("is not valid JSON: {e}"))?;
        match v.get("functions") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Object(m)) => merged.extend(m.clone()),
            Some(_) => return Err("has a \"functions\" key that is not an object".into()),
        }
    }
    Ok(merged)
}

/// [`describe`] plus the `pg_wasm` section of the module's bytes.
pub fn describe_with_section(module: &Module, bytes: &[u8]) -> Result<ModuleInfo, RuntimeError> {
    let mut info = describe(module);
    info.section = pg_wasm_section(bytes)?;
    Ok(info)
}

/// One export of a compiled module, without describing the others (a
/// module may have tens of thousands).
pub fn export_info(module: &Module, name: &str) -> Option<ExternInfo> {
    module
        .get_export(name)
        .map(|ty| extern_info(ty, None, name))
}

/// Imports and exports of a compiled module.
pub fn describe(module: &Module) -> ModuleInfo {
    ModuleInfo {
        section: None,
        imports: module
            .imports()
            .map(|i| extern_info(i.ty(), Some(i.module()), i.name()))
            .collect(),
        exports: module
            .exports()
            .map(|e| extern_info(e.ty(), None, e.name()))
            .collect(),
    }
}
