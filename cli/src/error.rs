//! The CLI's one error type and its exit status, the way PostgreSQL's own
//! client tools use them: 1 when the command failed (a file, a module, a
//! toolchain, the server refused), 2 when it could not start (bad usage,
//! no connection).

use std::fmt;

#[derive(Debug)]
pub enum CliError {
    /// Bad arguments: exit status 2.
    Usage(String),
    /// No connection to the server: exit status 2.
    Connect(String),
    /// The command ran and failed: exit status 1.
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Failed(_) => 1,
            CliError::Usage(_) | CliError::Connect(_) => 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
            CliError::Connect(m) => write!(f, "could not connect: {m}"),
        }
    }
}

pub type Result<T> = std::result::Result<T, CliError>;

/// `Failed` with a message.
pub fn failed(message: impl Into<String>) -> CliError {
    CliError::Failed(message.into())
}

/// A server error as psql shows it: severity, message, then DETAIL and HINT
/// lines when the server sent them.
pub fn server_error(context: &str, e: &postgres::Error) -> CliError {
    let Some(db) = e.as_db_error() else {
        return failed(format!("{context}: {e}"));
    };
    let mut s = format!("{context}: {}:  {}", db.severity(), db.message());
    if let Some(d) = db.detail() {
        s.push_str(&format!("\nDETAIL:  {d}"));
    }
    if let Some(h) = db.hint() {
        s.push_str(&format!("\nHINT:  {h}"));
    }
    failed(s)
}
