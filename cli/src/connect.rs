//! A connection the way psql makes one: `--dbname` as a database name or a
//! connection string (`host=... dbname=...` or `postgresql://...`), `-h`,
//! `-p`, `-U`, the `PG*` environment variables, and the password from
//! `PGPASSWORD` or the password file (`PGPASSFILE`, `~/.pgpass`). Later
//! sources win: defaults, environment, options, connection string. TLS as
//! libpq does it: `sslmode` (disable, prefer by default, require, verify-ca,
//! verify-full) and `sslrootcert`, or `PGSSLMODE` and `PGSSLROOTCERT`.

use crate::error::{CliError, Result};
use postgres::config::Host;
use postgres::config::SslMode;
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
    pub fn config(&self) -> Result<(Config, Tls)> {
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
        let mut tls = Tls {
            mode: env("PGSSLMODE").unwrap_or_else(|| "prefer".into()),
            root_cert: env("PGSSLROOTCERT").map(PathBuf::from),
        };
        let mut config = match &self.dbname {
            Some(d) if is_conninfo(d) => {
                // The crate knows disable/prefer/require only: the TLS
                // settings are ours to read and take out.
                let (rest, mode, root) = take_tls_params(d);
                if let Some(m) = mode {
                    tls.mode = m;
                }
                if let Some(r) = root {
                    tls.root_cert = Some(PathBuf::from(r));
                }
                Config::from_str(&rest)
                    .map_err(|e| CliError::Usage(format!("invalid connection string: {e}")))?
            }
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
        Ok((config, tls))
    }

    pub fn connect(&self) -> Result<Client> {
        let (mut config, tls) = self.config()?;
        let on_socket = matches!(config.get_hosts().first(), Some(Host::Unix(_)));
        let fail = |e: postgres::Error, c: &Config| {
            CliError::Connect(format!("{} ({})", describe_error(&e), target(c)))
        };
        // Sockets never use TLS (as in libpq), nor does sslmode=disable.
        if on_socket || tls.mode == "disable" {
            config.ssl_mode(SslMode::Disable);
            return config.connect(NoTls).map_err(|e| fail(e, &config));
        }
        let connector = tls.connector()?;
        config.ssl_mode(if tls.mode == "prefer" || tls.mode == "allow" {
            SslMode::Prefer
        } else {
            SslMode::Require
        });
        config.connect(connector).map_err(|e| fail(e, &config))
    }
}

/// TLS settings as libpq reads them.
#[derive(Debug, Clone)]
pub struct Tls {
    pub mode: String,
    pub root_cert: Option<PathBuf>,
}

impl Tls {
    /// A connector that checks what `mode` asks: nothing for prefer and
    /// require (unless a root certificate is given: then the chain, as
    /// libpq does), the chain for verify-ca, chain and host name for
    /// verify-full.
    fn connector(&self) -> Result<postgres_native_tls::MakeTlsConnector> {
        let mut b = native_tls::TlsConnector::builder();
        let (chain, host) = match self.mode.as_str() {
            "allow" | "prefer" => (false, false),
            "require" => (self.root_cert.is_some(), false),
            "verify-ca" => (true, false),
            "verify-full" => (true, true),
            other => {
                return Err(CliError::Usage(format!(
                    "invalid sslmode \"{other}\": use disable, allow, prefer, require, verify-ca or verify-full"
                )))
            }
        };
        b.danger_accept_invalid_certs(!chain);
        b.danger_accept_invalid_hostnames(!host);
        if let Some(path) = &self.root_cert {
            let pem = std::fs::read(path)
                .map_err(|e| CliError::Usage(format!("sslrootcert \"{}\": {e}", path.display())))?;
            let cert = native_tls::Certificate::from_pem(&pem)
                .map_err(|e| CliError::Usage(format!("sslrootcert \"{}\": {e}", path.display())))?;
            b.add_root_certificate(cert);
        }
        let c = b
            .build()
            .map_err(|e| CliError::Connect(format!("cannot set up TLS: {e}")))?;
        Ok(postgres_native_tls::MakeTlsConnector::new(c))
    }
}

/// `s` without its `sslmode` and `sslrootcert` settings, and their values
/// (key=value strings and URIs' query parameters).
fn take_tls_params(s: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut root) = (None, None);
    let mut take = |kv: &str| -> bool {
        if let Some(v) = kv.strip_prefix("sslmode=") {
            mode = Some(v.trim_matches('\'').to_string());
            true
        } else if let Some(v) = kv.strip_prefix("sslrootcert=") {
            root = Some(v.trim_matches('\'').to_string());
            true
        } else {
            false
        }
    };
    let rest = if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        match s.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query.split('&').filter(|kv| !take(kv)).collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => s.to_string(),
        }
    } else {
        s.split_whitespace()
            .filter(|kv| !take(kv))
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, mode, root)
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
    fn tls_params() {
        let (rest, mode, root) =
            take_tls_params("host=db dbname=app sslmode=verify-full sslrootcert=/ca.pem");
        assert_eq!(rest, "host=db dbname=app");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/ca.pem"));
        let (rest, mode, _) =
            take_tls_params("postgresql://u@h/db?sslmode=require&application_name=x");
        assert_eq!(rest, "postgresql://u@h/db?application_name=x");
        assert_eq!(mode.as_deref(), Some("require"));
        let (rest, mode, _) = take_tls_params("postgresql://u@h/db?sslmode=disable");
        assert_eq!(
            (rest.as_str(), mode.as_deref()),
            ("postgresql://u@h/db", Some("disable"))
        );
    }

    #[test]
    fn connection_strings() {
        assert!(is_conninfo("host=x dbname=y"));
        assert!(is_conninfo("postgresql://u@h/db"));
        assert!(!is_conninfo("mydb"));
    }
}
