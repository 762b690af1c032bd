//! What a file given to `run`, `inspect` or `deploy` holds: a core module
//! (`.wasm`, or WebAssembly text), a component, or JavaScript for
//! `LANGUAGE javascript` (`.js`: a library whose annotated exports become
//! SQL functions, see [`crate::jsfile`]).

use crate::error::{failed, Result};
use crate::jsfile::{self, JsFunction};
use pg_wasm_runtime::component::is_component;
use std::path::{Path, PathBuf};

pub enum Source {
    Module(Vec<u8>),
    Component(Vec<u8>),
    JavaScript {
        text: String,
        functions: Vec<JsFunction>,
    },
}

pub struct Loaded {
    pub path: PathBuf,
    pub source: Source,
}

impl Loaded {
    /// The file's name for messages.
    pub fn shown(&self) -> String {
        self.path.display().to_string()
    }

    /// A module name from the file's: `my-rules.wasm` → `my_rules`.
    pub fn default_name(&self) -> String {
        let stem = self
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("module");
        let mut name: String = stem
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if !name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
            name.insert(0, '_');
        }
        name
    }
}

pub fn read(path: &Path) -> Result<Loaded> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| failed(format!("{shown}: {e}")))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let source = if bytes.starts_with(b"\0asm") {
        if is_component(&bytes) {
            Source::Component(bytes)
        } else {
            Source::Module(bytes)
        }
    } else if matches!(ext, "js" | "cjs" | "mjs") {
        let text =
            String::from_utf8(bytes).map_err(|_| failed(format!("{shown}: not UTF-8 text")))?;
        let functions = jsfile::functions(&text).map_err(|e| failed(format!("{shown}:{e}")))?;
        Source::JavaScript { text, functions }
    } else if ext == "wat" || bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'(') {
        let text =
            String::from_utf8(bytes).map_err(|_| failed(format!("{shown}: not UTF-8 text")))?;
        let wasm =
            pg_wasm_runtime::parse_wat(&text).map_err(|e| failed(format!("{shown}: {e}")))?;
        if is_component(&wasm) {
            Source::Component(wasm)
        } else {
            Source::Module(wasm)
        }
    } else {
        return Err(failed(format!(
            "{shown}: not a WebAssembly module or component, WebAssembly text (.wat) or JavaScript (.js)"
        )));
    };
    Ok(Loaded {
        path: path.to_path_buf(),
        source,
    })
}
