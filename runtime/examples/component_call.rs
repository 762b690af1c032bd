//! What a warm call of a component's export costs in the sandbox, without a
//! server: one instance, the export called with a text argument many times.
//! Tells the language runtime's own cost from the server's.
//!
//!   cargo run --release -p pg_wasm_runtime --example component_call -- \
//!       target/guests/js_tenant.wasm slugify 'Crème Brûlée, Déjà Vu № 1'
//!
//! (arguments `s32:N`, `f64:X` or text; CALLS=n calls, 20 000 by default).

use pg_wasm_runtime::component::{compile_component, describe_component, PreparedComponent, Val};
use pg_wasm_runtime::{new_engine, start_ticker, CompileLimits, Limits, NoHost};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, export, values @ ..] = args.as_slice() else {
        eprintln!("usage: component_call <component.wasm> <export> [s32:N | f64:X | text]...");
        std::process::exit(2);
    };
    let calls: usize = std::env::var("CALLS").map_or(20_000, |n| n.parse().expect("CALLS"));
    let arg: Vec<Val> = values
        .iter()
        .map(|v| match v.split_once(':') {
            Some(("s32", n)) => Val::S32(n.parse().expect("s32")),
            Some(("f64", x)) => Val::Float64(x.parse().expect("f64")),
            _ => Val::String(v.clone()),
        })
        .collect();
    let engine: &'static _ = Box::leak(Box::new(new_engine().unwrap()));
    start_ticker(engine).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let t = Instant::now();
    let component = compile_component(engine, &bytes, &CompileLimits::size(64 << 20), &mut || {
        false
    })
    .unwrap();
    println!(
        "compile            {:>10.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let info = describe_component(engine, &component);
    let export = info.export(export).expect("no such export").clone();
    let prepared = PreparedComponent::<NoHost>::new(engine, &component).unwrap();
    let index = prepared.export_index(&export).unwrap();
    let t = Instant::now();
    let mut instance = prepared
        .instantiate(engine, Limits::default(), NoHost)
        .unwrap();
    println!(
        "instantiate        {:>10.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let func = instance.func(&index).unwrap();
    let mut out = [Val::Bool(false)];
    instance.call(&func, &arg, &mut out).unwrap();
    println!("result             {out:?}");
    let t = Instant::now();
    let mut fuel = 0;
    for _ in 0..calls {
        fuel = instance.call(&func, &arg, &mut out).unwrap();
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / calls as f64;
    println!("warm call          {per:>10.2} us ({calls} calls, {fuel} fuel each)");
}
