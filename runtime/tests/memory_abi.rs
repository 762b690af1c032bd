//! ABI version 1 without a server: bytes in through pg_wasm_alloc, results
//! out as ptr << 32 | len, pg_wasm_free, bounds checks, and the pg_wasm
//! custom section.

use pg_wasm_runtime::*;

const ECHO: &str = include_str!("../../guest-examples/wat/echo.wat");

fn echo(export: &str) -> Instance<NoHost> {
    let engine = new_engine().unwrap();
    let m = compile(&engine, &parse_wat(ECHO).unwrap(), 1 << 20).unwrap();
    Instance::new(&engine, &m, export, Limits::default(), NoHost).unwrap()
}

#[test]
fn bytes_round_trip_through_guest_memory() {
    let mut i = echo("echo");
    assert!(i.has_memory_abi());
    for value in [&b"hello"[..], b"", &vec![7u8; 3 << 20]] {
        let ptr = i.write_bytes(value, true).unwrap();
        let mut buf = [ValRaw::i32(ptr), ValRaw::i32(value.len() as i32)];
        i.call_after_writes(&mut buf).unwrap();
        let packed = buf[0].get_i64() as u64;
        let (p, l) = ((packed >> 32) as i32, packed as u32 as i32);
        assert_eq!(i.read_bytes(p, l).unwrap(), value);
        i.free(p, l).unwrap();
    }
}

#[test]
fn results_outside_memory_are_errors() {
    let mut i = echo("wild");
    let ptr = i.write_bytes(b"x", true).unwrap();
    let mut buf = [ValRaw::i32(ptr), ValRaw::i32(1)];
    i.call_after_writes(&mut buf).unwrap();
    let packed = buf[0].get_i64() as u64;
    let err = i
        .read_bytes((packed >> 32) as i32, packed as u32 as i32)
        .unwrap_err();
    assert!(err.to_string().contains("outside guest memory"), "{err}");
}

#[test]
fn allocation_is_bounded_by_the_memory_limit() {
    let engine = new_engine().unwrap();
    let m = compile(&engine, &parse_wat(ECHO).unwrap(), 1 << 20).unwrap();
    let limits = Limits {
        memory_bytes: 2 << 20,
        ..Limits::default()
    };
    let mut i = Instance::new(&engine, &m, "echo", limits, NoHost).unwrap();
    match i.write_bytes(&vec![0u8; 4 << 20], true) {
        Err(RuntimeError::Trap { kind, .. }) => assert_eq!(kind, TrapKind::MemoryLimit),
        other => panic!("expected a memory limit trap, got {other:?}"),
    }
}

#[test]
fn modules_without_an_allocator_cannot_take_bytes() {
    let engine = new_engine().unwrap();
    let wat = r#"(module (memory (export "memory") 1) (func (export "f") (param i32 i32)))"#;
    let m = compile(&engine, &parse_wat(wat).unwrap(), 1 << 20).unwrap();
    let mut i = Instance::new(&engine, &m, "f", Limits::default(), NoHost).unwrap();
    assert!(!i.has_memory_abi());
    assert!(i.write_bytes(b"x", true).is_err());
}

#[test]
fn the_pg_wasm_section_is_read_and_concatenated() {
    let wat = r#"(module
        (@custom "pg_wasm" "{\"functions\": {\"a\": {}}}")
        (@custom "other" "ignored")
        (@custom "pg_wasm" "{\"functions\": {\"b\": {}}}"))"#;
    let bytes = parse_wat(wat).unwrap();
    assert_eq!(
        pg_wasm_section(&bytes).unwrap().as_deref(),
        Some(r#"{"functions": {"a": {}}}{"functions": {"b": {}}}"#)
    );
    assert_eq!(
        pg_wasm_section(&parse_wat("(module)").unwrap()).unwrap(),
        None
    );
}
