//! Extension upgrades (SPEC §12): a database made with the frozen 0.1.0
//! script, holding modules, functions, a grant, a trigger and an aggregate,
//! is updated with `ALTER EXTENSION pg_wasm UPDATE`; everything keeps
//! working, and its schema equals a fresh `CREATE EXTENSION` of this
//! version object for object.

#[path = "support.rs"]
mod support;
use support::*;

const CURRENT: &str = "0.2.0";

/// Every object of the extension, with what defines it: function
/// definitions, view queries, columns, constraints, indexes, privileges,
/// comments, the language, the schema's privileges and the dumped tables.
const SCHEMA_DUMP: &str = r#"
WITH members AS (
  SELECT d.classid, d.objid
    FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
     AND e.extname = 'pg_wasm')
SELECT pg_describe_object(m.classid, m.objid, 0)
       || E'\n  comment: ' || coalesce((SELECT description FROM pg_description
                                 WHERE objoid = m.objid AND classoid = m.classid
                                   AND objsubid = 0), '-')
       || E'\n  ' || coalesce(CASE m.classid
    WHEN 'pg_proc'::regclass THEN
      (SELECT pg_get_functiondef(p.oid) || ' acl: ' || coalesce(p.proacl::text, '-')
         FROM pg_proc p WHERE p.oid = m.objid)
    WHEN 'pg_class'::regclass THEN
      (SELECT c.relkind::text || ' acl: ' || coalesce(c.relacl::text, '-')
              || CASE WHEN c.relkind = 'v' THEN E'\n  ' || pg_get_viewdef(c.oid) ELSE '' END
              || E'\n  columns: ' || coalesce((SELECT string_agg(a.attname || ' '
                      || format_type(a.atttypid, a.atttypmod)
                      || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                      || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
                      || ' storage ' || a.attstorage::text, ', ' ORDER BY a.attnum)
                   FROM pg_attribute a
                   LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '-')
              || E'\n  constraints: ' || coalesce((SELECT string_agg(conname || ' '
                      || pg_get_constraintdef(oid), ', ' ORDER BY conname)
                   FROM pg_constraint WHERE conrelid = c.oid), '-')
              || E'\n  triggers: ' || coalesce((SELECT string_agg(pg_get_triggerdef(t.oid)
                      || ' enabled ' || t.tgenabled::text, ', ' ORDER BY t.tgname)
                   FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '-')
              || E'\n  indexes: ' || coalesce((SELECT string_agg(pg_get_indexdef(indexrelid), ', '
                      ORDER BY indexrelid::regclass::text)
                   FROM pg_index WHERE indrelid = c.oid), '-')
         FROM pg_class c WHERE c.oid = m.objid)
    WHEN 'pg_language'::regclass THEN
      (SELECT 'trusted: ' || l.lanpltrusted || ' handler: ' || l.lanplcallfoid::regproc
              || ' validator: ' || l.lanvalidator::regproc
              || ' acl: ' || coalesce(l.lanacl::text, '-')
         FROM pg_language l WHERE l.oid = m.objid)
    END, '')
  FROM members m
UNION ALL
SELECT 'schema wasm acl: ' || coalesce(nspacl::text, '-') FROM pg_namespace WHERE nspname = 'wasm'
UNION ALL
SELECT 'dumped with the data: ' || extconfig::regclass[]::text
  FROM pg_extension WHERE extname = 'pg_wasm'
ORDER BY 1
"#;

fn schema_dump(c: &mut Client) -> Vec<String> {
    c.query(SCHEMA_DUMP, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn version(c: &mut Client) -> String {
    c.query_one(
        "SELECT extversion FROM pg_extension WHERE extname = 'pg_wasm'",
        &[],
    )
    .unwrap()
    .get(0)
}

/// What the 0.1.0 database holds, checked before and after the update.
fn check_works(c: &mut Client, user: &mut Client) {
    assert_eq!(call_i32(c, "SELECT up_add(40, 2)"), 42);
    let sum: i64 = c
        .query_one("SELECT up_sum(g) FROM generate_series(1, 100) g", &[])
        .unwrap()
        .get(0);
    assert_eq!(sum, 5050);
    // The trigger (Rust SDK guest) still validates rows.
    let err = c
        .execute("INSERT INTO people (email) VALUES ('not an email')", &[])
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "P0001", "{err}");
    // The grant still holds, and only it.
    assert_eq!(call_i32(user, "SELECT up_add(1, 2)"), 3);
    let err = user.query_one("SELECT up_sub(1, 2)", &[]).unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42501", "{err}");
}

#[test]
fn update_from_0_1_0_keeps_everything_and_equals_a_fresh_install() {
    let guests = std::env::var("PG_WASM_GUESTS").expect("PG_WASM_GUESTS (make guests)");
    let db = "pg_wasm_client_upgrade";
    empty_db(db);
    let mut c = connect(db);
    c.batch_execute(
        "SET client_min_messages = warning;
         CREATE EXTENSION pg_wasm VERSION '0.1.0';
         DROP ROLE IF EXISTS up_user; CREATE ROLE up_user LOGIN;",
    )
    .unwrap();
    assert_eq!(version(&mut c), "0.1.0");
    let triggers = std::fs::read(format!("{guests}/triggers.wasm")).unwrap();
    c.execute("SELECT wasm.load('trg', $1, '{}')", &[&triggers])
        .unwrap();
    c.batch_execute(
        "SELECT wasm.load_wat('up', '(module
           (func (export \"add\") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
           (func (export \"sub\") (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
           (func (export \"acc\") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1))))');
         CREATE AGGREGATE up_sum(bigint) (SFUNC = up_acc, STYPE = bigint, INITCOND = '0');
         CREATE TABLE people (id serial PRIMARY KEY, email text);
         CREATE TRIGGER people_email BEFORE INSERT OR UPDATE ON people
           FOR EACH ROW EXECUTE FUNCTION trg_require_email();
         INSERT INTO people (email) VALUES ('ada@example.com');
         REVOKE EXECUTE ON FUNCTION up_add(int4, int4), up_sub(int4, int4) FROM PUBLIC;
         GRANT EXECUTE ON FUNCTION up_add(int4, int4) TO up_user;",
    )
    .unwrap();
    let user_dsn = dsn(db).replace("user=postgres", "user=up_user");
    let mut user = Client::connect(&user_dsn, NoTls).unwrap();
    check_works(&mut c, &mut user);
    let modules_before: Vec<String> = c
        .query(
            "SELECT name || ':' || sha256 || ':' || generation FROM wasm.modules ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();

    c.batch_execute("ALTER EXTENSION pg_wasm UPDATE").unwrap();
    assert_eq!(version(&mut c), CURRENT);
    // Connections made before the update go on working, as do new ones.
    check_works(&mut c, &mut user);
    let mut c2 = connect(db);
    check_works(&mut c2, &mut user);
    let modules_after: Vec<String> = c2
        .query(
            "SELECT name || ':' || sha256 || ':' || generation FROM wasm.modules ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(modules_before, modules_after);
    // What 0.2.0 added works on the updated database.
    let scope: String = c2
        .query_one(
            "SELECT scope FROM wasm.stats WHERE function = 'up_add(int4,int4)'::regprocedure",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(scope == "cluster" || scope == "backend");
    let cached: i64 = c2
        .query_one(
            "SELECT count(*) FROM wasm.cache WHERE 'up' = ANY(modules)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(cached, 1);
    c2.batch_execute(
        "SELECT wasm.replace('up', wasm.wat_to_wasm('(module
           (func (export \"add\") (param i32 i32) (result i32) (i32.const 7))
           (func (export \"sub\") (param i32 i32) (result i32) (i32.const 0))
           (func (export \"acc\") (param i64 i64) (result i64) (i64.const 0)))'))",
    )
    .unwrap();
    assert_eq!(call_i32(&mut user, "SELECT up_add(1, 2)"), 7);

    // The updated schema is the fresh one.
    let fresh_db_name = "pg_wasm_client_upgrade_fresh";
    let mut fresh = fresh_db(fresh_db_name);
    assert_eq!(version(&mut fresh), CURRENT);
    let updated = schema_dump(&mut c2);
    let installed = schema_dump(&mut fresh);
    assert!(updated.len() > 20, "{updated:#?}");
    for (u, f) in updated.iter().zip(&installed) {
        assert_eq!(u, f, "updated (left) and fresh (right) differ");
    }
    assert_eq!(
        updated.len(),
        installed.len(),
        "{updated:#?}\n{installed:#?}"
    );

    drop((c, c2, user, fresh));
    let mut admin = connect("postgres");
    for name in [db, fresh_db_name] {
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .unwrap();
    }
    admin.batch_execute("DROP ROLE up_user").unwrap();
}

/// A dump of a 0.1.0 database restored into a server with this version:
/// the dump says `CREATE EXTENSION pg_wasm` without a version, so the new
/// database gets the current one, and the modules (dumped as the catalog's
/// data) and functions come back working.
#[test]
fn a_0_1_0_dump_restores_into_the_current_version() {
    let db = "pg_wasm_client_upgrade_dump";
    empty_db(db);
    let mut c = connect(db);
    c.batch_execute(
        "SET client_min_messages = warning;
         CREATE EXTENSION pg_wasm VERSION '0.1.0';
         SELECT wasm.load_wat('dm', '(module
           (func (export \"twice\") (param i64) (result i64) (i64.mul (local.get 0) (i64.const 2))))');
         SELECT wasm.configure('dm', '{\"fuel\": 100000}');
         CREATE VIEW doubled AS SELECT g, dm_twice(g) AS d FROM generate_series(1, 3) g;",
    )
    .unwrap();
    assert_eq!(version(&mut c), "0.1.0");
    drop(c);

    let restored = "pg_wasm_client_upgrade_restored";
    dump_and_restore(db, restored);
    let mut r = connect(restored);
    assert_eq!(version(&mut r), CURRENT);
    let d: Vec<i64> = r
        .query("SELECT d FROM doubled ORDER BY g", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(d, vec![2, 4, 6]);
    let limits: String = r
        .query_one(
            "SELECT limits::text FROM wasm.modules WHERE name = 'dm'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(limits, r#"{"fuel": 100000}"#);
    drop(r);
    let mut admin = connect("postgres");
    for name in [db, restored] {
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .unwrap();
    }
}
