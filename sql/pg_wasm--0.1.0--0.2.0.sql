-- pg_wasm 0.1.0 -> 0.2.0 (ALTER EXTENSION pg_wasm UPDATE).
-- What changed: a trigger on wasm.module for changes applied by logical
-- replication; compiled artifacts shared by the cluster (wasm.cache,
-- wasm.clear_cache, wasm.cache_stats), the instance pool's figures
-- (wasm.instance_pool) and cluster-wide wasm.stats (mean
-- time, last error, scope; wasm.reset_stats no longer open to PUBLIC).
-- wasm.module is unchanged: modules, functions and grants stay as they are.
-- A fresh CREATE EXTENSION of 0.2.0 and this update give the same schema
-- (tests/client/upgrade.rs compares them).
\echo Use "ALTER EXTENSION pg_wasm UPDATE TO '0.2.0'" to load this file. \quit

-- Changes to wasm.module made without pg_wasm's functions (rows applied by
-- logical replication) reach every backend's module cache too. ALWAYS: the
-- apply worker runs with session_replication_role = replica.
CREATE FUNCTION wasm.module_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'wasm_module_changed';
CREATE TRIGGER module_changed AFTER INSERT OR UPDATE OR DELETE ON wasm.module
    FOR EACH ROW EXECUTE FUNCTION wasm.module_changed();
ALTER TABLE wasm.module ENABLE ALWAYS TRIGGER module_changed;

-- Citus: the trigger of the op log wasm.citus_op (made by the coordinator's
-- first module change; docs/scale-out.md).
CREATE FUNCTION wasm.citus_apply() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'citus_apply_wrapper';
COMMENT ON FUNCTION wasm.citus_apply() IS
  'Trigger of the Citus op log wasm.citus_op: applies a module change made on the coordinator to this node.';

CREATE FUNCTION wasm.citus_catch_up() RETURNS bigint VOLATILE
SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', 'citus_catch_up_wrapper';
COMMENT ON FUNCTION wasm.citus_catch_up() IS
  'Citus: bring this node''s modules to what the op log wasm.citus_op says; returns how many changed.';
REVOKE EXECUTE ON FUNCTION wasm.citus_catch_up() FROM PUBLIC;

CREATE FUNCTION wasm.citus_sync() RETURNS bigint VOLATILE
SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', 'citus_sync_wrapper';
COMMENT ON FUNCTION wasm.citus_sync() IS
  'Citus, on the coordinator after citus_add_node: give every worker the modules of the op log. Returns how many modules changed on the workers.';
REVOKE EXECUTE ON FUNCTION wasm.citus_sync() FROM PUBLIC;

-- Compiled artifacts (SPEC §11).
CREATE FUNCTION wasm.cache_entries()
RETURNS TABLE(key text, sha256 bytea, size bigint, databases bigint, created timestamptz)
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', 'cache_entries_wrapper';

CREATE FUNCTION wasm.cache_stats()
RETURNS TABLE(compiled bigint, mapped bigint, stored bigint, rejected bigint)
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', 'cache_stats_wrapper';
COMMENT ON FUNCTION wasm.cache_stats() IS
  'This backend: modules compiled, artifacts mapped instead, artifacts stored, damaged or unfit artifacts ignored.';

-- The backend's instance pool (pooled, copy-on-write instances per
-- statement; docs/limits.md).
CREATE FUNCTION wasm.instance_pool()
RETURNS TABLE(pooled boolean, slots integer, keep_resident_kb integer,
    core_instances bigint, component_instances bigint,
    memories bigint, warm_memories bigint, idle_resident_kb bigint, note text)
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', 'instance_pool_wrapper';
COMMENT ON FUNCTION wasm.instance_pool() IS
  'This backend''s instance pool: its size, the instances and memories alive now, and what idle slots keep resident (docs/limits.md).';

CREATE FUNCTION wasm.clear_cache(all_artifacts boolean DEFAULT false)
RETURNS bigint VOLATILE STRICT SET search_path = pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'clear_cache_wrapper';
COMMENT ON FUNCTION wasm.clear_cache(boolean) IS
  'Remove compiled artifacts no module uses (with true: every artifact of the cluster; backends compile again on next use). Returns how many went.';
REVOKE EXECUTE ON FUNCTION wasm.clear_cache(boolean) FROM PUBLIC;

CREATE VIEW wasm.cache AS
SELECT c.key,
       pg_catalog.encode(c.sha256, 'hex') AS sha256,
       c.size,
       c.databases,
       ARRAY(SELECT m.name FROM wasm.module m
              WHERE m.sha256 OPERATOR(pg_catalog.=) c.sha256 ORDER BY m.name) AS modules,
       c.created
  FROM wasm.cache_entries() c;
COMMENT ON VIEW wasm.cache IS
  'Compiled artifacts stored for the cluster: size, databases using each, this database''s modules using each.';
GRANT SELECT ON wasm.cache TO PUBLIC;

-- Cluster-wide statistics: a new source with more columns, so the view is
-- made again (its grant with it); 0.1.0's wasm.backend_stats() goes.
DROP VIEW wasm.stats;
DROP FUNCTION wasm.backend_stats();

CREATE FUNCTION wasm.stats_entries()
RETURNS TABLE(fn_oid oid, calls bigint, total_time_ms double precision, fuel_used bigint,
              traps bigint, last_error text, scope text)
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', 'stats_entries_wrapper';

CREATE VIEW wasm.stats AS
SELECT s.fn_oid::pg_catalog.regprocedure AS function,
       s.calls,
       s.total_time_ms,
       s.fuel_used,
       s.traps,
       s.total_time_ms OPERATOR(pg_catalog./) NULLIF(s.calls, 0) AS mean_time_ms,
       s.last_error,
       s.scope
  FROM wasm.stats_entries() s;
COMMENT ON VIEW wasm.stats IS
  'Calls, time (with pg_wasm.track_time), fuel, traps and last error of this database''s wasm functions: the whole cluster''s (scope cluster) when pg_wasm is in shared_preload_libraries, else this backend''s (scope backend).';
GRANT SELECT ON wasm.stats TO PUBLIC;

COMMENT ON FUNCTION wasm.reset_stats() IS
  'Forget the wasm.stats counters of this database''s functions: every backend''s when pg_wasm is preloaded, else this backend''s.';
-- Resetting the cluster's statistics: superusers, or a role they grant it to.
REVOKE EXECUTE ON FUNCTION wasm.reset_stats() FROM PUBLIC;

-- JavaScript in CREATE FUNCTION (docs/javascript.md).
CREATE FUNCTION wasm.javascript_validator(oid) RETURNS void
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'javascript_validator';
CREATE FUNCTION wasm.javascript_inline_handler(internal) RETURNS void
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'javascript_inline_handler';
CREATE TRUSTED LANGUAGE javascript
    HANDLER wasm.wasm_call_handler
    INLINE wasm.javascript_inline_handler
    VALIDATOR wasm.javascript_validator;
COMMENT ON LANGUAGE javascript IS 'JavaScript functions in the Wasm sandbox (pg_wasm)';

-- Python run by pg_wasm's engine (CPython compiled to Wasm) inside the same
-- sandbox and limits: trusted, like wasm (docs/python.md).
CREATE FUNCTION wasm.python_validator(oid) RETURNS void
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'python_validator';
CREATE FUNCTION wasm.python_inline_handler(internal) RETURNS void
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'python_inline_handler';
CREATE TRUSTED LANGUAGE python
    HANDLER wasm.wasm_call_handler
    INLINE wasm.python_inline_handler
    VALIDATOR wasm.python_validator;
COMMENT ON LANGUAGE python IS 'Python functions in the Wasm sandbox (pg_wasm)';

-- JavaScript libraries for require() (sql/catalog.sql).
CREATE TABLE wasm.javascript_library (
    name      text PRIMARY KEY
              CONSTRAINT javascript_library_name
              CHECK (name ~ '^[A-Za-z0-9_@][A-Za-z0-9_@/.+-]*$' AND octet_length(name) <= 200),
    owner     regrole NOT NULL DEFAULT current_user::regrole,
    source    text NOT NULL,
    sha256    bytea NOT NULL CHECK (octet_length(sha256) = 32),
    loaded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE wasm.javascript_library IS
  'JavaScript libraries for require(). Change it only through wasm.load_javascript and wasm.unload_javascript.';
SELECT pg_catalog.pg_extension_config_dump('wasm.javascript_library', '');
REVOKE ALL ON wasm.javascript_library FROM PUBLIC;
CREATE VIEW wasm.javascript_libraries AS
SELECT l.name, l.owner, pg_catalog.octet_length(l.source) AS size,
       pg_catalog.encode(l.sha256, 'hex') AS sha256, l.loaded_at
  FROM wasm.javascript_library l;
COMMENT ON VIEW wasm.javascript_libraries IS 'JavaScript libraries functions can require(), without their source.';
GRANT SELECT ON wasm.javascript_libraries TO PUBLIC;
CREATE FUNCTION wasm.load_javascript(name text, source text) RETURNS boolean VOLATILE STRICT
LANGUAGE c AS 'MODULE_PATHNAME', 'load_javascript_wrapper';
COMMENT ON FUNCTION wasm.load_javascript(text, text) IS
  'Store a JavaScript library (a CommonJS module, e.g. an npm package bundled into one file) for require(name); true if it replaced one. Yours only, and only your functions may require it.';
CREATE FUNCTION wasm.unload_javascript(name text) RETURNS void VOLATILE STRICT
LANGUAGE c AS 'MODULE_PATHNAME', 'unload_javascript_wrapper';
COMMENT ON FUNCTION wasm.unload_javascript(text) IS
  'Remove a JavaScript library (its owner only); functions that require it fail from their next statement.';
