use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let export = std::env::args().nth(2).unwrap();
    let engine: &'static _ = Box::leak(Box::new(pg_wasm_runtime::new_engine().unwrap()));
    let t = Instant::now();
    let m = unsafe { wasmtime::Module::deserialize_file(engine, &path) }.unwrap();
    println!("deserialize {:?}", t.elapsed());
    let t = Instant::now();
    let i = pg_wasm_runtime::Instance::new(
        engine,
        &m,
        &export,
        Default::default(),
        pg_wasm_runtime::NoHost,
    );
    println!("instance {:?} {}", t.elapsed(), i.is_ok());
    let t = Instant::now();
    let i = pg_wasm_runtime::Instance::new(
        engine,
        &m,
        &export,
        Default::default(),
        pg_wasm_runtime::NoHost,
    );
    println!("instance2 {:?} {}", t.elapsed(), i.is_ok());
    let t = Instant::now();
    let d = pg_wasm_runtime::describe(&m);
    println!("describe {:?} {}", t.elapsed(), d.exports.len());
}
