//! The JavaScript engine without a server: its pre-initialized image
//! instantiates, defines a function from a body and calls it with encoded
//! arguments; exceptions, syntax errors, recursion and allocation loops end
//! as errors, never as a crash.

use pg_wasm_runtime::javascript::{self as js, ArgRecord, ResultKind, Returned, Scalar};
use pg_wasm_runtime::*;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| new_engine().unwrap())
}

fn image() -> &'static Module {
    static M: OnceLock<Module> = OnceLock::new();
    M.get_or_init(|| {
        let bytes = js::image(engine()).unwrap();
        Module::new(engine(), bytes).unwrap()
    })
}

fn instance(limits: Limits) -> Instance<NoHost> {
    let prepared = Prepared::javascript(engine(), image()).unwrap();
    let mut i =
        Instance::from_prepared(engine(), &prepared, js::CALL_EXPORT, limits, NoHost).unwrap();
    js::seed(&mut i, 42).unwrap();
    i
}

fn defined(params: &[&str], body: &str) -> Instance<NoHost> {
    let mut i = instance(Limits::default());
    let params: Vec<Option<String>> = params.iter().map(|p| Some(p.to_string())).collect();
    let src = js::function_source("f", &params, false, body);
    assert_eq!(js::define(&mut i, &src, "f", false).unwrap(), None);
    i
}

/// Calls and returns the result as text (scalars as their Debug form).
fn run(i: &mut Instance<NoHost>, args: &ArgRecord, kind: ResultKind) -> Result<String, String> {
    let mut buf = [ValRaw::i64(0); 3];
    js::call(
        i,
        &mut js::GuestArgs::default(),
        args,
        kind as i32,
        &mut buf,
    )
    .map_err(|e| format!("trap: {e}"))?;
    match Returned::from_packed(i, buf[0].get_i64()).unwrap() {
        Returned::Null => Ok("NULL".into()),
        Returned::Threw(e) => Err(format!("{}\n{}", e.message, e.stack)),
        Returned::Bytes { ptr, len } => {
            let bytes = i.read_bytes(ptr, len).unwrap().to_vec();
            i.free(ptr, len).unwrap();
            Ok(match kind {
                ResultKind::Bool | ResultKind::Integer | ResultKind::Float => {
                    format!("{:?}", Scalar::decode(&bytes).unwrap())
                }
                _ => String::from_utf8(bytes).unwrap(),
            })
        }
    }
}

#[test]
fn adds_and_converts() {
    let mut i = defined(&["a", "b"], "return a + b;");
    let mut args = ArgRecord::default();
    args.int32(2);
    args.int32(40);
    assert_eq!(
        run(&mut i, &args, ResultKind::Integer).unwrap(),
        "Number(42.0)"
    );
    // The same instance, many calls.
    for n in 0..1000 {
        args.clear();
        args.int32(n);
        args.float64(0.5);
        assert_eq!(
            run(&mut i, &args, ResultKind::Float).unwrap(),
            format!("Number({}.5)", n)
        );
    }
    args.clear();
    args.string("x".as_bytes());
    args.null();
    assert_eq!(run(&mut i, &args, ResultKind::Text).unwrap(), "xnull");
    let mut i = defined(&["o"], "o.n += 1; o.when = new Date(0); return o;");
    args.clear();
    args.json(br#"{"n": 1, "s": "\u00e9"}"#);
    assert_eq!(
        run(&mut i, &args, ResultKind::Json).unwrap(),
        r#"{"n":2,"s":"é","when":"1970-01-01T00:00:00.000Z"}"#
    );
    let mut i = defined(
        &["d", "b"],
        "return [d.getUTCFullYear(), b.length, b[1], typeof arguments[0]];",
    );
    args.clear();
    args.date(86_400_000.0 * 366.0);
    args.bytes(&[1, 2, 3]);
    assert_eq!(
        run(&mut i, &args, ResultKind::Json).unwrap(),
        "[1971,3,2,\"object\"]"
    );
}

#[test]
fn exceptions_and_syntax_errors() {
    let mut i = defined(&[], "\n  throw new TypeError('bad ' + 1);");
    let err = run(&mut i, &ArgRecord::default(), ResultKind::Text).unwrap_err();
    assert!(err.starts_with("TypeError: bad 1\n"), "{err}");
    assert!(
        err.contains("f:2"),
        "the stack names the body's line: {err}"
    );
    // The instance stays usable after a JavaScript exception.
    assert!(run(&mut i, &ArgRecord::default(), ResultKind::Text).is_err());

    let mut i = instance(Limits::default());
    let src = js::function_source("g", &[], false, "return (1 +;\n");
    let e = js::define(&mut i, &src, "g", false)
        .unwrap()
        .expect("a syntax error");
    assert!(e.message.starts_with("SyntaxError"), "{e:?}");
    assert!(e.stack.contains("g:1"), "{e:?}");
}

#[test]
fn recursion_is_a_range_error() {
    let mut i = defined(
        &["n"],
        "function r(k) { return k === 0 ? 0 : 1 + r(k - 1); } return r(n);",
    );
    let mut args = ArgRecord::default();
    args.int32(500);
    assert_eq!(
        run(&mut i, &args, ResultKind::Integer).unwrap(),
        "Number(500.0)"
    );
    args.clear();
    args.int32(10_000_000);
    let err = run(&mut i, &args, ResultKind::Integer).unwrap_err();
    assert!(err.contains("RangeError") || err.contains("stack"), "{err}");
    // Caught inside JavaScript, too.
    let mut i = defined(
        &[],
        "function r() { return r(); } try { r(); } catch (e) { return 'caught ' + e.name; }",
    );
    assert_eq!(
        run(&mut i, &ArgRecord::default(), ResultKind::Text).unwrap(),
        "caught RangeError"
    );
}

#[test]
fn allocation_loops_end_at_the_memory_limit() {
    let limits = Limits {
        memory_bytes: 32 << 20,
        fuel: 0,
        ..Limits::default()
    };
    let mut i = instance(limits);
    let src = js::function_source(
        "h",
        &[],
        false,
        "const a = []; for (;;) a.push('x'.repeat(1000) + a.length);",
    );
    assert_eq!(js::define(&mut i, &src, "h", false).unwrap(), None);
    let err = run(&mut i, &ArgRecord::default(), ResultKind::Text).unwrap_err();
    assert!(
        err.contains("out of memory") || err.contains("memory"),
        "{err}"
    );
}

#[test]
fn a_spinning_function_runs_out_of_fuel() {
    let limits = Limits {
        fuel: 10_000_000,
        ..Limits::default()
    };
    let mut i = instance(limits);
    let src = js::function_source("s", &[], false, "for (;;) {}");
    assert_eq!(js::define(&mut i, &src, "s", false).unwrap(), None);
    let err = run(&mut i, &ArgRecord::default(), ResultKind::Text).unwrap_err();
    assert!(err.contains("fuel"), "{err}");
}

#[test]
fn instances_get_different_random_sequences() {
    let draw = |seed: i64| {
        let mut i = instance(Limits::default());
        js::seed(&mut i, seed).unwrap();
        let src = js::function_source("r", &[], false, "return Math.random();");
        js::define(&mut i, &src, "r", false).unwrap();
        run(&mut i, &ArgRecord::default(), ResultKind::Float).unwrap()
    };
    assert_ne!(draw(1), draw(2));
}
