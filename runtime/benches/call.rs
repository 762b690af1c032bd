//! Cost of a warm call through the sandbox, without PostgreSQL.
//! `cargo bench -p pg_wasm_runtime`

use criterion::{criterion_group, criterion_main, Criterion};
use pg_wasm_runtime::*;
use std::hint::black_box;

fn warm_call(c: &mut Criterion) {
    let engine = new_engine().unwrap();
    let wat = r#"(module (func (export "add") (param i32 i32) (result i32)
        local.get 0 local.get 1 i32.add))"#;
    let module = compile(&engine, &parse_wat(wat).unwrap(), 1 << 20).unwrap();
    let mut inst = Instance::new(&engine, &module, "add", Limits::default(), NoHost).unwrap();
    c.bench_function("warm call add(i32,i32)", |b| {
        let mut n = 0i32;
        b.iter(|| {
            n = n.wrapping_add(1);
            let mut buf = [ValRaw::i32(black_box(n)), ValRaw::i32(1)];
            inst.call(&mut buf).unwrap();
            black_box(buf[0].get_i32())
        })
    });
    c.bench_function("instantiate", |b| {
        b.iter(|| Instance::new(&engine, &module, "add", Limits::default(), NoHost).unwrap())
    });
}

/// One statement's cycle for a text function of a Rust SDK guest (the
/// shape `benches/oltp.sh` measures in PostgreSQL): a fresh instance from
/// the pool, the argument copied in, the call, the result read and freed,
/// the instance dropped (its slot reset). Set `PG_WASM_STATEMENT_GUEST` to
/// a guest with a `slugify` export (default: target/guests/jsonkit.wasm,
/// skipped when it is not built).
fn statement_cycle(c: &mut Criterion) {
    let path = std::env::var("PG_WASM_STATEMENT_GUEST").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/guests/jsonkit.wasm").to_string()
    });
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("statement cycle: {path} not built, skipped");
        return;
    };
    let engine = new_engine().unwrap();
    let module = compile(&engine, &bytes, 64 << 20).unwrap();
    let prepared = Prepared::<NoHost>::new(&engine, &module).unwrap();
    let arg = "Crème Brûlée, Déjà Vu № 7".as_bytes();
    c.bench_function("statement cycle slugify (instantiate, call, drop)", |b| {
        b.iter(|| {
            let mut inst =
                Instance::from_prepared(&engine, &prepared, "slugify", Limits::default(), NoHost)
                    .unwrap();
            let ptr = inst.write_bytes(arg, true).unwrap();
            let mut buf = [ValRaw::i32(ptr), ValRaw::i32(arg.len() as i32)];
            inst.call_after_writes(&mut buf).unwrap();
            let packed = buf[0].get_i64();
            let (p, n) = ((packed >> 32) as i32, packed as i32);
            black_box(inst.read_bytes(p, n).unwrap().len());
            inst.free(p, n).unwrap();
        })
    });
}

criterion_group!(benches, warm_call, statement_cycle);
criterion_main!(benches);
