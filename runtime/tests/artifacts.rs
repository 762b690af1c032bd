//! The compiled-artifact store, without a server: round trip, sharing
//! between databases, rejection of damaged files, cleanup.

use pg_wasm_runtime::artifacts::{engine_key, key, Lookup, Store};
use pg_wasm_runtime::{
    compile, new_engine, parse_wat, sha256, Instance, Limits, Module, NoHost, ValRaw,
};
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

fn temp_root(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pg_wasm_artifacts_{name}_{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn adder() -> Vec<u8> {
    parse_wat(r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#)
        .unwrap()
}

fn call_add(engine: &wasmtime::Engine, module: &wasmtime::Module) -> i32 {
    let mut inst = Instance::new(engine, module, "add", Limits::default(), NoHost).unwrap();
    let mut buf = [ValRaw::i32(2), ValRaw::i32(40)];
    inst.call(&mut buf).unwrap();
    buf[0].get_i32()
}

#[test]
fn stored_module_is_mapped_and_runs() {
    let engine = new_engine().unwrap();
    let root = temp_root("roundtrip");
    let store = Store::open(&root).unwrap();
    let bytes = adder();
    let k = key(&sha256(&bytes), &engine_key(&engine));
    assert!(matches!(
        store.lookup::<Module>(&engine, "1", &k),
        Lookup::Missing
    ));
    let module = compile(&engine, &bytes, 1 << 20).unwrap();
    assert!(store.store("1", &k, &module).unwrap(), "a new link");
    assert!(!store.store("1", &k, &module).unwrap(), "already linked");
    let Lookup::Mapped(mapped) = store.lookup::<Module>(&engine, "1", &k) else {
        panic!("not mapped")
    };
    assert_eq!(call_add(&engine, &mapped), 42);
    // Only the server's user may read or write.
    let mode = fs::metadata(root.join("objects").join(format!("{k}.cwasm")))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mode = fs::metadata(&root).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    // Another database maps the same object and takes its own link.
    assert!(matches!(
        store.lookup::<Module>(&engine, "2", &k),
        Lookup::Mapped(_)
    ));
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].databases, 2);
    assert_eq!(list[0].sha256, sha256(&bytes));
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn damaged_files_are_rejected_and_removed() {
    let engine = new_engine().unwrap();
    let root = temp_root("damaged");
    let store = Store::open(&root).unwrap();
    let bytes = adder();
    let k = key(&sha256(&bytes), &engine_key(&engine));
    let module = compile(&engine, &bytes, 1 << 20).unwrap();
    let object = root.join("objects").join(format!("{k}.cwasm"));
    let good = {
        store.store("1", &k, &module).unwrap();
        fs::read(&object).unwrap()
    };
    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("garbage", vec![0x5a; good.len()]),
        ("empty", vec![]),
        ("header only", good[..16.min(good.len())].to_vec()),
    ];
    for (what, damaged) in damages {
        store.clear().unwrap();
        store.store("1", &k, &module).unwrap();
        // Replace by rename, as anything but pg_wasm must not edit in place.
        let tmp = root.join("damaged");
        fs::write(&tmp, &damaged).unwrap();
        fs::rename(&tmp, store.link_path("1", &k)).unwrap();
        match store.lookup::<Module>(&engine, "1", &k) {
            Lookup::Rejected(why) => assert!(!why.is_empty(), "{what}"),
            _ => panic!("{what}: not rejected"),
        }
        assert!(!store.link_path("1", &k).exists(), "{what}: link kept");
        assert!(
            matches!(store.lookup::<Module>(&engine, "1", &k), Lookup::Missing),
            "{what}"
        );
        // Rebuilt and used again.
        store.store("1", &k, &module).unwrap();
        let Lookup::Mapped(m) = store.lookup::<Module>(&engine, "1", &k) else {
            panic!("{what}: not mapped after rebuild")
        };
        assert_eq!(call_add(&engine, &m), 42);
    }
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn an_artifact_of_another_engine_is_not_used() {
    let engine = new_engine().unwrap();
    let root = temp_root("other_engine");
    let store = Store::open(&root).unwrap();
    let bytes = adder();
    let k = key(&sha256(&bytes), &engine_key(&engine));
    // A module compiled by an engine with other settings, stored under
    // this engine's key (a wasmtime upgrade that kept the key, say).
    let mut config = wasmtime::Config::new();
    config.consume_fuel(false);
    let other = wasmtime::Engine::new(&config).unwrap();
    assert_ne!(engine_key(&other), engine_key(&engine));
    let foreign = wasmtime::Module::new(&other, &bytes).unwrap();
    store.store("1", &k, &foreign).unwrap();
    assert!(matches!(
        store.lookup::<Module>(&engine, "1", &k),
        Lookup::Rejected(_)
    ));
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn cleanup_removes_what_no_database_uses() {
    let engine = new_engine().unwrap();
    let root = temp_root("cleanup");
    let store = Store::open(&root).unwrap();
    let ek = engine_key(&engine);
    let a = adder();
    let b = parse_wat(r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0))"#)
        .unwrap();
    let (ka, kb) = (key(&sha256(&a), &ek), key(&sha256(&b), &ek));
    store
        .store("1", &ka, &compile(&engine, &a, 1 << 20).unwrap())
        .unwrap();
    store
        .store("1", &kb, &compile(&engine, &b, 1 << 20).unwrap())
        .unwrap();
    store
        .store("2", &kb, &compile(&engine, &b, 1 << 20).unwrap())
        .unwrap();
    // Database 1 keeps only a.
    let keep: HashSet<String> = [ka.clone()].into();
    let unused = store.unused_links("1", &keep).unwrap();
    assert_eq!(unused, vec![kb.clone()]);
    for k in &unused {
        store.unlink("1", k).unwrap();
    }
    let live: HashSet<String> = ["1".to_string(), "2".to_string()].into();
    assert_eq!(
        store.cleanup(Some(&live)).unwrap(),
        0,
        "b is still used by 2"
    );
    // Database 2 is dropped: its links go, then b's object.
    let live: HashSet<String> = ["1".to_string()].into();
    assert_eq!(store.cleanup(Some(&live)).unwrap(), 2);
    let keys: Vec<String> = store.list().unwrap().into_iter().map(|e| e.key).collect();
    assert_eq!(keys, vec![ka.clone()]);
    // A stale temporary file of a writer that died goes too; a fresh one stays.
    let fresh = root.join("objects").join(".tmp-1-1");
    fs::write(&fresh, b"partial").unwrap();
    assert_eq!(store.cleanup(Some(&live)).unwrap(), 0);
    assert!(fresh.exists());
    assert_eq!(store.clear().unwrap(), 3, "object, link, temp");
    assert!(store.list().unwrap().is_empty());
    fs::remove_dir_all(&root).unwrap();
}
