use crate::error::MemoryLimitExceeded;
use wasmtime::ResourceLimiter;

/// Limits applied to one call (fuel) and one instance (memory, tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel per call; 0 means unlimited.
    pub fuel: u64,
    /// Largest linear memory an instance may have, in bytes.
    pub memory_bytes: usize,
    /// Largest table an instance may have, in elements.
    pub table_elements: usize,
    /// Wall-clock limit per call in milliseconds; 0 means none.
    pub timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 1_000_000_000,
            memory_bytes: 64 << 20,
            table_elements: 100_000,
            timeout_ms: 0,
        }
    }
}

impl Limits {
    /// Fuel to put in the store before a call.
    #[inline]
    pub fn call_fuel(&self) -> u64 {
        if self.fuel == 0 {
            u64::MAX
        } else {
            self.fuel
        }
    }
}

/// Per-store limiter. Growth past the limit is an error (and so a trap),
/// never a `-1` from `memory.grow` that a guest could ignore.
pub(crate) struct StoreLimiter {
    pub(crate) limits: Limits,
    /// A component instantiates several core modules (a language runtime
    /// and its libraries), each with its memory and tables; a core module
    /// is one instance with at most one memory.
    pub(crate) component: bool,
}

impl StoreLimiter {
    pub(crate) fn module(limits: Limits) -> Self {
        StoreLimiter {
            limits,
            component: false,
        }
    }

    pub(crate) fn component(limits: Limits) -> Self {
        StoreLimiter {
            limits,
            component: true,
        }
    }
}

impl ResourceLimiter for StoreLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                desired,
                limit: self.limits.memory_bytes,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.table_elements {
            return Err(wasmtime::Error::msg(format!(
                "table growth to {desired} elements exceeds the limit of {}",
                self.limits.table_elements
            )));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        if self.component {
            100
        } else {
            1
        }
    }

    fn memories(&self) -> usize {
        if self.component {
            16
        } else {
            1
        }
    }

    fn tables(&self) -> usize {
        if self.component {
            64
        } else {
            4
        }
    }
}
