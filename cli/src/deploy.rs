//! `pg-wasm deploy FILE --name NAME`: loads or replaces a module over an
//! ordinary connection, its bytes a bind parameter (so a role granted
//! `wasm.load` needs no file access on the server), with a progress line
//! while the server compiles; then the functions created, or on replace
//! the functions that changed. A `.js` file becomes a JavaScript library
//! and one `LANGUAGE javascript` function per `// @sql` comment, in one
//! transaction.

use crate::connect::ConnectOpts;
use crate::error::{failed, server_error, CliError, Result};
use crate::jsfile::{call_body, is_sql_identifier, JsFunction};
use crate::source::{self, Source};
use postgres::Client;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    /// A module or component (.wasm), WebAssembly text (.wat) or JavaScript (.js)
    pub file: PathBuf,
    /// Module (or JavaScript library) name [default: from the file name]
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the module's code if it exists (functions keep their OIDs and grants)
    #[arg(long)]
    pub replace: bool,
    /// Schema for the functions created
    #[arg(long)]
    pub schema: Option<String>,
    /// wasm.load options as JSON, e.g. '{"prefix": "", "fuel": 1000000}'
    #[arg(long)]
    pub options: Option<String>,
    /// Print no progress while the server compiles
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub conn: ConnectOpts,
}

pub fn run(a: &DeployArgs) -> Result<()> {
    let loaded = source::read(&a.file)?;
    let name = a.name.clone().unwrap_or_else(|| loaded.default_name());
    let mut options = match &a.options {
        Some(o) => match serde_json::from_str::<Value>(o) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return Err(CliError::Usage(format!(
                    "--options must be a JSON object, not {o}"
                )))
            }
        },
        None => Value::Object(Default::default()),
    };
    if let Some(s) = &a.schema {
        options["schema"] = Value::String(s.clone());
    }
    let mut client = a.conn.connect()?;
    check_extension(&mut client)?;
    let shown = loaded.shown();
    match loaded.source {
        Source::Module(bytes) | Source::Component(bytes) => {
            deploy_wasm(&mut client, a, &name, &bytes, options, &shown)
        }
        Source::JavaScript { text, functions } => {
            if a.options.is_some() {
                return Err(CliError::Usage(
                    "--options applies to Wasm modules; a JavaScript function's limits are the session's (pg_wasm.* settings)".into(),
                ));
            }
            deploy_javascript(&mut client, a, &name, &text, &functions, &shown)
        }
    }
}

fn check_extension(client: &mut Client) -> Result<()> {
    let row = client
        .query_opt(
            "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_wasm'",
            &[],
        )
        .map_err(|e| server_error("checking for pg_wasm", &e))?;
    if row.is_none() {
        let db: String = client
            .query_one("SELECT current_database()::text", &[])
            .map(|r| r.get(0))
            .unwrap_or_default();
        return Err(failed(format!(
            "pg_wasm is not installed in database \"{db}\": run CREATE EXTENSION pg_wasm there first"
        )));
    }
    Ok(())
}

/// Signature → result type of the module's functions, for the diff.
fn functions_of(client: &mut Client, module: &str) -> Result<BTreeMap<String, String>> {
    let rows = client
        .query(
            "SELECT f.function::text, pg_catalog.pg_get_function_result(f.function::oid)
               FROM wasm.functions f WHERE f.module = $1",
            &[&module],
        )
        .map_err(|e| server_error("reading wasm.functions", &e))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                r.get::<_, Option<String>>(1).unwrap_or_default(),
            )
        })
        .collect())
}

fn deploy_wasm(
    client: &mut Client,
    a: &DeployArgs,
    name: &str,
    bytes: &[u8],
    options: Value,
    shown: &str,
) -> Result<()> {
    let exists = client
        .query_opt("SELECT 1 FROM wasm.modules WHERE name = $1", &[&name])
        .map_err(|e| server_error("reading wasm.modules", &e))?
        .is_some();
    if exists && !a.replace {
        return Err(failed(format!(
            "{shown}: module \"{name}\" exists; deploy --replace gives it this code (its functions keep their OIDs and grants)"
        )));
    }
    let before = if exists {
        functions_of(client, name)?
    } else {
        BTreeMap::new()
    };
    let verb = if exists { "replacing" } else { "loading" };
    let progress = Progress::start(
        format!(
            "{verb} {name} ({} bytes): the server validates and compiles it",
            bytes.len()
        ),
        a.quiet,
    );
    let mut options = options;
    if exists && options.get("functions").is_none() {
        // A deploy makes functions for exports the new code adds, as a
        // first load does (wasm.replace alone makes none).
        options["functions"] = Value::String("auto".into());
    }
    let options_text = options.to_string();
    let result = if exists {
        client.query(
            "SELECT f::text, pg_catalog.pg_get_function_result(f) \
             FROM wasm.replace($1, $2, $3::text::jsonb) f",
            &[&name, &bytes, &options_text],
        )
    } else {
        client.query(
            "SELECT f::text, pg_catalog.pg_get_function_result(f) \
             FROM wasm.load($1, $2, $3::text::jsonb) f",
            &[&name, &bytes, &options_text],
        )
    };
    let elapsed = progress.stop();
    let rows = result.map_err(|e| {
        let mut err = server_error(&format!("{shown}: {verb} module \"{name}\""), &e);
        if e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
            let f = if exists { "wasm.replace" } else { "wasm.load" };
            if let CliError::Failed(m) = &mut err {
                m.push_str(&format!(
                    "\nHINT:  a superuser lets a role deploy with GRANT EXECUTE ON FUNCTION {f}(text, bytea, jsonb) TO <role>"
                ));
            }
        }
        err
    })?;
    if exists {
        let after = functions_of(client, name)?;
        println!(
            "replaced module {name} in {:.1} s; every backend runs the new code from its next statement",
            elapsed.as_secs_f64()
        );
        print_diff(&before, &after);
    } else {
        println!(
            "loaded module {name} in {:.1} s; {} function{}:",
            elapsed.as_secs_f64(),
            rows.len(),
            if rows.len() == 1 { "" } else { "s" }
        );
        for r in &rows {
            println!(
                "  {} RETURNS {}",
                r.get::<_, String>(0),
                r.get::<_, Option<String>>(1).unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn print_diff(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) {
    let mut same = 0;
    for (sig, ret) in after {
        match before.get(sig) {
            None => println!("  + {sig} RETURNS {ret}"),
            Some(old) if old != ret => println!("  ~ {sig} RETURNS {ret} (was {old})"),
            Some(_) => same += 1,
        }
    }
    for (sig, ret) in before {
        if !after.contains_key(sig) {
            println!("  - {sig} RETURNS {ret}");
        }
    }
    println!(
        "  {same} function{} unchanged",
        if same == 1 { "" } else { "s" }
    );
}

fn ident(s: &str) -> String {
    if is_sql_identifier(s) {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

fn deploy_javascript(
    client: &mut Client,
    a: &DeployArgs,
    name: &str,
    text: &str,
    functions: &[JsFunction],
    shown: &str,
) -> Result<()> {
    let mut tx = client
        .transaction()
        .map_err(|e| server_error("BEGIN", &e))?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM wasm.javascript_libraries WHERE name = $1",
            &[&name],
        )
        .map_err(|e| server_error("reading wasm.javascript_libraries", &e))?
        .is_some();
    if exists && !a.replace {
        return Err(failed(format!(
            "{shown}: JavaScript library \"{name}\" exists; deploy --replace gives it this source"
        )));
    }
    tx.execute("SELECT wasm.load_javascript($1, $2)", &[&name, &text])
        .map_err(|e| {
            server_error(
                &format!("{shown}: loading JavaScript library \"{name}\""),
                &e,
            )
        })?;
    let schema = a
        .schema
        .as_deref()
        .map(|s| format!("{}.", ident(s)))
        .unwrap_or_default();
    let create = if a.replace {
        "CREATE OR REPLACE FUNCTION"
    } else {
        "CREATE FUNCTION"
    };
    let mut created = Vec::new();
    for f in functions {
        let body = call_body(name, f);
        let sql = format!(
            "{create} {schema}{}({}) {} LANGUAGE javascript AS $pg_wasm${body}$pg_wasm$",
            f.name, f.args, f.tail
        );
        tx.batch_execute(&sql).map_err(|e| {
            server_error(
                &format!("{shown}:{}: creating function {}", f.line, f.name),
                &e,
            )
        })?;
        let sig: String = tx
            .query_one(
                &format!(
                    "SELECT '{schema}{}({})'::regprocedure::text",
                    f.name,
                    f.arg_types.join(", ").replace('\'', "''")
                ),
                &[],
            )
            .map(|r| r.get(0))
            .unwrap_or_else(|_| format!("{}({})", f.name, f.args));
        created.push(format!("  {sig} RETURNS {}", f.returns));
    }
    tx.commit().map_err(|e| server_error("COMMIT", &e))?;
    println!(
        "{} JavaScript library {name} ({} bytes); {} function{}:",
        if exists { "replaced" } else { "loaded" },
        text.len(),
        created.len(),
        if created.len() == 1 { "" } else { "s" }
    );
    for c in created {
        println!("{c}");
    }
    Ok(())
}

/// A line on stderr while the server works: a spinner with the seconds
/// on a terminal, else a line every five seconds (CI logs).
struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    started: Instant,
}

impl Progress {
    fn start(what: String, quiet: bool) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let thread = (!quiet).then(|| {
            let done = done.clone();
            let tty = std::io::stderr().is_terminal();
            if !tty {
                eprintln!("pg-wasm: {what}");
            }
            std::thread::spawn(move || {
                let frames = ['|', '/', '-', '\\'];
                let mut i = 0usize;
                let mut next_line = 5;
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    let secs = started.elapsed().as_secs_f64();
                    if tty {
                        eprint!("\r{} {what}… {secs:.1} s ", frames[i % 4]);
                        let _ = std::io::stderr().flush();
                        i += 1;
                    } else if secs as u64 >= next_line {
                        eprintln!("pg-wasm: still working ({} s)", secs as u64);
                        next_line += 5;
                    }
                }
                if tty {
                    eprint!("\r\x1b[2K");
                }
            })
        });
        Progress {
            done,
            thread,
            started,
        }
    }

    fn stop(mut self) -> Duration {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.started.elapsed()
    }
}
