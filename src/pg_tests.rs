//! `#[pg_test]`: behaviour inside a backend (run by `cargo pgrx test`).

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn load_math() {
        Spi::run(
            r#"SELECT wasm.load_wat('math', '(module
                (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
                (func (export "half") (param f64) (result f64) local.get 0 f64.const 0.5 f64.mul)
                (func (export "spin") (loop br 0)))')"#,
        )
        .unwrap();
    }

    #[pg_test]
    fn load_creates_typed_functions() {
        load_math();
        assert_eq!(
            Spi::get_one::<i32>("SELECT math_add(40, 2)").unwrap(),
            Some(42)
        );
        assert_eq!(
            Spi::get_one::<f64>("SELECT math_half(3)").unwrap(),
            Some(1.5)
        );
        let n = Spi::get_one::<i64>("SELECT count(*) FROM wasm.functions WHERE module = 'math'");
        assert_eq!(n.unwrap(), Some(3));
    }

    #[pg_test]
    fn a_module_kind_is_read_without_a_statement() {
        load_math();
        Spi::run(
            r#"SELECT wasm.load('seven', wasm.wat_to_wasm('(component
                (core module $m (func (export "f") (result i32) i32.const 7))
                (core instance $i (instantiate $m))
                (func $f (result s32) (canon lift (core func $i "f")))
                (export "seven" (func $f)))'))"#,
        )
        .unwrap();
        // Loaded earlier in this transaction, both are seen.
        assert!(crate::pg::component::is_component_module("seven").unwrap());
        assert!(!crate::pg::component::is_component_module("math").unwrap());
        assert_eq!(
            Spi::get_one::<i32>("SELECT seven_seven()").unwrap(),
            Some(7)
        );
        let _latest = crate::pg::cache::LatestSnapshot::push();
        for name in ["math", "seven", "no_such_module"] {
            assert_eq!(
                crate::catalog::header(name).unwrap(),
                crate::catalog::header_by_statement(name).unwrap(),
                "{name}"
            );
        }
        assert_eq!(
            crate::catalog::header("math").unwrap().as_deref(),
            Some(&b"\0asm\x01\0\0\0"[..])
        );
        assert_eq!(crate::catalog::header("no_such_module").unwrap(), None);
    }

    #[pg_test]
    fn strict_and_nulls() {
        load_math();
        assert_eq!(
            Spi::get_one::<i32>("SELECT math_add(NULL, 2)").unwrap(),
            None
        );
    }

    #[pg_test]
    #[should_panic(expected = "ran out of fuel")]
    fn fuel_limit_stops_a_loop() {
        load_math();
        Spi::run("SET pg_wasm.fuel_limit = 10000").unwrap();
        Spi::run("SELECT math_spin()").unwrap();
    }

    #[pg_test]
    fn cache_follows_replace_in_the_same_session() {
        load_math();
        assert_eq!(
            Spi::get_one::<i32>("SELECT math_add(1, 1)").unwrap(),
            Some(2)
        );
        Spi::run(
            r#"SELECT wasm.replace('math', wasm.wat_to_wasm('(module
                (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.mul)
                (func (export "half") (param f64) (result f64) local.get 0)
                (func (export "spin")))'))"#,
        )
        .unwrap();
        assert_eq!(
            Spi::get_one::<i32>("SELECT math_add(3, 3)").unwrap(),
            Some(9)
        );
    }

    #[pg_test]
    fn stats_count_calls() {
        load_math();
        Spi::run("SELECT sum(math_add(i, 1)) FROM generate_series(1, 100) i").unwrap();
        let calls = Spi::get_one::<i64>(
            "SELECT calls FROM wasm.stats WHERE function = 'math_add(int4,int4)'::regprocedure",
        );
        assert_eq!(calls.unwrap(), Some(100));
    }

    #[pg_test]
    #[should_panic(expected = "timed out")]
    fn timeout_stops_a_loop_with_unlimited_fuel() {
        load_math();
        Spi::run("SET pg_wasm.fuel_limit = 0").unwrap();
        Spi::run("SET pg_wasm.timeout_ms = 100").unwrap();
        Spi::run("SELECT math_spin()").unwrap();
    }

    #[pg_test]
    fn effective_limits_take_the_tightest_of_guc_maximum_and_module() {
        use crate::catalog::Settings;
        let set = |sql: &str| Spi::run(sql).unwrap();
        set("SET pg_wasm.fuel_limit = 0");
        set("SET pg_wasm.max_fuel_limit = 0");
        assert_eq!(Settings::default().effective().fuel, 0, "unlimited");
        set("SET pg_wasm.max_fuel_limit = 1000");
        assert_eq!(
            Settings::default().effective().fuel,
            1000,
            "0 means the maximum"
        );
        set("SET pg_wasm.fuel_limit = 5000");
        assert_eq!(
            Settings::default().effective().fuel,
            1000,
            "clamped to the maximum"
        );
        let module = Settings {
            fuel: Some(10),
            timeout_ms: Some(70),
            memory_mb: Some(2),
            ..Settings::default()
        };
        assert_eq!(module.effective().fuel, 10, "a module may be tighter");
        set("SET pg_wasm.timeout_ms = 50");
        assert_eq!(module.effective().timeout_ms, 50, "but not looser");
        set("SET pg_wasm.max_memory_limit_mb = 1");
        assert_eq!(module.effective().memory_bytes, 1 << 20);
    }

    /// An inline guest that returns its (ptr, len) argument: the memory ABI.
    const ECHO: &str = r#"(module (memory (export "memory") 1)
        (global $next (mut i32) (i32.const 1024))
        (func (export "pg_wasm_alloc") (param i32) (result i32)
          (global.get $next) (global.set $next (i32.add (global.get $next) (local.get 0))))
        (func (export "echo") (param i32 i32) (result i64)
          (i64.or (i64.shl (i64.extend_i32_u (local.get 0)) (i64.const 32))
                  (i64.extend_i32_u (local.get 1)))))"#;

    #[pg_test]
    fn text_and_json_cross_guest_memory() {
        Spi::run(&format!(
            "CREATE FUNCTION echo_text(text) RETURNS text LANGUAGE wasm STRICT AS '{ECHO}'"
        ))
        .unwrap();
        Spi::run(&format!(
            "CREATE FUNCTION echo_rows(jsonb) RETURNS SETOF int LANGUAGE wasm STRICT AS '{ECHO}'"
        ))
        .unwrap();
        assert_eq!(
            Spi::get_one::<String>("SELECT echo_text('héllo wasm')").unwrap(),
            Some("héllo wasm".to_string())
        );
        assert_eq!(
            Spi::get_one::<i64>("SELECT sum(x) FROM echo_rows('[1, 2, 39]') x").unwrap(),
            Some(42)
        );
    }

    #[pg_test]
    fn a_trigger_can_skip_rows() {
        Spi::run(
            r#"CREATE TABLE t (id int);
               CREATE FUNCTION skip_odd() RETURNS trigger LANGUAGE wasm AS '(module
                 (memory (export "memory") 1)
                 (data (i32.const 0) "{\"skip\": true}")
                 (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
                 (func (export "skip_odd") (param i32 i32) (result i64) i64.const 14))';
               CREATE TRIGGER t_skip BEFORE INSERT ON t FOR EACH ROW
                 WHEN (NEW.id % 2 = 1) EXECUTE FUNCTION skip_odd();
               INSERT INTO t SELECT generate_series(1, 10);"#,
        )
        .unwrap();
        assert_eq!(
            Spi::get_one::<i64>("SELECT sum(id) FROM t").unwrap(),
            Some(30)
        );
    }

    /// Every row of `table` as the trigger encoder writes it, next to
    /// row_to_json's text for the same row.
    fn encoded_rows(table: &str) -> Vec<(String, String)> {
        use crate::marshal::row_json::RowEncoder;
        let sql = format!("SELECT x_row, row_to_json(x_row)::text FROM {table} x_row ORDER BY 2");
        let mut out = Vec::new();
        // SAFETY: SPI inside the test's transaction; the tuples and their
        // descriptor live until SPI_finish.
        unsafe {
            pg_sys::SPI_connect();
            let rel = pg_sys::RelnameGetRelid(std::ffi::CString::new(table).unwrap().as_ptr());
            let relation = pg_sys::RelationIdGetRelation(rel);
            let mut enc = RowEncoder::new((*relation).rd_att, pg_sys::CurrentMemoryContext);
            let q = std::ffi::CString::new(sql).unwrap();
            assert!(pg_sys::SPI_execute(q.as_ptr(), false, 0) > 0);
            let tt = pg_sys::SPI_tuptable;
            for i in 0..pg_sys::SPI_processed as usize {
                let row = *(*tt).vals.add(i);
                let mut isnull = false;
                let d = pg_sys::SPI_getbinval(row, (*tt).tupdesc, 1, &mut isnull);
                let header = pg_sys::pg_detoast_datum(d.cast_mut_ptr())
                    .cast::<pg_sys::HeapTupleHeaderData>();
                let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
                tuple.t_len = pgrx::varsize(header.cast()) as u32;
                tuple.t_data = header;
                let mut bytes = Vec::new();
                enc.append(&mut tuple, &mut bytes);
                let expected =
                    std::ffi::CStr::from_ptr(pg_sys::SPI_getvalue(row, (*tt).tupdesc, 2));
                out.push((
                    String::from_utf8(bytes).unwrap(),
                    expected.to_string_lossy().into_owned(),
                ));
            }
            pg_sys::RelationClose(relation);
            pg_sys::SPI_finish();
        }
        out
    }

    #[pg_test]
    fn trigger_rows_are_encoded_as_row_to_json_does() {
        Spi::run(
            r#"CREATE DOMAIN small_pos AS int CHECK (VALUE > 0);
               CREATE TABLE every_type (
                 i2 int2, i4 int4, i8 int8, b bool, t text, vc varchar(12), c char(5),
                 f4 float4, f8 float8, n numeric, j json, jb jsonb, d date,
                 ts timestamp, tz timestamptz, u uuid, iv interval, by bytea,
                 ip inet, dom small_pos, gone int, nm name);
               ALTER TABLE every_type DROP COLUMN gone;
               INSERT INTO every_type VALUES
                 (-32768, -2147483648, -9223372036854775808, true,
                  E'quote " back \\ nl \n tab \t bell \x07 del \x7f é ☃', 'short', 'ab',
                  'NaN', 'Infinity', 'NaN', '{ "a" : [1, 2] }', '{"b": {"c": null}}',
                  'infinity', '2024-02-29 23:59:59.123456', '1999-12-31 12:00+02',
                  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:03:04', '\x00ff',
                  '10.1.2.3/24', 7, 'name"x'),
                 (32767, 2147483647, 9223372036854775807, false, '', '', '',
                  '-Infinity', 1.5e300, 12.50, 'null', '[]', '0044-03-15 BC',
                  '-infinity', 'infinity', NULL, '-1 year', '', '::1', 1, ''),
                 (0, 7, -1, NULL, NULL, NULL, NULL, -0.0, 0.1, '-Infinity', NULL, NULL,
                  '2024-01-31', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
               CREATE TYPE mood AS ENUM ('ok');
               CREATE TABLE with_fallback (id int, tags text[], m mood, r every_type);
               INSERT INTO with_fallback SELECT 1, '{a,"b c"}', 'ok', e FROM every_type e LIMIT 1;"#,
        )
        .unwrap();
        for table in ["every_type", "with_fallback"] {
            let rows = encoded_rows(table);
            assert!(!rows.is_empty());
            for (ours, theirs) in rows {
                assert_eq!(ours, theirs, "{table}");
            }
        }
    }

    /// wasm.load stores the compiled module for the cluster; the test's
    /// transaction is rolled back, which removes the link it created.
    #[pg_test]
    fn load_stores_an_artifact() {
        let before = Spi::get_one::<i64>("SELECT stored FROM wasm.cache_stats()")
            .unwrap()
            .unwrap();
        load_math();
        let after = Spi::get_one::<i64>("SELECT stored FROM wasm.cache_stats()")
            .unwrap()
            .unwrap();
        assert_eq!(after, before + 1);
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM wasm.cache WHERE 'math' = ANY (modules)")
                .unwrap(),
            Some(1)
        );
    }
}
