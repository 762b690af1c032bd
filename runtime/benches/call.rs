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

criterion_group!(benches, warm_call);
criterion_main!(benches);
