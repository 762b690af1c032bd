//! The host API (SPEC §8), cancellation, timeouts and determinism, with a
//! recording host instead of PostgreSQL.

use pg_wasm_runtime::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Recorder {
    logs: Vec<(LogLevel, String)>,
    queries: Vec<(String, String)>,
    cancel: Arc<AtomicBool>,
}

impl Host for Recorder {
    fn log(&mut self, level: LogLevel, message: &str, _call: u64) -> Result<(), HostError> {
        self.logs.push((level, message.to_string()));
        Ok(())
    }
    fn query(&mut self, sql: &str, params: &str) -> Result<Vec<u8>, HostError> {
        self.queries.push((sql.to_string(), params.to_string()));
        if sql == "fail" {
            return Err(HostError::Failed("the query failed".into()));
        }
        Ok(format!(r#"[{{"sql":"{sql}"}}]"#).into_bytes())
    }
    fn cancel_requested(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

fn engine() -> &'static Engine {
    static E: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    let e = E.get_or_init(|| new_engine().unwrap());
    start_ticker(e).unwrap();
    e
}

fn instance(wat: &str, export: &str, limits: Limits) -> Instance<Recorder> {
    let engine = engine();
    let m = compile(engine, &parse_wat(wat).unwrap(), 1 << 20).unwrap();
    Instance::new(engine, &m, export, limits, Recorder::default()).unwrap()
}

/// A guest with a bump allocator that logs, raises and queries.
const GUEST: &str = r#"(module
  (import "pg" "log" (func $log (param i32 i32 i32)))
  (import "pg" "error" (func $error (param i32 i32)))
  (import "pg" "query" (func $query (param i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (data (i32.const 0) "hello from wasm")
  (data (i32.const 16) "SELECT 1")
  (data (i32.const 32) "[1,\"x\"]")
  (data (i32.const 48) "fail")
  (func (export "pg_wasm_alloc") (param i32) (result i32)
    (global.get $next)
    (global.set $next (i32.add (global.get $next) (local.get 0))))
  (func (export "say") (param i32) (call $log (local.get 0) (i32.const 0) (i32.const 15)))
  (func (export "raise") (call $error (i32.const 0) (i32.const 15)))
  (func (export "wild") (call $log (i32.const 3) (i32.const 65530) (i32.const 100)))
  (func (export "q") (result i64)
    (call $query (i32.const 16) (i32.const 8) (i32.const 32) (i32.const 7)))
  (func (export "qfail") (result i64)
    (call $query (i32.const 48) (i32.const 4) (i32.const 0) (i32.const 0))))"#;

fn trap_kind<H: Host>(i: &mut Instance<H>, buf: &mut [ValRaw]) -> (TrapKind, String) {
    match i.call(buf) {
        Err(RuntimeError::Trap { kind, message, .. }) => (kind, message),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn log_reaches_the_host() {
    let mut i = instance(GUEST, "say", Limits::default());
    let mut buf = [ValRaw::i32(3)];
    i.call(&mut buf).unwrap();
    assert_eq!(
        i.host_mut().logs,
        [(LogLevel::Notice, "hello from wasm".to_string())]
    );
    let mut buf = [ValRaw::i32(9)];
    let (kind, msg) = trap_kind(&mut i, &mut buf);
    assert_eq!(kind, TrapKind::Trap);
    assert!(msg.contains("level 9"), "{msg}");
}

#[test]
fn error_is_raised_with_the_guest_message() {
    let mut i = instance(GUEST, "raise", Limits::default());
    let (kind, msg) = trap_kind(&mut i, &mut [ValRaw::i32(0)]);
    assert_eq!((kind, msg.as_str()), (TrapKind::Raised, "hello from wasm"));
}

#[test]
fn pointers_outside_memory_are_refused() {
    let mut i = instance(GUEST, "wild", Limits::default());
    let (kind, msg) = trap_kind(&mut i, &mut [ValRaw::i32(0)]);
    assert_eq!(kind, TrapKind::Trap);
    assert!(msg.contains("outside guest memory"), "{msg}");
}

#[test]
fn query_copies_the_result_into_the_guest() {
    let mut i = instance(GUEST, "q", Limits::default());
    let mut buf = [ValRaw::i64(0)];
    i.call(&mut buf).unwrap();
    let packed = buf[0].get_i64() as u64;
    let (ptr, len) = ((packed >> 32) as u32, packed as u32);
    assert_eq!(ptr, 1024, "allocated by the guest's pg_wasm_alloc");
    assert_eq!(len as usize, r#"[{"sql":"SELECT 1"}]"#.len());
    assert_eq!(
        i.host_mut().queries,
        [("SELECT 1".to_string(), "[1,\"x\"]".to_string())]
    );
    let mut f = instance(GUEST, "qfail", Limits::default());
    let (kind, _) = trap_kind(&mut f, &mut [ValRaw::i64(0)]);
    assert_eq!(kind, TrapKind::HostFailed);
}

#[test]
fn imports_must_match_the_host_api() {
    let engine = engine();
    for (wat, needle) in [
        (
            r#"(module (import "pg" "log" (func (param i32))))"#,
            "must be declared as (func (param i32 i32 i32))",
        ),
        (
            r#"(module (import "pg" "spawn" (func)))"#,
            "only pg.log, pg.error and pg.query",
        ),
        (
            r#"(module (import "pg" "log" (memory 1)))"#,
            "must be declared as",
        ),
    ] {
        let err = compile(engine, &parse_wat(wat).unwrap(), 1 << 20).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
}

const SPIN: &str = r#"(module (func (export "spin") (loop br 0)))"#;

#[test]
fn cancel_stops_a_spinning_guest_without_fuel() {
    let mut i = instance(
        SPIN,
        "spin",
        Limits {
            fuel: 0,
            ..Limits::default()
        },
    );
    let flag = i.host_mut().cancel.clone();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        flag.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let (kind, _) = trap_kind(&mut i, &mut [ValRaw::i32(0)]);
    setter.join().unwrap();
    assert_eq!(kind, TrapKind::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn timeout_stops_a_spinning_guest_and_the_instance_stays_usable() {
    let limits = Limits {
        fuel: 0,
        timeout_ms: 150,
        ..Limits::default()
    };
    let mut i = instance(SPIN, "spin", limits);
    for _ in 0..2 {
        let started = Instant::now();
        let (kind, msg) = trap_kind(&mut i, &mut [ValRaw::i32(0)]);
        let took = started.elapsed();
        assert_eq!(kind, TrapKind::Timeout, "{msg}");
        assert!(msg.contains("150 ms"), "{msg}");
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_secs(1),
            "{took:?}"
        );
    }
}

#[test]
fn nan_results_are_canonical() {
    let wat = r#"(module (func (export "nan") (param f64) (result i64)
        (i64.reinterpret_f64 (f64.div (local.get 0) (local.get 0)))))"#;
    let mut i = instance(wat, "nan", Limits::default());
    let mut buf = [ValRaw::f64(0f64.to_bits())];
    i.call(&mut buf).unwrap();
    assert_eq!(buf[0].get_i64() as u64, 0x7ff8_0000_0000_0000);
}
