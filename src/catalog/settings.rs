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
}

pub const KEYS: &[&str] = &["fuel", "memory_mb"];

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
                "timeout_ms" | "allow_spi" => {
                    return Err(PgWasmError::Unsupported(format!(
                        "option \"{key}\" is not supported yet"
                    )))
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
        Value::Object(m)
    }

    /// The limits a call runs under: the module's setting where it is
    /// tighter than the session's GUC, the GUC otherwise.
    pub fn effective(self) -> Limits {
        let guc_fuel = guc::FUEL_LIMIT.get().max(0) as u64;
        let fuel = match (self.fuel, guc_fuel) {
            (None, g) => g,
            (Some(0), g) => g,
            (Some(m), 0) => m,
            (Some(m), g) => m.min(g),
        };
        let guc_mb = guc::MEMORY_LIMIT_MB.get().max(1) as u64;
        let mb = self.memory_mb.map_or(guc_mb, |m| m.min(guc_mb));
        Limits {
            fuel,
            memory_bytes: (mb as usize) << 20,
            ..Limits::default()
        }
    }
}
