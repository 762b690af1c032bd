//! `pg-wasm build [DIR]`: builds a guest project with the toolchain on
//! this machine, the way the project's own scripts build its examples, into
//! `DIR/build/NAME.wasm` (a `.js` project is checked, not built). When a
//! toolchain is missing it says what to install.

use crate::error::{failed, Result};
use crate::sandbox::{engine, javascript_image, CliHost};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// The project directory [default: .]
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, PartialEq)]
enum Kind {
    Rust,
    ComponentRust,
    C,
    AssemblyScript,
    Python,
    JavaScript(PathBuf),
}

pub fn run(a: &BuildArgs) -> Result<()> {
    let dir = a
        .dir
        .canonicalize()
        .map_err(|e| failed(format!("{}: {e}", a.dir.display())))?;
    let kind = detect(&dir)?;
    let name = project_name(&dir, &kind)?;
    let out_dir = dir.join("build");
    let out = out_dir.join(format!("{name}.wasm"));
    if !matches!(kind, Kind::JavaScript(_)) {
        std::fs::create_dir_all(&out_dir)
            .map_err(|e| failed(format!("{}: {e}", out_dir.display())))?;
    }
    match &kind {
        Kind::Rust => {
            let core = cargo_wasm(&dir, &name)?;
            copy(&core, &out)?;
        }
        Kind::ComponentRust => {
            let core = cargo_wasm(&dir, &name)?;
            let module =
                std::fs::read(&core).map_err(|e| failed(format!("{}: {e}", core.display())))?;
            let component = wit_component::ComponentEncoder::default()
                .module(&module)
                .and_then(|e| e.validate(true).encode())
                .map_err(|e| failed(format!("{}: making a component: {e:#}", core.display())))?;
            std::fs::write(&out, component)
                .map_err(|e| failed(format!("{}: {e}", out.display())))?;
        }
        Kind::C => build_c(&dir, &out)?,
        Kind::AssemblyScript => build_assemblyscript(&dir, &out)?,
        Kind::Python => build_python(&dir, &out)?,
        Kind::JavaScript(file) => return check_javascript(file),
    }
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!("built {} ({size} bytes)", relative(&out));
    Ok(())
}

fn relative(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(|r| r.display().to_string()))
        .unwrap_or_else(|| p.display().to_string())
}

fn detect(dir: &Path) -> Result<Kind> {
    let has = |p: &str| dir.join(p).exists();
    if has("Cargo.toml") {
        return Ok(if has("wit") {
            Kind::ComponentRust
        } else {
            Kind::Rust
        });
    }
    if has("app.py") && has("wit") {
        return Ok(Kind::Python);
    }
    if has("package.json")
        && std::fs::read_to_string(dir.join("package.json"))
            .map(|s| s.contains("\"assemblyscript\""))
            .unwrap_or(false)
    {
        return Ok(Kind::AssemblyScript);
    }
    let files = list(dir);
    if files
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "c"))
    {
        return Ok(Kind::C);
    }
    let js: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "js"))
        .collect();
    if let [one] = js.as_slice() {
        return Ok(Kind::JavaScript((*one).clone()));
    }
    Err(failed(format!(
        "{}: not a guest project pg-wasm knows (Cargo.toml, *.c, an AssemblyScript package.json, app.py with wit/, or one .js file); pg-wasm new makes one",
        dir.display()
    )))
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn project_name(dir: &Path, kind: &Kind) -> Result<String> {
    if matches!(kind, Kind::Rust | Kind::ComponentRust) {
        let toml = std::fs::read_to_string(dir.join("Cargo.toml"))
            .map_err(|e| failed(format!("{}/Cargo.toml: {e}", dir.display())))?;
        let name = toml
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = \"")?.strip_suffix('"'))
            .ok_or_else(|| failed(format!("{}/Cargo.toml: no package name", dir.display())))?;
        return Ok(name.replace('-', "_"));
    }
    let base = dir
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("module")
        .to_lowercase();
    Ok(base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect())
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Runs `cmd`, its output going to ours; a failure names the step.
fn step(what: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("pg-wasm build: {what}");
    let status = cmd
        .status()
        .map_err(|e| failed(format!("{what}: cannot run {:?}: {e}", cmd.get_program())))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(format!("{what} failed ({status})")))
    }
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| failed(format!("{}: {e}", from.display())))
}

const RUST_MISSING: &str = "Rust for wasm32 is missing: install Rust with rustup and run `rustup target add wasm32-unknown-unknown`, or use a distribution's Rust with its library source and a wasm linker (Debian 12: `apt-get install rustc-web cargo-web rust-web-src lld-19`; newer Debian and Ubuntu: `apt-get install rustc cargo rust-src lld`), for which pg-wasm builds core and alloc for wasm32 itself";

/// `cargo build --release --target wasm32-unknown-unknown`: with a rustup
/// toolchain that has the target, or with a distribution's Rust and its
/// library source (-Zbuild-std, as scripts/build-guests.sh does).
fn cargo_wasm(dir: &Path, name: &str) -> Result<PathBuf> {
    const TARGET: &str = "wasm32-unknown-unknown";
    // The user's CARGO_TARGET_DIR if set (builds shared between projects),
    // else the project's own target/.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let has_target = |rustc: &str| {
        Command::new(rustc)
            .args(["--print", "target-libdir", "--target", TARGET])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).is_dir())
            .unwrap_or(false)
    };
    let mut cmd;
    if which("cargo").is_some() && has_target("rustc") {
        cmd = Command::new("cargo");
        cmd.args(["build", "--release", "--target", TARGET]);
    } else {
        // A distribution's Rust: the standard library's source and a wasm linker.
        let (cargo, rustc) = ["/usr/bin/cargo", "/usr/bin/rustc"]
            .map(PathBuf::from)
            .into();
        let src = Command::new(&rustc)
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .map(|o| {
                PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
                    .join("lib/rustlib/src/rust/library")
            });
        let linker = [
            "wasm-ld-19",
            "wasm-ld-18",
            "wasm-ld-17",
            "wasm-ld",
            "rust-lld",
        ]
        .into_iter()
        .find(|l| which(l).is_some());
        let (true, Some(true), Some(linker)) =
            (cargo_exists(&cargo), src.map(|s| s.is_dir()), linker)
        else {
            return Err(failed(RUST_MISSING));
        };
        cmd = Command::new(cargo);
        cmd.env("RUSTC", rustc)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", linker)
            .args([
                "build",
                "--release",
                "--target",
                TARGET,
                "-Zbuild-std=core,alloc,panic_abort",
            ]);
    }
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", "")
        .env("CARGO_ENCODED_RUSTFLAGS", "")
        .env_remove("CARGO_BUILD_TARGET");
    step(
        "cargo build --release --target wasm32-unknown-unknown",
        &mut cmd,
    )?;
    Ok(target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{name}.wasm")))
}

fn cargo_exists(p: &Path) -> bool {
    p.is_file()
}

/// The project's `*.pg_wasm.json` appended as the module's pg_wasm section.
fn add_section(dir: &Path, out: &Path) -> Result<()> {
    let Some(json) = list(dir)
        .into_iter()
        .find(|f| f.to_string_lossy().ends_with(".pg_wasm.json"))
    else {
        return Ok(());
    };
    let text =
        std::fs::read_to_string(&json).map_err(|e| failed(format!("{}: {e}", json.display())))?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| failed(format!("{}: not JSON: {e}", json.display())))?;
    let mut wasm = std::fs::read(out).map_err(|e| failed(format!("{}: {e}", out.display())))?;
    append_custom_section(&mut wasm, pg_wasm_runtime::SECTION_NAME, text.as_bytes());
    std::fs::write(out, wasm).map_err(|e| failed(format!("{}: {e}", out.display())))
}

fn leb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A custom section (id 0): its size, the name's length, name, payload.
pub fn append_custom_section(wasm: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    wasm.push(0);
    leb(body.len(), wasm);
    wasm.extend_from_slice(&body);
}

fn build_c(dir: &Path, out: &Path) -> Result<()> {
    let clang = ["clang", "clang-19", "clang-18", "clang-17"]
        .into_iter()
        .find(|c| which(c).is_some())
        .ok_or_else(|| failed("C needs clang with the wasm32 target and lld: apt-get install clang lld (macOS: brew install llvm)"))?;
    let sources: Vec<PathBuf> = list(dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "c"))
        .collect();
    let mut cmd = Command::new(clang);
    cmd.args([
        "--target=wasm32",
        "-O2",
        "-mbulk-memory",
        "-nostdlib",
        "-fuse-ld=lld",
        "-Wl,--no-entry",
        "-o",
    ])
    .arg(out)
    .arg("-I")
    .arg(dir)
    .args(&sources);
    step(&format!("{clang} --target=wasm32"), &mut cmd)?;
    add_section(dir, out)
}

fn build_assemblyscript(dir: &Path, out: &Path) -> Result<()> {
    if which("npm").is_none() {
        return Err(failed("AssemblyScript needs Node.js and npm: apt-get install nodejs npm (or https://nodejs.org)"));
    }
    let asc = dir.join("node_modules/.bin/asc");
    if !asc.is_file() {
        step(
            "npm install (AssemblyScript, as package.json pins it)",
            Command::new("npm").current_dir(dir).args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ]),
        )?;
    }
    step(
        "asc assembly/index.ts",
        Command::new(&asc)
            .current_dir(dir)
            .arg("assembly/index.ts")
            .arg("--outFile")
            .arg(out)
            .args(["--optimize", "--use", "abort="]),
    )?;
    add_section(dir, out)
}

fn build_python(dir: &Path, out: &Path) -> Result<()> {
    let tool = match which("componentize-py") {
        Some(t) => t,
        None => {
            let venv = dir.join(".venv");
            let tool = venv.join("bin/componentize-py");
            if !tool.is_file() {
                if which("python3").is_none() {
                    return Err(failed("Python components need python3 with venv: apt-get install python3 python3-venv"));
                }
                step(
                    "python3 -m venv .venv",
                    Command::new("python3")
                        .current_dir(dir)
                        .args(["-m", "venv", ".venv"]),
                )?;
                step(
                    "pip install -r requirements.txt (componentize-py)",
                    Command::new(venv.join("bin/pip")).current_dir(dir).args([
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "--require-hashes",
                        "-r",
                        "requirements.txt",
                    ]),
                )?;
            }
            tool
        }
    };
    let world = list(&dir.join("wit"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "wit"))
        .find_map(|f| {
            std::fs::read_to_string(f).ok()?.lines().find_map(|l| {
                let w = l.trim().strip_prefix("world ")?;
                Some(w.trim_end_matches(['{', ' ']).to_string())
            })
        })
        .ok_or_else(|| failed(format!("{}/wit: no world", dir.display())))?;
    step(
        &format!("componentize-py -w {world} componentize app"),
        Command::new(tool)
            .current_dir(dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .args(["-d", "wit", "-w", &world, "componentize", "app", "-o"])
            .arg(out),
    )
}

/// A .js project: the file compiles as the library `require` would load,
/// and its `// @sql` comments parse. Needs no toolchain: the JavaScript
/// engine is pg_wasm's own.
fn check_javascript(file: &Path) -> Result<()> {
    let loaded = crate::source::read(file)?;
    let crate::source::Source::JavaScript { text, functions } = loaded.source else {
        unreachable!("a .js file reads as JavaScript");
    };
    let engine = engine()?;
    let image = javascript_image()?;
    let shown = file.display().to_string();
    let rt = |e: pg_wasm_runtime::RuntimeError| failed(format!("{shown}: {e}"));
    let prepared = pg_wasm_runtime::Prepared::<CliHost>::javascript(engine, &image).map_err(rt)?;
    let mut inst = pg_wasm_runtime::Instance::from_prepared(
        engine,
        &prepared,
        pg_wasm_runtime::javascript::CALL_EXPORT,
        pg_wasm_runtime::Limits::default(),
        CliHost::default(),
    )
    .map_err(rt)?;
    let source = pg_wasm_runtime::javascript::library_source(&text);
    if let Err(e) = pg_wasm_runtime::javascript::ABI
        .compile(&mut inst, &source, &shown)
        .map_err(rt)?
    {
        return Err(failed(format!("{shown}: {}", e.message)));
    }
    println!(
        "checked {}: compiles; {} function{} ({})",
        relative(file),
        functions.len(),
        if functions.len() == 1 { "" } else { "s" },
        functions
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
