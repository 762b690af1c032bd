//! A module's own limits (`wasm.load` options, `wasm.configure`), stored as
//! JSON in `wasm.module.limits`.

use crate::error::{PgWasmError, Result};
use crate::guc;
use pg_wasm_runtime::Limits;
use serde_json::{Map, Value};

/// Keys a module may set. Absent means "use the GUC".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Fuel per call; 0 = unlimited (still bounded by the GUC).
    pub fuel: Option<u64>,
    pub memory_mb: Option<u64>,
    /// Wall-clock limit per call; 0 = none (still bounded by the GUC).
    pub timeout_ms: Option<u64>,
    /// Whether the module may run SQL through `pg.query`.
    pub allow_spi: bool,
}

pub const KEYS: &[&str] = &["fuel", "memory_mb", "timeout_ms", "allow_spi"];

fn non_negative(key: &str, v: &Value) -> Result<u64> {
    v.as_u64().ok_or_else(|| {
        PgWasmError::InvalidParameter(format!(
            "option \"{key}\" must be a non-negative integer, not {v}"
        ))
    })
}

impl Settings {
    pub fn from_json(v: &Value) -> Result<Self> {
        let mut s = Settings::default();
        s.apply(v)?;
        Ok(s)
    }

    /// Applies the limit keys of `options`; a key set to null goes back to
    /// the GUC default. Keys that are not limits are left to the caller.
    pub fn apply(&mut self, options: &Value) -> Result<()> {
        let Some(obj) = options.as_object() else {
            return Ok(());
        };
        for (key, v) in obj {
            let slot = match key.as_str() {
                "fuel" => &mut self.fuel,
                "memory_mb" => &mut self.memory_mb,
                "timeout_ms" => &mut self.timeout_ms,
                "allow_spi" => {
                    self.allow_spi = match v {
                        Value::Bool(b) => *b,
                        Value::Null => false,
                        other => {
                            return Err(PgWasmError::InvalidParameter(format!(
                                "option \"allow_spi\" must be true or false, not {other}"
                            )))
                        }
                    };
                    continue;
                }
                _ => continue,
            };
            *slot = if v.is_null() {
                None
            } else {
                let n = non_negative(key, v)?;
                if key == "memory_mb" && n == 0 {
                    return Err(PgWasmError::InvalidParameter(
                        "option \"memory_mb\" must be at least 1".into(),
                    ));
                }
                Some(n)
            };
        }
        Ok(())
    }

    pub fn to_json(self) -> Value {
        let mut m = Map::new();
        if let Some(f) = self.fuel {
            m.insert("fuel".into(), f.into());
        }
        if let Some(mb) = self.memory_mb {
            m.insert("memory_mb".into(), mb.into());
        }
        if let Some(ms) = self.timeout_ms {
            m.insert("timeout_ms".into(), ms.into());
        }
        if self.allow_spi {
            m.insert("allow_spi".into(), true.into());
        }
        Value::Object(m)
    }

    /// The limits a call runs under: the tightest of the session's GUC, the
    /// superuser's maximum and the module's own setting.
    pub fn effective(self) -> Limits {
        let guc = |g: &pgrx::GucSetting<i32>| g.get().max(0) as u64;
        let fuel = min_nonzero(
            min_nonzero(guc(&guc::FUEL_LIMIT), guc(&guc::MAX_FUEL_LIMIT)),
            self.fuel.unwrap_or(0),
        );
        let timeout_ms = min_nonzero(
            min_nonzero(guc(&guc::TIMEOUT_MS), guc(&guc::MAX_TIMEOUT_MS)),
            self.timeout_ms.unwrap_or(0),
        );
        let guc_mb = guc(&guc::MEMORY_LIMIT_MB)
            .min(guc(&guc::MAX_MEMORY_LIMIT_MB))
            .max(1);
        let mb = self.memory_mb.map_or(guc_mb, |m| m.min(guc_mb));
        Limits {
            fuel,
            memory_bytes: (mb as usize) << 20,
            timeout_ms,
            ..Limits::default()
        }
    }
}

/// The tighter of two limits where 0 means "no limit".
fn min_nonzero(a: u64, b: u64) -> u64 {
    match (a, b) {
        (a, 0) => a,
        (0, b) => b,
        (a, b) => a.min(b),
    }
}
