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

/// Compiles `src` in `i` and loads it as the instance's function, as a
/// call site does; `Some` is a JavaScript error (a SyntaxError).
fn define(i: &mut Instance<NoHost>, src: &str, name: &str) -> Option<js::Exception> {
    match js::ABI.compile(i, src, name).unwrap() {
        Err(e) => Some(e),
        Ok(bytecode) => js::ABI.load(i, &bytecode, 7).unwrap(),
    }
}

fn instance(limits: Limits) -> Instance<NoHost> {
    let prepared = Prepared::javascript(engine(), image()).unwrap();
    let mut i =
        Instance::from_prepared(engine(), &prepared, js::CALL_EXPORT, limits, NoHost).unwrap();
    js::ABI.seed(&mut i, 42).unwrap();
    i
}

fn defined(params: &[&str], body: &str) -> Instance<NoHost> {
    let mut i = instance(Limits::default());
    let params: Vec<Option<String>> = params.iter().map(|p| Some(p.to_string())).collect();
    let src = js::function_source("f", &params, false, body);
    assert_eq!(define(&mut i, &src, "f"), None);
    i
}

/// Calls and returns the result as text (scalars as their Debug form).
fn run(i: &mut Instance<NoHost>, args: &ArgRecord, kind: ResultKind) -> Result<String, String> {
    let mut buf = [ValRaw::i64(0); 3];
    js::ABI
        .call(
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
fn replace_with_a_literal_string_follows_the_spec() {
    // The engine's patched fast path (engines/javascript/build.sh).
    let mut i = defined(
        &[],
        r#"return JSON.stringify([
            'abc'.replace(/x*/g, '-'),
            'a1b22c'.replace(/[0-9]+/g, '#'),
            'ab'.replace(/b/g, '[$&]'),
            'aXbX'.replace(/x/gi, ''),
            'été'.replace(/[^a-z]+/gu, '_'),
            'aaa'.replace(/a/, 'b'),
            'x'.replace(/y/g, 'z'),
        ]);"#,
    );
    assert_eq!(
        run(&mut i, &ArgRecord::default(), ResultKind::Text).unwrap(),
        r#"["-a-b-c-","a#b#c","a[b]","ab","_t_","baa","x"]"#
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
    let e = define(&mut i, &src, "g").expect("a syntax error");
    assert!(e.message.starts_with("SyntaxError"), "{e:?}");
    assert!(e.stack.contains("g:1"), "{e:?}");
}

#[test]
fn an_error_with_a_sqlerrcode_keeps_it_and_its_message() {
    let mut i = defined(
        &["code"],
        "const e = new Error('duplicate key'); e.sqlerrcode = code; throw e;",
    );
    let call = |i: &mut Instance<NoHost>, code: &str| {
        let mut args = ArgRecord::default();
        args.string(code.as_bytes());
        let mut buf = [ValRaw::i64(0); 3];
        js::ABI
            .call(
                i,
                &mut js::GuestArgs::default(),
                &args,
                ResultKind::Text as i32,
                &mut buf,
            )
            .unwrap();
        match Returned::from_packed(i, buf[0].get_i64()).unwrap() {
            Returned::Threw(e) => e,
            other => panic!("{other:?}"),
        }
    };
    let e = call(&mut i, "23505");
    assert_eq!(
        (e.message.as_str(), e.sqlstate.as_str()),
        ("duplicate key", "23505")
    );
    assert!(e.stack.contains("f:1"), "{e:?}");
    // Not five characters: an ordinary exception, String(e) as the message.
    let e = call(&mut i, "235");
    assert_eq!(
        (e.message.as_str(), e.sqlstate.as_str()),
        ("Error: duplicate key", "")
    );
}

#[test]
fn a_subtransaction_needs_a_host_with_a_database() {
    let mut i = defined(&[], "return plv8.subtransaction(() => 1);");
    let err = run(&mut i, &ArgRecord::default(), ResultKind::Integer).unwrap_err();
    assert!(err.contains("need a database"), "{err}");
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
    assert_eq!(define(&mut i, &src, "h"), None);
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
    assert_eq!(define(&mut i, &src, "s"), None);
    let err = run(&mut i, &ArgRecord::default(), ResultKind::Text).unwrap_err();
    assert!(err.contains("fuel"), "{err}");
}

#[test]
fn instances_get_different_random_sequences() {
    let draw = |seed: i64| {
        let mut i = instance(Limits::default());
        let src = js::function_source("r", &[], false, "return Math.random();");
        define(&mut i, &src, "r");
        // A statement's instance is reseeded after its function is loaded.
        js::ABI.seed(&mut i, seed).unwrap();
        run(&mut i, &ArgRecord::default(), ResultKind::Float).unwrap()
    };
    assert_ne!(draw(1), draw(2));
}

/// What the measuring tests below run as a statement would: the engine
/// prepared, `add(a, b)`'s source, and the arguments (1, 2).
fn add_statement() -> (Prepared<NoHost>, String, ArgRecord) {
    let prepared = Prepared::javascript(engine(), image()).unwrap();
    let src = js::function_source(
        "add",
        &[Some("a".into()), Some("b".into())],
        false,
        "return a + b;",
    );
    let mut args = ArgRecord::default();
    args.int32(1);
    args.int32(2);
    (prepared, src, args)
}

/// A statement's fresh instance of the engine.
fn fresh(prepared: &Prepared<NoHost>) -> Instance<NoHost> {
    Instance::from_prepared(
        engine(),
        prepared,
        js::CALL_EXPORT,
        Limits::default(),
        NoHost,
    )
    .unwrap()
}

/// One call of a function returning an integer.
fn call_integer(i: &mut Instance<NoHost>, args: &ArgRecord) {
    let mut buf = [ValRaw::i64(0); 3];
    js::ABI
        .call(
            i,
            &mut js::GuestArgs::default(),
            args,
            ResultKind::Integer as i32,
            &mut buf,
        )
        .unwrap();
}

#[test]
#[ignore]
fn per_statement_cost() {
    let (prepared, src, args) = add_statement();
    let bytecode = {
        let mut i = fresh(&prepared);
        js::ABI.compile(&mut i, &src, "add").unwrap().unwrap()
    };
    println!("bytecode: {} bytes", bytecode.len());
    // Rounds 6–8: instances of the function's own image (the engine's
    // memory with the function loaded), which start with it loaded.
    let layered = {
        let mut i = fresh(&prepared);
        assert_eq!(js::ABI.load(&mut i, &bytecode, 7).unwrap(), None);
        prepared.with_memory_of(engine(), &mut i).unwrap().unwrap()
    };
    for round in 0..9 {
        let (mut t_inst, mut t_seed, mut t_def, mut t_call, mut t_drop) =
            (0u128, 0u128, 0u128, 0u128, 0u128);
        let mut fuel_def = 0;
        let n = 2000;
        for _ in 0..n {
            let t0 = std::time::Instant::now();
            let mut i = fresh(if round < 6 { &prepared } else { &layered });
            let t1 = std::time::Instant::now();
            js::ABI.seed(&mut i, 7).unwrap();
            let t2 = std::time::Instant::now();
            if round < 3 {
                define(&mut i, &src, "add");
            } else if round < 6 {
                assert_eq!(js::ABI.load(&mut i, &bytecode, 7).unwrap(), None);
            }
            fuel_def = i.last_fuel();
            let t3 = std::time::Instant::now();
            call_integer(&mut i, &args);
            let t4 = std::time::Instant::now();
            drop(i);
            let t5 = std::time::Instant::now();
            t_inst += (t1 - t0).as_nanos();
            t_seed += (t2 - t1).as_nanos();
            t_def += (t3 - t2).as_nanos();
            t_call += (t4 - t3).as_nanos();
            t_drop += (t5 - t4).as_nanos();
        }
        let us = |t: u128| t as f64 / n as f64 / 1000.0;
        println!("round {round}: instantiate {:.1} µs, seed {:.1} µs, define {:.1} µs ({fuel_def} fuel), first call {:.1} µs, drop (slot reset) {:.1} µs",
            us(t_inst), us(t_seed), us(t_def), us(t_call), us(t_drop));
    }
}

#[test]
#[ignore]
fn pages_a_statement_changes() {
    let (prepared, src, args) = add_statement();
    let snapshot = |i: &Instance<NoHost>| -> Vec<u8> {
        let mut len = 64 << 20;
        loop {
            if let Ok(b) = i.read_bytes(0, len) {
                return b.to_vec();
            }
            len -= 65536;
        }
    };
    let bytecode = {
        let mut i = fresh(&prepared);
        js::ABI.compile(&mut i, &src, "add").unwrap().unwrap()
    };
    let untouched = fresh(&prepared);
    let before = snapshot(&untouched);
    drop(untouched);
    let mut i = fresh(&prepared);
    js::ABI.seed(&mut i, 7).unwrap();
    let s1 = snapshot(&i);
    // As a statement does: the bytecode its function's first call compiled.
    assert_eq!(js::ABI.load(&mut i, &bytecode, 7).unwrap(), None);
    let s2 = snapshot(&i);
    call_integer(&mut i, &args);
    let s3 = snapshot(&i);
    let diff = |a: &[u8], b: &[u8]| -> Vec<usize> {
        (0..a.len().min(b.len()) / 4096)
            .filter(|p| a[p * 4096..(p + 1) * 4096] != b[p * 4096..(p + 1) * 4096])
            .collect()
    };
    println!(
        "memory {} bytes; pages changed: seed {:?}",
        before.len(),
        diff(&before, &s1)
    );
    println!("load {:?}", diff(&s1, &s2));
    println!("call {:?}", diff(&s2, &s3));
    println!("total {}", diff(&before, &s3).len());
}

/// The slugify of `benches/oltp.sh` per row, warm (one instance, many
/// calls): microseconds and Wasm instructions (fuel) a call. For comparing
/// engine builds without a server: `cargo test --release --test javascript
/// per_row_slugify -- --ignored --nocapture`.
#[test]
#[ignore]
fn per_row_slugify() {
    let body = r#"
  const from = 'àáâãäåāçćčèéêëēėìíîïīñńòóôõöøōśšùúûüūýÿźżž', to = 'aaaaaaaccceeeeeeiiiiinnooooooossuuuuuyyzzz';
  let folded = '';
  for (const ch of t.toLowerCase()) {
    if (ch < '\u0080') { folded += ch; continue; }
    const k = from.indexOf(ch);
    folded += k >= 0 ? to[k] : ch;
  }
  return folded.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');"#;
    let mut i = defined(&["t"], body);
    let mut args = ArgRecord::default();
    args.string("Crème Brûlée, Déjà Vu № 7".as_bytes());
    assert_eq!(
        run(&mut i, &args, ResultKind::Text).unwrap(),
        "creme-brulee-deja-vu-7"
    );
    let mut guest = js::GuestArgs::default();
    let mut buf = [ValRaw::i64(0); 3];
    for round in 0..5 {
        let n = 20_000;
        let mut fuel = 0;
        let t0 = std::time::Instant::now();
        for _ in 0..n {
            fuel = js::ABI
                .call(&mut i, &mut guest, &args, ResultKind::Text as i32, &mut buf)
                .unwrap();
            if let Returned::Bytes { ptr, len } =
                Returned::from_packed(&i, buf[0].get_i64()).unwrap()
            {
                i.free(ptr, len).unwrap();
            }
        }
        let us = t0.elapsed().as_nanos() as f64 / n as f64 / 1000.0;
        println!("round {round}: {us:.2} µs a call, {fuel} fuel");
    }
}

/// A function's own image (`Prepared::with_memory_of`, the engine's memory
/// once the function is loaded): its instances start with the function
/// loaded, and none sees what an earlier one left, in memory the load
/// wrote or elsewhere; the engine's own instances are unchanged.
#[test]
fn a_function_image_starts_loaded_and_every_instance_fresh() {
    let prepared = Prepared::javascript(engine(), image()).unwrap();
    let src = js::function_source(
        "bump",
        &[Some("s".into())],
        false,
        "globalThis.n = (globalThis.n || 0) + 1;
         globalThis.stash = (globalThis.stash || '') + s.repeat(5000);
         return n * 1000000 + globalThis.stash.length;",
    );
    let bytecode = {
        let mut i = fresh(&prepared);
        js::ABI.compile(&mut i, &src, "bump").unwrap().unwrap()
    };
    let layered = {
        let mut i = fresh(&prepared);
        js::ABI.seed(&mut i, 1).unwrap();
        assert_eq!(js::ABI.load(&mut i, &bytecode, 7).unwrap(), None);
        prepared.with_memory_of(engine(), &mut i).unwrap().unwrap()
    };
    let mut args = ArgRecord::default();
    args.string(b"ab");
    for round in 0..50 {
        let mut i = fresh(&layered);
        js::ABI.seed(&mut i, round).unwrap();
        // No load: the function is there.
        assert_eq!(
            number(&run(&mut i, &args, ResultKind::Integer).unwrap()),
            1010000.0,
            "statement {round}"
        );
        // Within one instance the state lives on.
        assert_eq!(
            number(&run(&mut i, &args, ResultKind::Integer).unwrap()),
            2020000.0
        );
    }
    // Math.random follows each instance's seed, not the image's.
    let random = {
        let src = js::function_source("r", &[], false, "return Math.random();");
        let mut i = fresh(&prepared);
        let bc = js::ABI.compile(&mut i, &src, "r").unwrap().unwrap();
        let mut i = fresh(&prepared);
        assert_eq!(js::ABI.load(&mut i, &bc, 7).unwrap(), None);
        prepared.with_memory_of(engine(), &mut i).unwrap().unwrap()
    };
    let draws: std::collections::HashSet<String> = (0..20)
        .map(|seed| {
            let mut i = fresh(&random);
            js::ABI.seed(&mut i, seed).unwrap();
            run(&mut i, &ArgRecord::default(), ResultKind::Float).unwrap()
        })
        .collect();
    assert_eq!(draws.len(), 20, "{draws:?}");
    // The engine's own instances have no function loaded.
    let mut plain = fresh(&prepared);
    js::ABI.seed(&mut plain, 3).unwrap();
    assert!(run(&mut plain, &args, ResultKind::Integer).is_err());
    assert_eq!(js::ABI.load(&mut plain, &bytecode, 7).unwrap(), None);
    assert_eq!(
        number(&run(&mut plain, &args, ResultKind::Integer).unwrap()),
        1010000.0
    );
}

/// The number in `run`'s text of a scalar ("Int(3)", "Number(3.0)").
fn number(text: &str) -> f64 {
    let inner = text
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or(text);
    inner.parse().unwrap_or(f64::NAN)
}

/// What a function's image relies on (`Prepared::with_memory_of`): loading
/// a function changes nothing but memory. The engine's only mutable global
/// is the C stack pointer, which is back at its value when a call returns.
#[test]
fn the_engine_has_one_mutable_global() {
    let image = js::image(engine()).unwrap();
    assert_eq!(function_image::mutable_globals(&image).unwrap(), 1);
}

/// What lets a kept instance of the engine keep its funcref table between
/// statements (`Instance::reset_in_place_keeping_tables`): its code, as
/// embedded and as pre-initialized, never changes a table.
#[test]
fn the_engine_never_writes_its_table() {
    assert_eq!(table_writes::count(js::ENGINE_WASM).unwrap(), 0);
    let image = js::image(engine()).unwrap();
    assert_eq!(table_writes::count(&image).unwrap(), 0);
}

/// A function's image without a pool (`pg_wasm.instance_slots = 0`): each
/// instance maps its own memory from the image and the overlay.
#[test]
fn a_function_image_works_without_a_pool() {
    let (engine, allocation) = new_engine_with(PoolSettings {
        slots: 0,
        keep_resident: 0,
    })
    .unwrap();
    assert!(matches!(allocation, Allocation::OnDemand(None)));
    let module = Module::new(&engine, js::image(&engine).unwrap()).unwrap();
    let prepared = Prepared::<NoHost>::javascript(&engine, &module).unwrap();
    let new = |p: &Prepared<NoHost>| {
        Instance::from_prepared(&engine, p, js::CALL_EXPORT, Limits::default(), NoHost).unwrap()
    };
    let src = js::function_source(
        "bump",
        &[],
        false,
        "globalThis.n = (globalThis.n || 0) + 1; return n;",
    );
    let bytecode = js::ABI
        .compile(&mut new(&prepared), &src, "bump")
        .unwrap()
        .unwrap();
    let layered = {
        let mut i = new(&prepared);
        assert_eq!(js::ABI.load(&mut i, &bytecode, 7).unwrap(), None);
        prepared.with_memory_of(&engine, &mut i).unwrap().unwrap()
    };
    for _ in 0..5 {
        let mut i = new(&layered);
        js::ABI.seed(&mut i, 1).unwrap();
        let out = run(&mut i, &ArgRecord::default(), ResultKind::Integer).unwrap();
        assert_eq!(number(&out), 1.0);
    }
}
