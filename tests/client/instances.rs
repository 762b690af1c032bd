//! Instances per statement from the backend's pool (SPEC §14): a slot is
//! reused, but what a guest left in it never reaches the next statement,
//! transaction or role, a trap leaves nothing behind, a replace or unload
//! while instances are out is safe, and a full pool is a clear error.
//! Probed as a hostile guest would: counters in globals and memory, a
//! secret written all over memory (grown pages too) and searched for
//! later.

#[path = "support.rs"]
mod support;
use support::*;

/// The probing guest (see the file): `id()` returns `tag`.
fn vault_wat(tag: i32) -> String {
    include_str!("../../guest-examples/wat/vault.wat").replace(
        r#"(func (export "id") (result i32) (i32.const 1))"#,
        &format!(r#"(func (export "id") (result i32) (i32.const {tag}))"#),
    )
}

const SECRET: i64 = 0x5EC2_E7C0_FFEE_1234;

fn load_vault(c: &mut Client, name: &str, tag: i32) {
    c.execute(
        "SELECT wasm.load_wat($1, $2, '{\"functions\": \"none\"}')",
        &[&name, &vault_wat(tag)],
    )
    .unwrap();
    for (f, args, ret) in [
        ("bump", "", "int"),
        ("plant", "bigint, int", "int"),
        ("scan", "bigint", "int"),
        ("plant_scan", "bigint, int", "int"),
        ("plant_trap", "bigint, int", "int"),
        ("pages", "", "int"),
        ("id", "", "int"),
    ] {
        c.batch_execute(&format!(
            "CREATE FUNCTION {name}_{f}({args}) RETURNS {ret} LANGUAGE wasm AS '{name}.{f}';
             GRANT EXECUTE ON FUNCTION {name}_{f}({args}) TO PUBLIC"
        ))
        .unwrap();
    }
}

fn pool(c: &mut Client) -> (bool, i32, i64, i64) {
    let r = c
        .query_one(
            "SELECT pooled, slots, core_instances, memories FROM wasm.instance_pool()",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

fn scan(c: &mut Client, f: &str) -> i32 {
    c.query_one(&format!("SELECT {f}($1)"), &[&SECRET])
        .unwrap()
        .get(0)
}

#[test]
fn guest_state_restarts_every_statement_transaction_and_role() {
    let mut c = fresh_db("pg_wasm_inst_state");
    load_vault(&mut c, "v", 1);
    c.batch_execute("DROP ROLE IF EXISTS inst_other; CREATE ROLE inst_other")
        .unwrap();
    for _ in 0..50 {
        assert_eq!(call_i32(&mut c, "SELECT v_bump()"), 1001);
    }
    // Within one statement the instance lives on: 1, 2, 3.
    let in_one: Vec<i32> = c
        .query("SELECT v_bump() FROM generate_series(1, 3)", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(in_one, [1001, 2002, 3003]);
    let mut t = c.transaction().unwrap();
    for _ in 0..3 {
        let v: i32 = t.query_one("SELECT v_bump()", &[]).unwrap().get(0);
        assert_eq!(v, 1001, "a statement in the same transaction");
    }
    t.commit().unwrap();
    c.batch_execute("SET ROLE inst_other").unwrap();
    assert_eq!(call_i32(&mut c, "SELECT v_bump()"), 1001);
    c.batch_execute("RESET ROLE").unwrap();
    assert_eq!(call_i32(&mut c, "SELECT v_bump()"), 1001);
    // Pooled, and nothing held once the statements are over.
    let (pooled, _, core, memories) = pool(&mut c);
    assert!(pooled, "the default engine has an instance pool");
    assert_eq!((core, memories), (0, 0), "instances left in the pool");
}

#[test]
fn a_secret_written_to_memory_is_gone_from_the_reused_slot() {
    let mut c = fresh_db("pg_wasm_inst_secret");
    load_vault(&mut c, "v", 1);
    load_vault(&mut c, "w", 2);
    c.batch_execute("DROP ROLE IF EXISTS inst_spy; CREATE ROLE inst_spy")
        .unwrap();
    // The probe works: planted and searched in one instance, found in the
    // first page and in 31 grown ones.
    let found: i32 = c
        .query_one("SELECT v_plant_scan($1, 31)", &[&SECRET])
        .unwrap()
        .get(0);
    // Every 512 bytes from 128 on, and once over the data segment.
    assert_eq!(found, 32 * 65536 / 512 + 1, "the probe finds the secret");
    // Planted in one statement (memory grown to 32 pages) ...
    let planted: i32 = c
        .query_one("SELECT v_plant($1, 31)", &[&SECRET])
        .unwrap()
        .get(0);
    assert_eq!(planted, 32, "memory pages after growing");
    // ... then searched for by later statements in the same slot: same
    // transaction, next transaction, another role.
    let mut t = c.transaction().unwrap();
    t.query_one("SELECT v_plant($1, 31)", &[&SECRET]).unwrap();
    let n: i32 = t.query_one("SELECT v_scan($1)", &[&SECRET]).unwrap().get(0);
    assert_eq!(n, 0, "next statement, same transaction");
    let pages: i32 = t.query_one("SELECT v_pages()", &[]).unwrap().get(0);
    assert_eq!(pages, 1, "the memory is back to its initial size");
    t.commit().unwrap();
    assert_eq!(scan(&mut c, "v_scan"), 0, "next transaction");
    c.batch_execute("SET ROLE inst_spy").unwrap();
    assert_eq!(scan(&mut c, "v_scan"), 0, "another role");
    c.batch_execute("RESET ROLE").unwrap();

    // Another module in a backend whose pool has one slot: it gets the
    // very slot the secret was written in.
    let mut one = Client::connect(
        &format!(
            "{} options='-c pg_wasm.instance_slots=1'",
            dsn("pg_wasm_inst_secret")
        ),
        NoTls,
    )
    .unwrap();
    for _ in 0..3 {
        one.query_one("SELECT v_plant($1, 31)", &[&SECRET]).unwrap();
        assert_eq!(scan(&mut one, "w_scan"), 0, "another module, same slot");
        one.batch_execute("SET ROLE inst_spy").unwrap();
        assert_eq!(scan(&mut one, "w_scan"), 0, "another module and role");
        assert_eq!(scan(&mut one, "v_scan"), 0, "same module, another role");
        one.batch_execute("RESET ROLE").unwrap();
    }
    assert_eq!(pool(&mut one).1, 1);
}

#[test]
fn a_trap_leaves_the_next_statement_a_clean_instance() {
    let mut c = fresh_db("pg_wasm_inst_trap");
    load_vault(&mut c, "v", 1);
    for _ in 0..5 {
        let err = c
            .query_one("SELECT v_plant_trap($1, 8)", &[&SECRET])
            .unwrap_err();
        let msg = err.as_db_error().map(|e| e.message()).unwrap_or("");
        assert!(msg.contains("unreachable"), "{err:?}");
        assert_eq!(scan(&mut c, "v_scan"), 0);
        assert_eq!(call_i32(&mut c, "SELECT v_bump()"), 1001);
    }
    // A trap on the third row of a statement, then a clean statement.
    let err = c
        .query(
            "SELECT CASE WHEN i < 3 THEN v_plant($1, 1) ELSE v_plant_trap($1, 1) END
               FROM generate_series(1, 3) i",
            &[&SECRET],
        )
        .unwrap_err();
    let msg = err.as_db_error().map(|e| e.message()).unwrap_or("");
    assert!(msg.contains("unreachable"), "{err:?}");
    assert_eq!(scan(&mut c, "v_scan"), 0);
    assert_eq!(pool(&mut c).3, 0, "no memory slot left in use");
}

#[test]
fn replace_and_unload_while_other_sessions_hold_instances() {
    let mut admin = fresh_db("pg_wasm_inst_replace");
    load_vault(&mut admin, "v", 1);
    let mut holder = connect("pg_wasm_inst_replace");
    holder
        .batch_execute(
            "BEGIN;
             DECLARE c CURSOR FOR SELECT v_bump(), v_id() FROM generate_series(1, 100)",
        )
        .unwrap();
    let first = holder.query("FETCH 2 FROM c", &[]).unwrap();
    assert_eq!(first[1].get::<_, i32>(0), 2002);

    admin
        .execute(
            "SELECT wasm.replace('v', wasm.wat_to_wasm($1))",
            &[&vault_wat(2)],
        )
        .unwrap();
    // The open cursor goes on with an instance of either version (never a
    // mix within one instance: a counter that restarts means a new one).
    for r in holder.query("FETCH 5 FROM c", &[]).unwrap() {
        let (v, id): (i32, i32) = (r.get(0), r.get(1));
        assert!(id == 1 || id == 2);
        assert_eq!(v / 1000, v % 1000, "global and memory counters agree");
    }
    holder.batch_execute("COMMIT").unwrap();
    assert_eq!(call_i32(&mut holder, "SELECT v_id()"), 2);
    assert_eq!(call_i32(&mut holder, "SELECT v_bump()"), 1001);

    // Unload while a cursor holds an instance.
    holder
        .batch_execute(
            "BEGIN;
             DECLARE c CURSOR FOR SELECT v_bump() FROM generate_series(1, 100)",
        )
        .unwrap();
    holder.query("FETCH 2 FROM c", &[]).unwrap();
    admin
        .batch_execute("SELECT wasm.unload('v', cascade => true)")
        .unwrap();
    // Either the cursor finishes with the instance it has or it fails
    // cleanly; the session is usable afterwards and holds no slot.
    let _ = holder.query("FETCH 5 FROM c", &[]);
    let _ = holder.batch_execute("ROLLBACK");
    assert_eq!(call_i32(&mut holder, "SELECT 1"), 1);
    assert!(holder.query("SELECT v_bump()", &[]).is_err());
    assert_eq!(pool(&mut holder).3, 0);
}

#[test]
fn a_full_pool_is_a_clear_error_and_backends_do_not_share_one() {
    let mut c = fresh_db("pg_wasm_inst_full");
    for (i, name) in ["a", "b", "c", "d"].into_iter().enumerate() {
        load_vault(&mut c, name, i as i32);
    }
    let three = format!(
        "{} options='-c pg_wasm.instance_slots=3'",
        dsn("pg_wasm_inst_full")
    );
    let mut small = Client::connect(&three, NoTls).unwrap();
    assert_eq!(pool(&mut small).1, 3);
    let sum: i32 = small
        .query_one("SELECT a_bump() + b_bump() + c_bump()", &[])
        .unwrap()
        .get(0);
    assert_eq!(sum, 3003);
    let err = small
        .query_one("SELECT a_bump() + b_bump() + c_bump() + d_bump()", &[])
        .unwrap_err();
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "53400", "{db:?}");
    assert!(
        db.message().contains("no free instance slot"),
        "{}",
        db.message()
    );
    assert!(
        db.hint().unwrap_or("").contains("pg_wasm.instance_slots"),
        "{db:?}"
    );
    // The session goes on, with every slot free again.
    assert_eq!(call_i32(&mut small, "SELECT d_bump()"), 1001);
    assert_eq!(pool(&mut small).3, 0);

    // Only a superuser chooses a backend's pool.
    c.batch_execute("DROP ROLE IF EXISTS inst_login; CREATE ROLE inst_login LOGIN")
        .unwrap();
    let as_tenant = format!(
        "{} user=inst_login options='-c pg_wasm.instance_slots=100000'",
        dsn("pg_wasm_inst_full")
    );
    let refused = Client::connect(&as_tenant, NoTls).map(|_| ());
    // The GUC is defined when the library loads: preloaded, the connection
    // is refused; otherwise the setting is ignored with a warning when the
    // library loads later and never takes effect for this role.
    if let Ok(()) = refused {
        let mut t = Client::connect(
            &format!("{} user=inst_login", dsn("pg_wasm_inst_full")),
            NoTls,
        )
        .unwrap();
        assert_eq!(call_i32(&mut t, "SELECT a_bump()"), 1001);
        assert_ne!(pool(&mut t).1, 100000);
    }

    // Many connections, each with its own pool, all at once.
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let dsn = three.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&dsn, NoTls).unwrap();
                for i in 0..150 {
                    // c's slot had the secret planted by the statement
                    // before (three slots, three functions a statement).
                    let v: i32 = c
                        .query_one("SELECT a_bump() + b_bump() + c_scan($1)", &[&SECRET])
                        .unwrap()
                        .get(0);
                    assert_eq!(v, 2002, "worker {w}, statement {i}");
                    c.query_one("SELECT c_plant($1, 3)", &[&SECRET]).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn slots_reset_after_the_reply_or_on_a_thread_keep_every_statement_fresh() {
    let mut c = fresh_db("pg_wasm_inst_background");
    load_vault(&mut c, "v", 1);
    load_vault(&mut c, "w", 2);
    c.batch_execute("DROP ROLE IF EXISTS inst_bg; CREATE ROLE inst_bg")
        .unwrap();
    drop(c);
    for mode in ["after_reply", "thread", "immediately"] {
        // One slot: every statement waits for the reset of the one before
        // (or would find no slot), and finds nothing the previous statement
        // left, whatever the module or role.
        let mut bg = Client::connect(
            &format!(
                "{} options='-c pg_wasm.instance_slots=1 -c pg_wasm.reset_slots={mode}'",
                dsn("pg_wasm_inst_background")
            ),
            NoTls,
        )
        .unwrap();
        for _ in 0..200 {
            assert_eq!(call_i32(&mut bg, "SELECT v_bump()"), 1001, "{mode}");
        }
        for _ in 0..20 {
            bg.query_one("SELECT v_plant($1, 31)", &[&SECRET]).unwrap();
            assert_eq!(
                scan(&mut bg, "v_scan"),
                0,
                "{mode}: same module, next statement"
            );
            bg.query_one("SELECT v_plant($1, 31)", &[&SECRET]).unwrap();
            assert_eq!(
                scan(&mut bg, "w_scan"),
                0,
                "{mode}: another module, same slot"
            );
            bg.batch_execute("SET ROLE inst_bg").unwrap();
            assert_eq!(scan(&mut bg, "v_scan"), 0, "{mode}: another role");
            bg.batch_execute("RESET ROLE").unwrap();
        }
        // Statements of one query string: no reply between them, so the
        // second finds the first's store still kept and resets it first.
        let rows = bg
            .simple_query(&format!(
                "SELECT v_plant({SECRET}, 31); SELECT w_scan({SECRET}); SELECT v_scan({SECRET})"
            ))
            .unwrap();
        let values: Vec<String> = rows
            .iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap().to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(values, ["32", "0", "0"], "{mode}: one query string");
        // A trap mid-statement: the next one still gets a clean slot.
        assert!(
            bg.query_one("SELECT v_plant_trap($1, 31)", &[&SECRET])
                .is_err(),
            "{mode}"
        );
        assert_eq!(scan(&mut bg, "v_scan"), 0, "{mode}: after a trap");
        let (pooled, slots, core, memories) = pool(&mut bg);
        assert!(pooled);
        assert_eq!(
            (slots, core, memories),
            (1, 0, 0),
            "{mode}: the slot is back, reset"
        );
    }
}

/// JavaScript and Python functions start from their own image of the
/// engine (the function already loaded) from a backend's second statement
/// calling them on: what a statement leaves in the interpreter (globals,
/// `GD`, a large stash in the heap) is gone by the next statement,
/// transaction or role, `Math.random` and `random` differ in every
/// statement, another function on the same slot sees none of it, and a
/// replaced body is called at once — with one slot, so every statement
/// reuses it, and with `pg_wasm.function_images` off.
#[test]
fn javascript_and_python_functions_from_their_images_start_fresh() {
    let mut c = fresh_db("pg_wasm_inst_images");
    c.batch_execute(
        "DROP ROLE IF EXISTS inst_img; CREATE ROLE inst_img;
         CREATE FUNCTION js_bump(s text) RETURNS int LANGUAGE javascript AS $$
           globalThis.n = (globalThis.n || 0) + 1;
           globalThis.stash = (globalThis.stash || '') + s.repeat(20000);
           return n * 1000000 + globalThis.stash.length / 1000; $$;
         CREATE FUNCTION js_peek() RETURNS int LANGUAGE javascript AS $$
           return (globalThis.n || 0) + (globalThis.stash ? 1 : 0); $$;
         CREATE FUNCTION js_rand() RETURNS float8 LANGUAGE javascript AS $$
           return Math.random(); $$;
         CREATE FUNCTION js_throw() RETURNS int LANGUAGE javascript AS $$
           globalThis.n = 99; throw new Error('no'); $$;
         CREATE FUNCTION py_bump(s text) RETURNS int LANGUAGE python AS $$
GD['n'] = GD.get('n', 0) + 1
GD['stash'] = GD.get('stash', '') + s * 20000
return GD['n'] * 1000000 + len(GD['stash']) // 1000 $$;
         CREATE FUNCTION py_rand() RETURNS float8 LANGUAGE python AS $$
import random
return random.random() $$;
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO inst_img",
    )
    .unwrap();
    drop(c);
    for options in [
        "-c pg_wasm.instance_slots=1",
        "",
        "-c pg_wasm.function_images=off",
    ] {
        let mut s = Client::connect(
            &format!("{} options='{options}'", dsn("pg_wasm_inst_images")),
            NoTls,
        )
        .unwrap();
        for _ in 0..30 {
            assert_eq!(
                call_i32(&mut s, "SELECT js_bump('xy')"),
                1_000_040,
                "{options}"
            );
            assert_eq!(
                call_i32(&mut s, "SELECT py_bump('xy')"),
                1_000_040,
                "{options}"
            );
            assert_eq!(call_i32(&mut s, "SELECT js_peek()"), 0, "{options}");
        }
        let in_one: Vec<i32> = s
            .query("SELECT js_bump('xy') FROM generate_series(1, 3)", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(in_one, [1_000_040, 2_000_080, 3_000_120], "{options}");
        let mut t = s.transaction().unwrap();
        for _ in 0..3 {
            let v: i32 = t.query_one("SELECT py_bump('xy')", &[]).unwrap().get(0);
            assert_eq!(v, 1_000_040, "{options}: same transaction");
        }
        t.commit().unwrap();
        s.batch_execute("SET ROLE inst_img").unwrap();
        assert_eq!(call_i32(&mut s, "SELECT js_bump('xy')"), 1_000_040);
        s.batch_execute("RESET ROLE").unwrap();
        assert!(s.query_one("SELECT js_throw()", &[]).is_err());
        assert_eq!(
            call_i32(&mut s, "SELECT js_peek()"),
            0,
            "{options}: after a throw"
        );
        for f in ["js_rand", "py_rand"] {
            let draws: std::collections::HashSet<u64> = (0..20)
                .map(|_| {
                    let v: f64 = s.query_one(&format!("SELECT {f}()"), &[]).unwrap().get(0);
                    v.to_bits()
                })
                .collect();
            assert_eq!(draws.len(), 20, "{options}: {f} repeats itself");
        }
    }
    // A replaced body runs at once in a session that made the old one's image.
    let mut s = Client::connect(&dsn("pg_wasm_inst_images"), NoTls).unwrap();
    for _ in 0..3 {
        assert_eq!(call_i32(&mut s, "SELECT js_bump('xy')"), 1_000_040);
    }
    let mut other = Client::connect(&dsn("pg_wasm_inst_images"), NoTls).unwrap();
    other
        .batch_execute(
            "CREATE OR REPLACE FUNCTION js_bump(s text) RETURNS int LANGUAGE javascript AS $$
               return -s.length; $$",
        )
        .unwrap();
    assert_eq!(call_i32(&mut s, "SELECT js_bump('xy')"), -2);
    assert_eq!(call_i32(&mut s, "SELECT js_bump('xyz')"), -3);
}
