//! Logical replication of `wasm.module` (docs/scale-out.md): a publication
//! of the table carries modules to a subscriber database; functions are DDL,
//! which logical replication does not carry, so the subscriber creates its
//! own; a replace on the publisher reaches the subscriber's backends, even
//! one with the old code cached (the table's ALWAYS trigger queues the
//! invalidation the apply worker would not). The test cluster runs with
//! `wal_level = logical` (scripts/cluster.sh); publisher and subscriber are
//! two databases of it.

#[path = "support.rs"]
mod support;
use support::*;

const PUB: &str = "pg_wasm_client_pub";
const SUB: &str = "pg_wasm_client_sub";

fn wat(v: i32) -> String {
    format!(
        r#"(module (func (export "f") (param i32) (result i32) local.get 0 i32.const {v} i32.add))"#
    )
}

fn cleanup(admin: &mut Client) {
    // A subscription left by an earlier, failed run holds the slot.
    if let Ok(mut s) = Client::connect(&dsn(SUB), NoTls) {
        let _ = s.batch_execute(
            "ALTER SUBSCRIPTION lr_sub DISABLE; ALTER SUBSCRIPTION lr_sub SET (slot_name = NONE); DROP SUBSCRIPTION lr_sub",
        );
    }
    let _ = admin.batch_execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'lr_slot'",
    );
}

#[test]
fn a_subscriber_gets_modules_and_follows_replace() {
    let mut admin = connect("postgres");
    let level: String = admin.query_one("SHOW wal_level", &[]).unwrap().get(0);
    assert_eq!(
        level, "logical",
        "scripts/cluster.sh sets wal_level = logical"
    );
    cleanup(&mut admin);

    let mut p = fresh_db(PUB);
    p.execute("SELECT wasm.load_wat('lr', $1)", &[&wat(100)])
        .unwrap();
    p.batch_execute("CREATE PUBLICATION lr_pub FOR TABLE wasm.module")
        .unwrap();
    p.batch_execute("SELECT pg_create_logical_replication_slot('lr_slot', 'pgoutput')")
        .unwrap();

    let mut s = fresh_db(SUB);
    // The slot exists already: a subscription in the same cluster cannot
    // create its own while the CREATE SUBSCRIPTION waits.
    s.batch_execute(&format!(
        "CREATE SUBSCRIPTION lr_sub CONNECTION '{}' PUBLICATION lr_pub
           WITH (create_slot = false, slot_name = 'lr_slot')",
        dsn(PUB)
    ))
    .unwrap();
    wait_until("the initial copy", || {
        s.query_one("SELECT count(*) FROM wasm.modules WHERE name = 'lr'", &[])
            .unwrap()
            .get::<_, i64>(0)
            == 1
    });
    // Functions are not replicated: the subscriber declares its own.
    let err = s.query_one("SELECT lr_f(1)", &[]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42883"), "{err}");
    s.batch_execute("CREATE FUNCTION lr_f(integer) RETURNS integer LANGUAGE wasm STRICT AS 'lr.f'")
        .unwrap();
    assert_eq!(call_i32(&mut s, "SELECT lr_f(1)"), 101);

    // A replace on the publisher: this session has the old code cached.
    p.execute(
        "SELECT wasm.replace('lr', wasm.wat_to_wasm($1))",
        &[&wat(200)],
    )
    .unwrap();
    wait_until("the replaced module", || {
        call_i32(&mut s, "SELECT lr_f(1)") == 201
    });
    let mut fresh_session = connect(SUB);
    assert_eq!(call_i32(&mut fresh_session, "SELECT lr_f(2)"), 202);

    // A configure (a row update, no new code) arrives too.
    p.batch_execute("SELECT wasm.configure('lr', '{\"fuel\": 12345}')")
        .unwrap();
    wait_until("the new settings", || {
        s.query_one(
            "SELECT limits->>'fuel' FROM wasm.modules WHERE name = 'lr'",
            &[],
        )
        .unwrap()
        .get::<_, Option<String>>(0)
        .as_deref()
            == Some("12345")
    });

    // Unloading on the publisher deletes the row the subscriber's function
    // needs: a call there says the module does not exist.
    p.batch_execute("SELECT wasm.unload('lr', true)").unwrap();
    wait_until("the unload", || {
        s.query_one("SELECT count(*) FROM wasm.modules WHERE name = 'lr'", &[])
            .unwrap()
            .get::<_, i64>(0)
            == 0
    });
    let err = s.query_one("SELECT lr_f(1)", &[]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42704"), "{err}");

    drop((s, fresh_session));
    cleanup(&mut admin);
    drop(p);
    for db in [SUB, PUB] {
        admin
            .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .unwrap();
    }
}
