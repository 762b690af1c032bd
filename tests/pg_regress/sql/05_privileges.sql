-- Who may load, change and build on modules (SPEC §7).
SET client_min_messages = warning;
SELECT wasm.load_wat('admin_mod', '(module (func (export "f") (result i32) i32.const 1))',
                     '{"functions": "none"}');
CREATE ROLE wasm_tenant;
CREATE ROLE wasm_other;
GRANT CREATE ON SCHEMA public TO wasm_tenant, wasm_other;

SET ROLE wasm_tenant;
-- Not executable by PUBLIC.
SELECT wasm.load_wat('mine', '(module)');
\echo :LAST_ERROR_SQLSTATE
-- Module code is not readable; metadata is.
SELECT count(*) FROM wasm.module;
\echo :LAST_ERROR_SQLSTATE
SELECT name, owner FROM wasm.modules WHERE name = 'admin_mod';
-- Someone else's module: no functions, no changes.
CREATE FUNCTION steal() RETURNS integer LANGUAGE wasm AS 'admin_mod.f';
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.unload('admin_mod');
\echo :LAST_ERROR_SQLSTATE
SELECT wasm.configure('admin_mod', '{"fuel": 1}');
\echo :LAST_ERROR_SQLSTATE
-- Inline WAT needs no module and is open to anyone with USAGE on the language.
CREATE FUNCTION tenant_inline() RETURNS integer LANGUAGE wasm AS
  '(module (func (export "tenant_inline") (result i32) i32.const 99))';
SELECT tenant_inline();
RESET ROLE;

-- The superuser grants loading; the module then belongs to the tenant.
GRANT EXECUTE ON FUNCTION wasm.load_wat(text, text, jsonb), wasm.replace(text, bytea, jsonb) TO wasm_tenant;
SET ROLE wasm_tenant;
SELECT wasm.load_wat('tenant_mod', '(module (func (export "f") (result i32) i32.const 5))');
SELECT tenant_mod_f();
SELECT owner FROM wasm.modules WHERE name = 'tenant_mod';
SELECT wasm.configure('tenant_mod', '{"fuel": 100000}');
RESET ROLE;

GRANT EXECUTE ON FUNCTION wasm.replace(text, bytea, jsonb) TO wasm_other;
SET ROLE wasm_other;
SELECT tenant_mod_f();
SELECT wasm.replace('tenant_mod', wasm.wat_to_wasm('(module)'));
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION other_f() RETURNS integer LANGUAGE wasm AS 'tenant_mod.f';
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- The superuser may do anything; clean up.
SELECT wasm.unload('tenant_mod', cascade => true);
DROP FUNCTION tenant_inline();
REVOKE CREATE ON SCHEMA public FROM wasm_tenant, wasm_other;
REVOKE EXECUTE ON FUNCTION wasm.load_wat(text, text, jsonb), wasm.replace(text, bytea, jsonb) FROM wasm_tenant;
REVOKE EXECUTE ON FUNCTION wasm.replace(text, bytea, jsonb) FROM wasm_other;
DROP ROLE wasm_tenant;
DROP ROLE wasm_other;
