//! Components (SPEC §10) without a server: told apart from core modules,
//! typed by WIT, run in a WASI sandbox that grants nothing, under the same
//! fuel, memory and time limits as core modules. The JavaScript guest
//! (scripts/build-guests.sh) is used when it has been built.

use pg_wasm_runtime::component::{
    compile_component, describe_component, is_component, name_records, Component,
    ComponentInstance, PreparedComponent, StreamOutput, Val, WitType,
};
use pg_wasm_runtime::{
    new_engine, parse_wat, start_ticker, CompileLimits, Engine, Limits, NoHost, RuntimeError,
    TrapKind,
};

const CALC: &str = r#"
(component
  (core module $m
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func (export "spin") (param i32) (result i32) (loop $l br $l) unreachable)
    (func (export "grow") (param i32) (result i32)
      (memory.grow (local.get 0)))
    (memory (export "mem") 1))
  (core instance $i (instantiate $m))
  (func $add (export "add-two") (param "a" s32) (param "b" s32) (result s32)
    (canon lift (core func $i "add")))
  (func (export "spin") (param "n" s32) (result s32) (canon lift (core func $i "spin")))
  (func (export "grow") (param "pages" s32) (result s32) (canon lift (core func $i "grow")))
  (instance $math (export "add" (func $add)))
  (export "tenant:calc/math@1.0.0" (instance $math))
)
"#;

/// One engine per test process, with its epoch ticker (timeouts).
fn engine() -> &'static Engine {
    static E: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    let e = E.get_or_init(|| new_engine().expect("engine"));
    start_ticker(e).unwrap();
    e
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, RuntimeError> {
    compile_component(engine, bytes, &CompileLimits::size(64 << 20), &mut || false)
}

fn instance(engine: &Engine, c: &Component, limits: Limits) -> ComponentInstance<NoHost> {
    PreparedComponent::<NoHost>::new(engine, c)
        .expect("prepare")
        .instantiate(engine, limits, NoHost)
        .expect("instantiate")
}

fn call(
    engine: &Engine,
    c: &Component,
    export: &str,
    args: &[Val],
    limits: Limits,
) -> Result<Val, RuntimeError> {
    let info = describe_component(engine, c);
    let export = info.export(export).expect("export").clone();
    let prepared = PreparedComponent::<NoHost>::new(engine, c).expect("prepare");
    let index = prepared.export_index(&export).expect("index");
    let mut inst = prepared.instantiate(engine, limits, NoHost)?;
    let f = inst.func(&index)?;
    let mut out = [Val::Bool(false)];
    inst.call(&f, args, &mut out)?;
    Ok(out[0].clone())
}

#[test]
fn components_are_told_apart_from_modules_and_typed_by_wit() {
    let bytes = parse_wat(CALC).unwrap();
    assert!(is_component(&bytes));
    assert!(!is_component(&parse_wat("(module)").unwrap()));
    let engine = engine();
    let c = compile(engine, &bytes).expect("compile");
    let info = describe_component(engine, &c);
    assert!(info.imports.is_empty());
    let mut names: Vec<String> = info.exports.iter().map(|e| e.name()).collect();
    names.sort();
    assert_eq!(names, ["add-two", "grow", "math/add", "spin"]);
    let add = info.export("add_two").expect("found by its SQL name");
    assert_eq!(add.sql_name(), "add_two");
    assert_eq!(add.wit(), "func(a: s32, b: s32) -> s32");
    assert_eq!(add.params[0].1.sql().unwrap(), "integer");
    let iface = info.export("math/add").unwrap();
    assert_eq!(iface.interface.as_deref(), Some("tenant:calc/math@1.0.0"));
    assert_eq!(iface.sql_name(), "math_add");
}

#[test]
fn wit_types_map_to_sql_as_the_spec_says() {
    let l = |t: WitType| WitType::List(Box::new(t));
    let cases = [
        (WitType::Bool, "boolean"),
        (WitType::U8, "smallint"),
        (WitType::U16, "integer"),
        (WitType::U32, "bigint"),
        (WitType::U64, "numeric"),
        (WitType::F32, "real"),
        (WitType::F64, "double precision"),
        (WitType::Char, "text"),
        (l(WitType::U8), "bytea"),
        (l(WitType::String), "text[]"),
        (WitType::Option(Box::new(WitType::S64)), "bigint"),
        (WitType::Enum(vec!["a".into()]), "text"),
        (WitType::Flags(vec!["a".into()]), "text[]"),
        (WitType::Variant(vec![("a".into(), None)]), "jsonb"),
    ];
    for (t, sql) in cases {
        assert_eq!(t.sql().unwrap(), sql, "{}", t.wit());
    }
    assert!(l(l(WitType::S32)).sql().is_err(), "nested lists");
    let pair = WitType::Tuple(vec![WitType::String, WitType::U32]);
    assert_eq!(pair.sql().unwrap(), "record");
    let columns = WitType::Option(Box::new(pair.clone())).out_columns(&|n| n.into());
    assert_eq!(
        columns,
        Some(Ok(vec!["f1 text".into(), "f2 bigint".into()]))
    );
    assert!(
        l(pair.clone()).sql().is_err(),
        "a list of tuples has no SQL type"
    );
    assert!(WitType::Tuple(vec![pair]).sql().is_err(), "nested tuples");
}

#[test]
fn calls_run_under_fuel_memory_and_time_limits() {
    let engine = engine();
    let c = compile(engine, &parse_wat(CALC).unwrap()).unwrap();
    let ok = call(
        engine,
        &c,
        "add-two",
        &[Val::S32(40), Val::S32(2)],
        Limits::default(),
    );
    assert_eq!(ok.unwrap(), Val::S32(42));
    let via_interface = call(
        engine,
        &c,
        "math/add",
        &[Val::S32(1), Val::S32(2)],
        Limits::default(),
    );
    assert_eq!(via_interface.unwrap(), Val::S32(3));

    let fuel = Limits {
        fuel: 100_000,
        ..Limits::default()
    };
    match call(engine, &c, "spin", &[Val::S32(1)], fuel) {
        Err(RuntimeError::Trap { kind, .. }) => assert_eq!(kind, TrapKind::OutOfFuel),
        other => panic!("expected out of fuel, got {other:?}"),
    }
    let timeout = Limits {
        fuel: 0,
        timeout_ms: 50,
        ..Limits::default()
    };
    match call(engine, &c, "spin", &[Val::S32(1)], timeout) {
        Err(RuntimeError::Trap { kind, .. }) => assert_eq!(kind, TrapKind::Timeout),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let memory = Limits {
        memory_bytes: 1 << 20,
        ..Limits::default()
    };
    match call(engine, &c, "grow", &[Val::S32(100)], memory) {
        Err(RuntimeError::Trap { kind, .. }) => assert_eq!(kind, TrapKind::MemoryLimit),
        other => panic!("expected the memory limit, got {other:?}"),
    }
    // One instance, called again after a trap-free call: the fuel is
    // reset per call.
    let mut inst = instance(
        engine,
        &c,
        Limits {
            fuel: 1_000,
            ..Limits::default()
        },
    );
    let info = describe_component(engine, &c);
    let index = PreparedComponent::<NoHost>::new(engine, &c)
        .unwrap()
        .export_index(info.export("add-two").unwrap())
        .unwrap();
    let f = inst.func(&index).unwrap();
    for i in 0..100 {
        let mut out = [Val::S32(0)];
        inst.call(&f, &[Val::S32(i), Val::S32(1)], &mut out)
            .unwrap();
        assert_eq!(out[0], Val::S32(i + 1));
    }
}

#[test]
fn imports_other_than_wasi_are_refused_naming_them() {
    let engine = engine();
    let wat = r#"(component
      (import "tenant:db/store" (instance (export "get" (func (param "k" string) (result string))))))"#;
    match compile(engine, &parse_wat(wat).unwrap()) {
        Err(e @ RuntimeError::UnsupportedComponentImports(_)) => {
            assert!(e.to_string().contains("\"tenant:db/store\""), "{e}")
        }
        other => panic!("expected a refused import, got {:?}", other.map(|_| ())),
    }
}

/// The JavaScript guest of guest-examples/js-tenant, when built.
fn js_guest() -> Option<Vec<u8>> {
    let dir = std::env::var("PG_WASM_GUESTS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/guests").into());
    std::fs::read(format!("{dir}/js_tenant.wasm")).ok()
}

#[test]
fn a_javascript_component_runs_in_the_sandbox() {
    let Some(bytes) = js_guest() else {
        eprintln!("js_tenant.wasm not built (scripts/build-guests.sh); skipped");
        return;
    };
    let engine = engine();
    let c = compile(engine, &bytes).expect("compile the JavaScript component");
    let info = describe_component(engine, &c);
    let slug = info.export("slugify").expect("slugify");
    assert_eq!(slug.wit(), "func(text: string) -> string");
    let out = call(
        engine,
        &c,
        "slugify",
        &[Val::String("Hello, Wörld! Ça va?".into())],
        Limits::default(),
    )
    .unwrap();
    assert_eq!(out, Val::String("hello-world-ca-va".into()));
    let d = call(
        engine,
        &c,
        "discount",
        &[Val::Float64(50.0), Val::S32(150)],
        Limits::default(),
    );
    assert_eq!(d.unwrap(), Val::Float64(45.0));
    let fuel = Limits {
        fuel: 10_000_000,
        ..Limits::default()
    };
    match call(engine, &c, "spin", &[Val::S32(1)], fuel) {
        Err(RuntimeError::Trap { kind, .. }) => assert_eq!(kind, TrapKind::OutOfFuel),
        other => panic!("expected out of fuel, got {other:?}"),
    }
}

/// The Python guest of guest-examples/py-pricing, when built: it imports
/// the whole of WASI 0.2, which the sandbox provides with nothing granted.
#[test]
fn a_python_component_runs_in_the_sandbox() {
    let dir = std::env::var("PG_WASM_GUESTS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/guests").into());
    let Ok(bytes) = std::fs::read(format!("{dir}/py_pricing.wasm")) else {
        eprintln!("py_pricing.wasm not built (scripts/build-guests.sh); skipped");
        return;
    };
    let engine = engine();
    let c = compile(engine, &bytes).expect("compile the Python component");
    let mut info = describe_component(engine, &c);
    assert!(info
        .imports
        .iter()
        .any(|i| i.starts_with("wasi:filesystem/")));
    // records get their WIT names from the component's type section
    name_records(&mut info, &bytes);
    let tiers = info.export("tiers").expect("tiers");
    assert_eq!(tiers.wit(), "func(unit-price: f64) -> list<tier>");
    assert_eq!(tiers.result.as_ref().unwrap().sql().unwrap(), "tier[]");
    assert_eq!(info.records().len(), 1);
    let export = info.export("classify").expect("classify").clone();
    let prepared = PreparedComponent::<NoHost>::new(engine, &c).expect("prepare");
    let index = prepared.export_index(&export).unwrap();
    let mut inst = prepared
        .instantiate(engine, Limits::default(), NoHost)
        .expect("instantiate");
    let f = inst.func(&index).unwrap();
    let mut out = [Val::Bool(false)];
    inst.call(&f, &[Val::String("I want a refund".into())], &mut out)
        .unwrap();
    assert_eq!(out[0], Val::String("billing".into()));
    let output = inst.take_output();
    assert_eq!(
        output,
        [(
            "stdout",
            StreamOutput {
                text: "classify: 15 characters: I want a refund\n".to_string(),
                dropped: 0
            }
        )]
    );
    // The next call's output is seen too (the pipes are drained in place,
    // not swapped behind the guest's back).
    inst.call(&f, &[Val::String("hi".into())], &mut out)
        .unwrap();
    assert_eq!(
        inst.take_output(),
        [(
            "stdout",
            StreamOutput {
                text: "classify: 2 characters: hi\n".to_string(),
                dropped: 0
            }
        )]
    );
    assert_eq!(inst.take_output(), []);
    let price = call(
        engine,
        &c,
        "price",
        &[Val::Float64(-1.0), Val::S32(1)],
        Limits::default(),
    )
    .unwrap();
    match price {
        Val::Result(Err(Some(e))) => assert_eq!(*e, Val::String("negative amount -1.0".into())),
        other => panic!("expected err, got {other:?}"),
    }
    let tiers = call(
        engine,
        &c,
        "tiers",
        &[Val::Float64(10.0)],
        Limits::default(),
    )
    .unwrap();
    let Val::List(rows) = tiers else {
        panic!("expected a list, got {tiers:?}")
    };
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1],
        Val::Record(vec![
            ("min-units".into(), Val::S32(100)),
            ("rate".into(), Val::Float64(0.1)),
            ("unit-price".into(), Val::Float64(9.0)),
        ])
    );
}

/// `bytes(n)`: a `list<u8>` of n bytes the guest writes past its first
/// page.
const BYTES: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "bytes") (param $n i32) (result i32)
      (drop (memory.grow (i32.add (i32.shr_u (local.get $n) (i32.const 16)) (i32.const 2))))
      (i32.store (i32.const 16) (i32.const 65536))
      (i32.store (i32.const 20) (local.get $n))
      (i32.const 16)))
  (core instance $i (instantiate $m))
  (func (export "bytes") (param "n" u32) (result (list u8))
    (canon lift (core func $i "bytes") (memory (core memory $i "memory"))))
)
"#;

#[test]
fn a_result_larger_than_the_lift_budget_fails_before_it_is_built() {
    let engine = engine();
    let c = compile(engine, &parse_wat(BYTES).unwrap()).expect("compile");
    let info = describe_component(engine, &c);
    let export = info.export("bytes").expect("export").clone();
    let prepared = PreparedComponent::<NoHost>::new(engine, &c).expect("prepare");
    let index = prepared.export_index(&export).expect("index");
    let mut inst = prepared
        .instantiate(engine, Limits::default(), NoHost)
        .expect("instantiate");
    // 1 MB: a list element is counted as one `Val` (wasmtime's count).
    inst.set_result_budget(1 << 20);
    let f = inst.func(&index).unwrap();
    let per_element = std::mem::size_of::<Val>() as u32;
    let fits = (1 << 20) / per_element - 64;
    let mut out = [Val::Bool(false)];
    inst.call(&f, &[Val::U32(fits)], &mut out)
        .expect("within the budget");
    assert!(matches!(&out[0], Val::List(items) if items.len() == fits as usize));
    let err = inst
        .call(&f, &[Val::U32(fits + 128)], &mut out)
        .expect_err("over the budget");
    match err {
        RuntimeError::Trap { kind, message, .. } => {
            assert_eq!(kind, TrapKind::ResultTooLarge, "{message}");
            assert!(message.contains("more host memory than"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
