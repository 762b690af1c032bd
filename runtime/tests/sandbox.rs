//! The sandbox without a server: compile, describe, call, and every way a
//! call can stop.

use pg_wasm_runtime::*;

fn engine() -> Engine {
    new_engine().expect("engine")
}

fn module(engine: &Engine, wat: &str) -> Module {
    let bytes = parse_wat(wat).expect("wat");
    compile(engine, &bytes, 1 << 20).expect("compile")
}

fn instance(wat: &str, export: &str, limits: Limits) -> Instance<NoHost> {
    let engine = engine();
    let m = module(&engine, wat);
    Instance::new(&engine, &m, export, limits, NoHost).expect("instantiate")
}

const ADD: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "mul64") (param i64 i64) (result i64) local.get 0 local.get 1 i64.mul)
  (func (export "hyp") (param f64 f64) (result f64)
    local.get 0 local.get 0 f64.mul local.get 1 local.get 1 f64.mul f64.add f64.sqrt)
  (memory (export "memory") 1))"#;

fn trap_of(wat: &str, export: &str, limits: Limits) -> (TrapKind, String, Option<String>) {
    let mut i = instance(wat, export, limits);
    let mut buf = vec![ValRaw::i32(0); i.slots().max(1)];
    match i.call(&mut buf) {
        Err(RuntimeError::Trap {
            kind,
            message,
            backtrace,
        }) => (kind, message, backtrace),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn calls_numeric_exports() {
    let mut add = instance(ADD, "add", Limits::default());
    assert_eq!(add.sig().to_string(), "(i32, i32) -> (i32)");
    let mut buf = [ValRaw::i32(40), ValRaw::i32(2)];
    let fuel = add.call(&mut buf).unwrap();
    assert_eq!(buf[0].get_i32(), 42);
    assert!(fuel > 0 && fuel < 100, "fuel used {fuel}");

    let mut wrap = [ValRaw::i32(i32::MAX), ValRaw::i32(1)];
    add.call(&mut wrap).unwrap();
    assert_eq!(wrap[0].get_i32(), i32::MIN, "i32.add wraps");

    let mut mul = instance(ADD, "mul64", Limits::default());
    let mut buf = [ValRaw::i64(1 << 40), ValRaw::i64(3)];
    mul.call(&mut buf).unwrap();
    assert_eq!(buf[0].get_i64(), 3 << 40);

    let mut hyp = instance(ADD, "hyp", Limits::default());
    let mut buf = [ValRaw::f64(3f64.to_bits()), ValRaw::f64(4f64.to_bits())];
    hyp.call(&mut buf).unwrap();
    assert_eq!(f64::from_bits(buf[0].get_f64()), 5.0);
}

#[test]
fn describes_imports_and_exports() {
    let engine = engine();
    let m = module(&engine, ADD);
    let info = describe(&m);
    assert!(info.imports.is_empty());
    let names: Vec<_> = info
        .exports
        .iter()
        .map(|e| (e.kind, e.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("func", "add"),
            ("func", "mul64"),
            ("func", "hyp"),
            ("memory", "memory")
        ]
    );
    let hyp = info.export_func("hyp").unwrap();
    assert_eq!(hyp.params, ["f64", "f64"]);
    assert_eq!(hyp.sig.as_ref().unwrap().results, [WasmType::F64]);
    assert!(info.export_func("memory").is_none());
}

#[test]
fn refuses_bad_input() {
    let engine = engine();
    assert!(matches!(
        parse_wat("(module (func (export \"f\") (result i32) i64.const 1))").and_then(|b| compile(
            &engine,
            &b,
            1 << 20
        )),
        Err(RuntimeError::InvalidModule(_))
    ));
    assert!(matches!(
        parse_wat("(module (func"),
        Err(RuntimeError::InvalidWat(_))
    ));
    assert!(matches!(
        compile(&engine, b"not wasm", 1 << 20),
        Err(RuntimeError::InvalidModule(_))
    ));
    assert!(matches!(
        compile(&engine, b"\0asm\x01\0\0\0\x01", 1 << 20),
        Err(RuntimeError::InvalidModule(_))
    ));
    let big = parse_wat(ADD).unwrap();
    assert_eq!(
        compile(&engine, &big, 10).unwrap_err(),
        RuntimeError::TooLarge {
            size: big.len(),
            limit: 10
        }
    );
    let imports = parse_wat(r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#).unwrap();
    assert_eq!(
        compile(&engine, &imports, 1 << 20).unwrap_err(),
        RuntimeError::UnsupportedImport {
            module: "wasi_snapshot_preview1".into(),
            name: "fd_write".into(),
            reason: "pg_wasm provides only pg.log, pg.error and pg.query (no WASI)".into()
        }
    );
}

#[test]
fn missing_export_is_an_error() {
    let engine = engine();
    let m = module(&engine, ADD);
    assert_eq!(
        Instance::new(&engine, &m, "nope", Limits::default(), NoHost)
            .err()
            .unwrap(),
        RuntimeError::MissingExport("nope".into())
    );
}

#[test]
fn endless_loop_runs_out_of_fuel() {
    let wat = r#"(module (func (export "spin") (loop br 0)))"#;
    let limits = Limits {
        fuel: 100_000,
        ..Limits::default()
    };
    let (kind, msg, _) = trap_of(wat, "spin", limits);
    assert_eq!(kind, TrapKind::OutOfFuel, "{msg}");
}

#[test]
fn memory_bomb_hits_the_limit() {
    let wat = r#"(module (memory 1)
      (func (export "bomb") (result i32)
        (loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
        (i32.const 0)))"#;
    let limits = Limits {
        memory_bytes: 4 << 20,
        ..Limits::default()
    };
    let (kind, msg, _) = trap_of(wat, "bomb", limits);
    assert_eq!(kind, TrapKind::MemoryLimit, "{msg}");
    assert!(msg.contains("exceeds the limit of 4194304 bytes"), "{msg}");
}

#[test]
fn initial_memory_above_the_limit_fails_instantiation() {
    let engine = engine();
    let m = module(&engine, r#"(module (memory 200) (func (export "f")))"#);
    let limits = Limits {
        memory_bytes: 1 << 20,
        ..Limits::default()
    };
    match Instance::new(&engine, &m, "f", limits, NoHost) {
        Err(RuntimeError::Trap { kind, .. }) => assert_eq!(kind, TrapKind::MemoryLimit),
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap() {
    let wat = r#"(module (func $r (export "rec") (param i32) (result i32)
        (call $r (i32.add (local.get 0) (i32.const 1)))))"#;
    let limits = Limits {
        fuel: 0,
        ..Limits::default()
    };
    let (kind, msg, bt) = trap_of(wat, "rec", limits);
    assert_eq!(kind, TrapKind::StackOverflow, "{msg}");
    assert!(bt.is_some());
}

#[test]
fn traps_carry_message_and_backtrace() {
    let wat = r#"(module
      (func $inner (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
      (func (export "div0") (result i32) (call $inner (i32.const 0)))
      (func (export "boom") unreachable)
      (func (export "oob") (result i32) (i32.load (i32.const 70000)))
      (memory 1))"#;
    let (kind, msg, bt) = trap_of(wat, "div0", Limits::default());
    assert_eq!(kind, TrapKind::Trap);
    assert_eq!(msg, "integer divide by zero");
    let bt = bt.expect("backtrace");
    assert!(bt.contains("inner"), "{bt}");
    let (_, msg, _) = trap_of(wat, "boom", Limits::default());
    assert_eq!(msg, "wasm `unreachable` instruction executed");
    let (_, msg, _) = trap_of(wat, "oob", Limits::default());
    assert_eq!(msg, "out of bounds memory access");
}

#[test]
fn an_instance_survives_a_trap() {
    let wat = r#"(module (func (export "d") (param i32) (result i32)
        (i32.div_u (i32.const 100) (local.get 0))))"#;
    let mut i = instance(wat, "d", Limits::default());
    let mut buf = [ValRaw::i32(0)];
    assert!(i.call(&mut buf).is_err());
    let mut buf = [ValRaw::i32(4)];
    i.call(&mut buf).unwrap();
    assert_eq!(buf[0].get_i32(), 25);
}

/// The ids of this process's threads named `name` (Linux truncates names
/// to 15 bytes).
fn threads_named(name: &str) -> std::collections::HashSet<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|t| {
            let path = t.ok()?.path();
            let comm = std::fs::read_to_string(path.join("comm")).ok()?;
            let id = path.file_name()?.to_string_lossy().into_owned();
            (comm.trim_end() == name).then_some(id)
        })
        .collect()
}

/// A compile abandoned by a cancel finishes in the background on threads
/// of its own: the next compile does not queue behind its functions (with
/// one shared pool, a load after a cancelled load of a large module waited
/// for the cancelled compile's functions). Checked by the order of events,
/// whatever the machine's speed: the small compile must take less time than
/// the abandoned one still needs once the small one is done.
#[test]
fn an_abandoned_compile_does_not_hold_up_the_next() {
    use std::time::{Duration, Instant};
    let engine = engine();
    let big = parse_wat(&format!("(module {})", "(func)".repeat(20_000))).expect("wat");
    let abandoned = compile_with(&engine, &big, &CompileLimits::size(64 << 20), &mut || true);
    assert!(
        matches!(
            &abandoned,
            Err(RuntimeError::Trap {
                kind: TrapKind::Cancelled,
                ..
            })
        ),
        "{abandoned:?}"
    );
    // Its thread, and maybe other tests' compiles (which end at once).
    let running = threads_named("pg_wasm compile");
    assert!(!running.is_empty(), "the abandoned compile goes on");
    let start = Instant::now();
    module(&engine, ADD);
    let small = start.elapsed();
    let done = Instant::now();
    while !running.is_disjoint(&threads_named("pg_wasm compile"))
        && done.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let rest = done.elapsed();
    assert!(
        small < rest,
        "the small module took {small:?} to compile, and the abandoned compile ended {rest:?} after it: it waited"
    );
}
