//! `pg-wasm stats`: the `wasm.stats` view, as a table.

use crate::connect::ConnectOpts;
use crate::error::{server_error, Result};

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    pub conn: ConnectOpts,
    /// Only functions of this module
    #[arg(long)]
    pub module: Option<String>,
}

pub fn run(a: &StatsArgs) -> Result<()> {
    let mut client = a.conn.connect()?;
    let filter = match &a.module {
        Some(m) => format!(
            " WHERE s.function IN (SELECT f.function FROM wasm.functions f WHERE f.module = {})",
            quote_literal(m)
        ),
        None => String::new(),
    };
    let sql = format!(
        "SELECT s.function, s.calls, round(s.total_time_ms::numeric, 3) AS total_time_ms, \
         round(s.mean_time_ms::numeric, 4) AS mean_time_ms, s.fuel_used, s.traps, s.last_error \
         FROM wasm.stats s{filter} ORDER BY s.calls DESC, s.function::text"
    );
    let (columns, rows) =
        crate::table::query_text(&mut client, &sql).map_err(|e| server_error("wasm.stats", &e))?;
    crate::table::print(&columns, &rows);
    Ok(())
}

/// A SQL string literal (standard_conforming_strings is on by default and
/// E'' works either way).
pub fn quote_literal(s: &str) -> String {
    if s.contains('\\') {
        format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}
