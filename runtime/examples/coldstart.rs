//! What a new backend's first call costs in the sandbox, phase by phase:
//! creating the engine, starting the epoch ticker, the artifact key,
//! mapping a stored artifact, preparing it (InstancePre) and instantiating.
//! Quoted in docs/benchmarks.md ("Cold start").
//!
//!   cargo run --release -p pg_wasm_runtime --example coldstart -- <file.cwasm> <export>
//!
//! (an artifact from `$PGDATA/pg_wasm/objects`, written by this build).

use pg_wasm_runtime::{artifacts, new_engine, start_ticker, Instance, Limits, NoHost, Prepared};
use std::time::Instant;

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    println!("{what:<28} {:>9.3} ms", t.elapsed().as_secs_f64() * 1e3);
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(export)) = (args.next(), args.next()) else {
        eprintln!("usage: coldstart <file.cwasm> <export>");
        std::process::exit(2);
    };
    let engine: &'static _ = Box::leak(Box::new(timed("engine", || new_engine().unwrap())));
    timed("epoch ticker", || start_ticker(engine).unwrap());
    timed("engine key", || artifacts::engine_key(engine));
    // SAFETY: the file is an artifact this build wrote; nothing changes it
    // while the example runs.
    let module = timed("map artifact", || unsafe {
        wasmtime::Module::deserialize_file(engine, &path).unwrap()
    });
    let prepared: Prepared<NoHost> = timed("prepare (InstancePre)", || {
        Prepared::new(engine, &module).unwrap()
    });
    for round in ["instantiate (first)", "instantiate (again)"] {
        timed(round, || {
            Instance::from_prepared(engine, &prepared, &export, Limits::default(), NoHost).unwrap()
        });
    }
}
