//! `pg-wasm`: from source to a running function in one command, from any
//! machine. Talks to a server only through pg_wasm's public SQL API over
//! an ordinary connection; runs exports locally through the runtime crate
//! the server uses.

mod builder;
mod connect;
mod deploy;
mod error;
mod inspect;
mod jsfile;
mod new;
mod run;
mod sandbox;
mod source;
mod sqltype;
mod stats;
mod table;

use clap::{Parser, Subcommand};
use error::CliError;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "pg-wasm",
    version,
    about = "pg_wasm's command line: new, build, run locally, deploy, inspect, stats",
    long_about = "pg_wasm's command line: start a guest (new), build it (build), call an export locally in the server's sandbox (run), load it into a database over an ordinary connection (deploy), and look at modules (inspect) and calls (stats).\n\nConnections take -d/--dbname (a name or a connection string), -h, -p, -U, the PG* environment variables and ~/.pgpass, as psql does.\n\nExit status: 0 success, 1 the command failed, 2 bad usage or no connection."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a guest project from a template
    New(new::NewArgs),
    /// Build a guest project into build/NAME.wasm with the toolchain present
    Build(builder::BuildArgs),
    /// Call an export locally, in the sandbox the server uses
    Run(run::RunArgs),
    /// Load or replace a module (or a .js library and its functions) in a database
    #[command(disable_help_flag = true)]
    Deploy(deploy::DeployArgs),
    /// Show a module's imports, exports and the SQL functions a load creates
    Inspect(inspect::InspectArgs),
    /// Show wasm.stats: calls, time, fuel, traps and last error per function
    #[command(disable_help_flag = true)]
    Stats(stats::StatsArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print and succeed; bad usage exits 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match &cli.command {
        Command::New(a) => new::run(a),
        Command::Build(a) => builder::run(a),
        Command::Run(a) => run::run(a),
        Command::Deploy(a) => deploy::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Stats(a) => stats::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(e),
    }
}

fn report(e: CliError) -> ExitCode {
    eprintln!("pg-wasm: {e}");
    ExitCode::from(e.exit_code() as u8)
}
