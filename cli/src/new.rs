//! `pg-wasm new NAME --lang L`: a guest project from a template, buildable
//! as generated (`pg-wasm build`), with a test (`./test.sh`) that builds it
//! and calls its two exports locally.

use crate::error::{failed, CliError, Result};
use crate::jsfile::is_sql_identifier;
use std::path::{Path, PathBuf};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Rust (no_std) with pg_wasm's SDK: #[export] fn greet(name: &str) -> String
    Rust,
    /// C, freestanding, with pg_wasm.h and a pg_wasm section
    C,
    /// AssemblyScript (npm)
    Assemblyscript,
    /// JavaScript for LANGUAGE javascript: no toolchain at all
    Js,
    /// A Python component (componentize-py)
    Python,
    /// A Rust component (wit-bindgen)
    ComponentRust,
}

#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// Project (and module) name: lower-case letters, digits and _
    pub name: String,
    /// The guest's language
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// Directory to create [default: ./NAME]
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

type Files = &'static [(&'static str, &'static str)];

const RUST: Files = &[
    ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
    ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
    // The SDK, as this pg-wasm was built with it.
    (
        "pg-wasm-sdk/pg-wasm-guest/Cargo.toml",
        include_str!("../../sdk/rust/pg-wasm-guest/Cargo.toml"),
    ),
    (
        "pg-wasm-sdk/pg-wasm-guest/src/lib.rs",
        include_str!("../../sdk/rust/pg-wasm-guest/src/lib.rs"),
    ),
    (
        "pg-wasm-sdk/pg-wasm-guest/src/heap.rs",
        include_str!("../../sdk/rust/pg-wasm-guest/src/heap.rs"),
    ),
    (
        "pg-wasm-sdk/pg-wasm-guest/src/trigger/mod.rs",
        include_str!("../../sdk/rust/pg-wasm-guest/src/trigger/mod.rs"),
    ),
    (
        "pg-wasm-sdk/pg-wasm-macros/Cargo.toml",
        include_str!("../../sdk/rust/pg-wasm-macros/Cargo.toml"),
    ),
    (
        "pg-wasm-sdk/pg-wasm-macros/src/lib.rs",
        include_str!("../../sdk/rust/pg-wasm-macros/src/lib.rs"),
    ),
    (
        "pg-wasm-sdk/pg-wasm-json/Cargo.toml",
        include_str!("../../sdk/rust/pg-wasm-json/Cargo.toml"),
    ),
    (
        "pg-wasm-sdk/pg-wasm-json/src/lib.rs",
        include_str!("../../sdk/rust/pg-wasm-json/src/lib.rs"),
    ),
];
const C: Files = &[
    ("NAME.c", include_str!("../templates/c/NAME.c")),
    (
        "NAME.pg_wasm.json",
        include_str!("../templates/c/NAME.pg_wasm.json"),
    ),
    ("pg_wasm.h", include_str!("../../sdk/c/pg_wasm.h")),
];
const ASSEMBLYSCRIPT: Files = &[
    (
        "package.json",
        include_str!("../templates/assemblyscript/package.json"),
    ),
    (
        "assembly/index.ts",
        include_str!("../templates/assemblyscript/assembly/index.ts"),
    ),
    (
        "NAME.pg_wasm.json",
        include_str!("../templates/assemblyscript/NAME.pg_wasm.json"),
    ),
];
const JS: Files = &[("NAME.js", include_str!("../templates/js/NAME.js"))];
const PYTHON: Files = &[
    ("app.py", include_str!("../templates/python/app.py")),
    (
        "wit/world.wit",
        include_str!("../templates/python/wit/world.wit"),
    ),
    (
        "requirements.txt",
        include_str!("../templates/python/requirements.txt"),
    ),
];
const COMPONENT_RUST: Files = &[
    (
        "Cargo.toml",
        include_str!("../templates/component-rust/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../templates/component-rust/src/lib.rs"),
    ),
    (
        "wit/world.wit",
        include_str!("../templates/component-rust/wit/world.wit"),
    ),
];
const COMMON: Files = &[
    ("README.md", include_str!("../templates/common/README.md")),
    ("test.sh", include_str!("../templates/common/test.sh")),
];

impl Lang {
    fn files(self) -> Files {
        match self {
            Lang::Rust => RUST,
            Lang::C => C,
            Lang::Assemblyscript => ASSEMBLYSCRIPT,
            Lang::Js => JS,
            Lang::Python => PYTHON,
            Lang::ComponentRust => COMPONENT_RUST,
        }
    }

    fn language(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::C => "C",
            Lang::Assemblyscript => "AssemblyScript",
            Lang::Js => "JavaScript (LANGUAGE javascript)",
            Lang::Python => "Python (a componentize-py component)",
            Lang::ComponentRust => "Rust (a wit-bindgen component)",
        }
    }
}

pub fn run(a: &NewArgs) -> Result<()> {
    if !is_sql_identifier(&a.name) {
        return Err(CliError::Usage(format!(
            "\"{}\" cannot name a module: use lower-case letters, digits and _, starting with a letter or _",
            a.name
        )));
    }
    let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from(&a.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(failed(format!(
            "{}: exists and is not empty; pg-wasm new writes a new directory",
            dir.display()
        )));
    }
    let artifact = if a.lang == Lang::Js {
        format!("{}.js", a.name)
    } else {
        format!("build/{}.wasm", a.name)
    };
    let fill = |s: &str| {
        s.replace("{{name}}", &a.name)
            .replace("{{kebab}}", &a.name.replace('_', "-"))
            .replace("{{artifact}}", &artifact)
            .replace("{{language}}", a.lang.language())
            .replace(
                "{{sqlprefix}}",
                &if a.lang == Lang::Js {
                    String::new()
                } else {
                    format!("{}_", a.name)
                },
            )
    };
    for (path, text) in a.lang.files().iter().chain(COMMON) {
        let mut text = fill(text);
        if path.starts_with("pg-wasm-sdk/") {
            // The SDK's crates stand alone in this repository; in a project
            // they belong to the project's workspace.
            text = text
                .lines()
                .filter(|l| l.trim() != "[workspace]")
                .map(|l| format!("{l}\n"))
                .collect();
        }
        write(&dir.join(path.replace("NAME", &a.name)), &text)?;
    }
    set_executable(&dir.join("test.sh"))?;
    println!(
        "created {} ({}): cd {} && pg-wasm build && pg-wasm run {artifact} greet World",
        dir.display(),
        a.lang.language(),
        dir.display()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| failed(format!("{}: {e}", parent.display())))?;
    }
    std::fs::write(path, text).map_err(|e| failed(format!("{}: {e}", path.display())))
}

fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| failed(format!("{}: {e}", path.display())))
}
