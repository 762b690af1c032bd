//! What several test binaries share (each `mod common;`).

use pg_wasm_runtime::*;

pub const VAULT: &str = include_str!("../../../guest-examples/wat/vault.wat");
pub const SECRET: i64 = 0x5EC2_E7C0_FFEE_1234;

/// An engine with a one-slot pool (1 MB kept resident) and the vault
/// module prepared on it: a second live instance would find no slot.
pub fn one_slot_vault<H: Host + 'static>() -> (Engine, Prepared<H>) {
    let (engine, allocation) = new_engine_with(PoolSettings {
        slots: 1,
        keep_resident: 1 << 20,
    })
    .unwrap();
    assert!(matches!(allocation, Allocation::Pooled(_)));
    let module = compile(&engine, &parse_wat(VAULT).unwrap(), 1 << 20).unwrap();
    let prepared = Prepared::new(&engine, &module).unwrap();
    (engine, prepared)
}
