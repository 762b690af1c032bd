//! A connection the way psql makes one: `--dbname` as a database name or a
//! connection string (`host=... dbname=...` or `postgresql://...`), `-h`,
//! `-p`, `-U`, the `PG*` environment variables, and the password from
//! `PGPASSWORD` or the password file (`PGPASSFILE`, `~/.pgpass`). Later
//! sources win: defaults, environment, options, connection string.

use crate::error::{CliError, Result};
use postgres::config::Host;
use postgres::{Client, Config, NoTls};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The connection options every command that talks to a server takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnectOpts {
    /// Database name or connection string (key=value or postgresql:// URI)
    #[arg(short = 'd', long = "dbname", value_name = "DBNAME")]
    pub dbname: Option<String>,
    /// Database server host or socket directory
    #[arg(short = 'h', long = "host", value_name = "HOSTNAME")]
    pub host: Option<String>,
    /// Database server port
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<u16>,
    /// Database user name
    #[arg(short = 'U', long = "username", value_name = "USERNAME")]
    pub username: Option<String>,
    /// Print help (-h is the host, as in psql)
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// The socket directories libpq builds look in, Debian's first.
const SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

impl ConnectOpts {
    /// The configuration these options, the environment and the password
    /// file give, before connecting.
    pub fn config(&self) -> Result<Config> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut host = env("PGHOST");
        let mut port: Option<u16> = match env("PGPORT") {
            Some(p) => Some(
                p.parse()
                    .map_err(|_| CliError::Usage(format!("invalid PGPORT \"{p}\"")))?,
            ),
            None => None,
        };
        let mut user = env("PGUSER");
        let mut dbname = env("PGDATABASE");
        if let Some(h) = &self.host {
            host = Some(h.clone());
        }
        if let Some(p) = self.port {
            port = Some(p);
        }
        if let Some(u) = &self.username {
            user = Some(u.clone());
        }
        let mut config = match &self.dbname {
            Some(d) if is_conninfo(d) => Config::from_str(d)
                .map_err(|e| CliError::Usage(format!("invalid connection string: {e}")))?,
            Some(d) => {
                dbname = Some(d.clone());
                Config::new()
            }
            None => Config::new(),
        };
        if config.get_hosts().is_empty() {
            let h = host.unwrap_or_else(|| {
                SOCKET_DIRS
                    .iter()
                    .find(|d| Path::new(d).is_dir())
                    .unwrap_or(&SOCKET_DIRS[1])
                    .to_string()
            });
            config.host(&h);
        }
        if config.get_ports().is_empty() {
            config.port(port.unwrap_or(5432));
        }
        if config.get_user().is_none() {
            let u = user
                .or_else(|| env("USER"))
                .or_else(|| env("LOGNAME"))
                .or_else(os_user)
                .ok_or_else(|| CliError::Usage("no user name: use -U or PGUSER".into()))?;
            config.user(&u);
        }
        if config.get_dbname().is_none() {
            let d = dbname.unwrap_or_else(|| config.get_user().unwrap_or_default().to_string());
            config.dbname(&d);
        }
        if config.get_application_name().is_none() {
            config.application_name(&env("PGAPPNAME").unwrap_or_else(|| "pg-wasm".into()));
        }
        if config.get_connect_timeout().is_none() {
            let secs = env("PGCONNECT_TIMEOUT")
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(30);
            config.connect_timeout(Duration::from_secs(secs.max(2)));
        }
        if config.get_password().is_none() {
            if let Some(p) = env("PGPASSWORD").or_else(|| password_from_file(&config)) {
                config.password(p);
            }
        }
        Ok(config)
    }

    pub fn connect(&self) -> Result<Client> {
        let config = self.config()?;
        config
            .connect(NoTls)
            .map_err(|e| CliError::Connect(format!("{} ({})", describe_error(&e), target(&config))))
    }
}

/// The operating system's name for the effective user, libpq's default.
fn os_user() -> Option<String> {
    // SAFETY: getpwuid returns NULL or a pointer to a static record that
    // stays valid until the next getpw* call; we copy the name out at once
    // and make no other getpw* call in between (one thread reads it here).
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

fn is_conninfo(s: &str) -> bool {
    s.contains('=') || s.starts_with("postgresql://") || s.starts_with("postgres://")
}

/// "server at host:port, database d as user u", for connection errors.
fn target(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "?".into(),
    };
    format!(
        "server at {host} port {}, database \"{}\", user \"{}\"",
        config.get_ports().first().copied().unwrap_or(5432),
        config.get_dbname().unwrap_or_default(),
        config.get_user().unwrap_or_default()
    )
}

fn describe_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                s.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            s
        }
    }
}

/// The password file's line for this connection, as libpq matches it:
/// `host:port:database:user:password`, `*` matching anything, `\:` and
/// `\\` escaped; a socket connection matches host `localhost`. A file
/// others can read is ignored, with a warning, as libpq does.
fn password_from_file(config: &Config) -> Option<String> {
    let path = match std::env::var("PGPASSFILE") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(std::env::var("HOME").ok()?).join(".pgpass"),
    };
    let meta = std::fs::metadata(&path).ok()?;
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "pg-wasm: WARNING: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(_) => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let want = [
        host.as_str(),
        port.as_str(),
        config.get_dbname().unwrap_or_default(),
        config.get_user().unwrap_or_default(),
    ];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(split_pgpass)
        .find(|fields| {
            fields.len() == 5
                && fields[..4]
                    .iter()
                    .zip(want)
                    .all(|(f, w)| f == "*" || f == w)
        })
        .map(|mut fields| fields.pop().unwrap())
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().unwrap().push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines() {
        assert_eq!(
            split_pgpass(r"db.example:5432:*:ann:se\:cr\\et"),
            ["db.example", "5432", "*", "ann", r"se:cr\et"]
        );
        assert_eq!(split_pgpass("a:b:c:d:e:f"), ["a", "b", "c", "d", "e:f"]);
    }

    #[test]
    fn connection_strings() {
        assert!(is_conninfo("host=x dbname=y"));
        assert!(is_conninfo("postgresql://u@h/db"));
        assert!(!is_conninfo("mydb"));
    }
}
