//! Compiled modules stored once per cluster and mapped by every process.
//!
//! Layout under the store's root (the server's data directory holds it):
//!
//! ```text
//! objects/<key>.cwasm        wasmtime's serialized module, written once
//! db/<database>/<key>.cwasm  a hard link per database whose modules use it
//! ```
//!
//! `<key>` is the module's sha256 and the engine's compatibility hash (in
//! base32, so that every path stays within the 99 bytes that
//! `pg_basebackup`'s tar format allows), so
//! an artifact of another wasmtime, other settings or another CPU is never
//! looked up (and one that still does not fit is rejected by wasmtime).
//! Files are written to a temporary name, synced and renamed, so a crash
//! never leaves a partial artifact under a real name; they are never
//! changed in place afterwards, only replaced by rename or unlinked, which
//! leaves processes that mapped the old file with their mapping intact.
//!
//! The link count of an object is its reference count: a database's link
//! is made when one of its modules needs the artifact and removed when none
//! does; an object with no link left is removed by [`Store::cleanup`].

use crate::host::check_imports;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

const SUFFIX: &str = ".cwasm";
const TEMP_PREFIX: &str = ".tmp-";
/// A temporary file this old belongs to a writer that died.
const TEMP_MAX_AGE: Duration = Duration::from_secs(600);

/// The compiled-artifact directory of one cluster.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// Compiled code the store keeps: a core module or a component.
pub trait Artifact: Sized {
    fn serialize(&self) -> wasmtime::Result<Vec<u8>>;
    /// Maps `path`, checking what a stored artifact must satisfy.
    ///
    /// # Safety
    /// `path` must hold this engine's serialized form of `Self`, written by
    /// [`Store::store`] and never modified in place (see `Store::lookup`).
    unsafe fn map(engine: &Engine, path: &Path) -> Result<Self, String>;
}

impl Artifact for Module {
    fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        Module::serialize(self)
    }

    unsafe fn map(engine: &Engine, path: &Path) -> Result<Self, String> {
        // SAFETY: forwarded from the caller.
        let m = unsafe { Module::deserialize_file(engine, path) }.map_err(|e| format!("{e:#}"))?;
        check_imports(&m).map_err(|e| e.to_string())?;
        Ok(m)
    }
}

impl Artifact for Component {
    fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        Component::serialize(self)
    }

    unsafe fn map(engine: &Engine, path: &Path) -> Result<Self, String> {
        // SAFETY: forwarded from the caller.
        let c =
            unsafe { Component::deserialize_file(engine, path) }.map_err(|e| format!("{e:#}"))?;
        crate::component::check_component_imports(engine, &c).map_err(|e| e.to_string())?;
        Ok(c)
    }
}

/// What [`Store::lookup`] found.
pub enum Lookup<T = Module> {
    /// A usable artifact, mapped from its file.
    Mapped(T),
    /// None stored for this key.
    Missing,
    /// A file that does not deserialize or does not fit this engine; it
    /// has been removed, and the reason is for a debug message.
    Rejected(String),
}

/// One stored artifact, for `wasm.cache`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    /// The module's sha256.
    pub sha256: [u8; 32],
    pub size: u64,
    /// Databases whose modules use it.
    pub databases: u64,
    pub created: SystemTime,
}

/// A stable name for the engine's compatibility hash (wasmtime version,
/// compiler settings, CPU features): a stable hasher, so the key does not
/// change with the Rust version that built pg_wasm.
pub fn engine_key(engine: &Engine) -> String {
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn finish(&self) -> u64 {
            let d = self.0.clone().finalize();
            u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes)
        }
    }
    let mut h = Sha(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    base32(&h.finish().to_be_bytes())
}

/// The key of a module's artifact under `engine`: the whole sha256 and the
/// engine key in base32. Not hex: `pg_basebackup`'s tar format refuses
/// paths longer than 99 bytes, and a hex key would make
/// `pg_wasm/db/<oid>/<key>.cwasm` 113 (see `longest_path_fits_tar`).
pub fn key(sha256: &[u8; 32], engine_key: &str) -> String {
    format!("{}-{engine_key}", base32(sha256))
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32, lower case, without padding (file-name safe, and the
/// same on case-insensitive file systems).
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0);
    for &b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        let v = BASE32.iter().position(|&x| x == c)? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn parse_sha(key: &str) -> Option<[u8; 32]> {
    let (sha, _) = key.split_once('-')?;
    unbase32(sha)?.try_into().ok()
}

fn private_dir(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o700).recursive(true).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

fn temp_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

impl Store {
    /// The store at `root`, created (mode 0700) if needed.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Store> {
        let store = Store { root: root.into() };
        private_dir(&store.root.join("objects"))?;
        private_dir(&store.root.join("db"))?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn object(&self, key: &str) -> PathBuf {
        self.root.join("objects").join(format!("{key}{SUFFIX}"))
    }

    fn db_dir(&self, db: &str) -> PathBuf {
        self.root.join("db").join(db)
    }

    /// The path of database `db`'s link to `key`.
    pub fn link_path(&self, db: &str, key: &str) -> PathBuf {
        self.db_dir(db).join(format!("{key}{SUFFIX}"))
    }

    /// The artifact `key` for database `db`, mapped. A database without its
    /// own link uses the shared object and links it. A file that does not
    /// deserialize or does not fit is removed and reported as rejected.
    pub fn lookup<T: Artifact>(&self, engine: &Engine, db: &str, key: &str) -> Lookup<T> {
        let link = self.link_path(db, key);
        let path = if link.exists() {
            link.clone()
        } else {
            let object = self.object(key);
            if !object.exists() {
                return Lookup::Missing;
            }
            // Another database's artifact: take a link of our own (so
            // cleanup sees this database uses it) and read through it.
            match self.link(db, key) {
                Ok(_) => link.clone(),
                Err(_) => object,
            }
        };
        // SAFETY: the file was written by `store` (this engine's serialized
        // form) in a directory only the server's OS user can write, and is
        // never modified in place (replaced by rename or unlinked only), so
        // the mapping stays valid for the life of the Module. Any file
        // wasmtime cannot read as a module of this engine is an error here.
        let mapped = unsafe { T::map(engine, &path) };
        match mapped {
            Ok(m) => Lookup::Mapped(m),
            // Removed by a concurrent cleanup after we found it: not damaged.
            Err(_) if !path.exists() => Lookup::Missing,
            Err(e) => self.reject(db, key, e),
        }
    }

    /// The artifact `key`, mapped, if one is stored and fits; unlike
    /// [`Store::lookup`] it neither links it for `db` nor removes a file
    /// that does not fit (for `wasm.load` of code compiled before: the load
    /// links it when it stores its own).
    pub fn peek<T: Artifact>(&self, engine: &Engine, db: &str, key: &str) -> Option<T> {
        let link = self.link_path(db, key);
        let path = if link.exists() {
            link
        } else {
            self.object(key)
        };
        if !path.exists() {
            return None;
        }
        // SAFETY: as in `lookup`: a file `store` wrote in a directory only
        // the server's OS user can write, never modified in place.
        unsafe { T::map(engine, &path) }.ok()
    }

    fn reject<T>(&self, db: &str, key: &str, why: String) -> Lookup<T> {
        let _ = fs::remove_file(self.link_path(db, key));
        let _ = fs::remove_file(self.object(key));
        Lookup::Rejected(why)
    }

    /// Stores `module` (compiled by this engine) as `key` and links it for
    /// `db`. Returns whether this call created the database's link.
    pub fn store<T: Artifact>(&self, db: &str, key: &str, module: &T) -> Result<bool, String> {
        let object = self.object(key);
        if !object.exists() {
            let bytes = module
                .serialize()
                .map_err(|e| format!("cannot serialize the compiled module: {e:#}"))?;
            self.write_object(key, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", object.display()))?;
        }
        self.link(db, key)
            .map_err(|e| format!("cannot link {} for database {db}: {e}", object.display()))
    }

    /// Writes `bytes` as object `key`: temporary file (0600), fsync,
    /// rename, fsync of the directory.
    fn write_object(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        let dir = self.root.join("objects");
        let temp = dir.join(temp_name());
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&temp, self.object(key))?;
            sync_dir(&dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Links object `key` into `db`'s directory; true when the link is new.
    fn link(&self, db: &str, key: &str) -> io::Result<bool> {
        let dir = self.db_dir(db);
        private_dir(&dir)?;
        match fs::hard_link(self.object(key), self.link_path(db, key)) {
            Ok(()) => {
                sync_dir(&dir)?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes database `db`'s link to `key` (the object goes at the next
    /// cleanup if no database links it).
    pub fn unlink(&self, db: &str, key: &str) -> io::Result<()> {
        match fs::remove_file(self.link_path(db, key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes database `db`'s links to `keys`, then every object no
    /// database links any more. Errors are ignored: what stays is removed
    /// by a later cleanup.
    pub fn release(&self, db: &str, keys: &[String]) {
        for key in keys {
            let _ = self.unlink(db, key);
        }
        let _ = self.cleanup(None);
    }

    /// The links of database `db` that are not in `keep`.
    pub fn unused_links(&self, db: &str, keep: &HashSet<String>) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        let dir = self.db_dir(db);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let name = entry?.file_name();
            let Some(key) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
                continue;
            };
            if !keep.contains(key) {
                out.push(key.to_string());
            }
        }
        Ok(out)
    }

    /// Removes the directories of databases not in `live` (dropped ones),
    /// objects no database links any more, and temporary files of writers
    /// that died. Returns how many files went.
    pub fn cleanup(&self, live: Option<&HashSet<String>>) -> io::Result<usize> {
        let mut removed = 0;
        if let Some(live) = live {
            for entry in fs::read_dir(self.root.join("db"))? {
                let entry = entry?;
                let name = entry.file_name();
                if !name.to_str().is_some_and(|n| live.contains(n)) {
                    removed += fs::read_dir(entry.path())?.count();
                    fs::remove_dir_all(entry.path())?;
                }
            }
        }
        let now = SystemTime::now();
        for entry in fs::read_dir(self.root.join("objects"))? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(_) => continue, // removed meanwhile
            };
            let stale_temp = name.starts_with(TEMP_PREFIX)
                && meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age > TEMP_MAX_AGE);
            if stale_temp || (name.ends_with(SUFFIX) && meta.nlink() <= 1) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// Every stored artifact.
    pub fn list(&self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.root.join("objects"))? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(key) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
                continue;
            };
            let Some(sha256) = parse_sha(key) else {
                continue;
            };
            let Ok(meta) = entry.metadata() else { continue };
            out.push(Entry {
                key: key.to_string(),
                sha256,
                size: meta.len(),
                databases: meta.nlink().saturating_sub(1),
                created: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Removes every artifact and link (they are rebuilt on next use).
    pub fn clear(&self) -> io::Result<usize> {
        let mut removed = 0;
        for sub in ["db", "objects"] {
            let dir = self.root.join(sub);
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    removed += fs::read_dir(entry.path())?.count();
                    fs::remove_dir_all(entry.path())?;
                } else {
                    fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trip() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            assert_eq!(unbase32(&base32(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn longest_path_fits_tar() {
        // pg_basebackup (tar format) refuses names longer than 99 bytes,
        // relative to the data directory; database OIDs have 10 digits at most.
        let k = key(&[0xff; 32], &base32(&u64::MAX.to_be_bytes()));
        let store = Store {
            root: PathBuf::from("pg_wasm"),
        };
        let longest = store.link_path("4294967295", &k);
        assert!(longest.as_os_str().len() <= 99, "{}", longest.display());
        assert_eq!(parse_sha(&k), Some([0xff; 32]));
    }
}
