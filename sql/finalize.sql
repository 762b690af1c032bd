-- pg_wasm: the language, the views and the default privileges. Runs last.

CREATE FUNCTION wasm.wasm_call_handler() RETURNS language_handler
    LANGUAGE c AS 'MODULE_PATHNAME', 'wasm_call_handler';
CREATE FUNCTION wasm.wasm_validator(oid) RETURNS void
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'wasm_validator';

-- Changes to wasm.module made without pg_wasm's functions (rows applied by
-- logical replication) reach every backend's module cache too. ALWAYS: the
-- apply worker runs with session_replication_role = replica.
CREATE FUNCTION wasm.module_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'wasm_module_changed';
CREATE TRIGGER module_changed AFTER INSERT OR UPDATE OR DELETE ON wasm.module
    FOR EACH ROW EXECUTE FUNCTION wasm.module_changed();
ALTER TABLE wasm.module ENABLE ALWAYS TRIGGER module_changed;

-- Trusted: Wasm code cannot reach the server beyond what pg_wasm hands it,
-- so any role with USAGE may create wasm functions; the validator still
-- requires that the creator owns the module a function calls.
CREATE TRUSTED LANGUAGE wasm
    HANDLER wasm.wasm_call_handler
    VALIDATOR wasm.wasm_validator;
COMMENT ON LANGUAGE wasm IS 'WebAssembly functions (pg_wasm)';

-- JavaScript run by pg_wasm's engine (QuickJS-ng compiled to Wasm) inside
-- the same sandbox and limits: trusted, like wasm (docs/javascript.md).
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

-- Every name is schema-qualified (docs/security.md, "The search_path rule").
CREATE VIEW wasm.modules AS
SELECT m.name,
       m.owner,
       pg_catalog.octet_length(m.bytes) AS size,
       pg_catalog.encode(m.sha256, 'hex') AS sha256,
       m.exports,
       m.limits,
       m.capabilities,
       m.generation,
       m.loaded_at,
       m.replaced_at
  FROM wasm.module m;
COMMENT ON VIEW wasm.modules IS 'Loaded WebAssembly modules (without their code).';

-- Bodies are read by wasm.parse_body, the parser the call handler uses.
CREATE VIEW wasm.functions AS
SELECT p.oid::pg_catalog.regprocedure AS function,
       b.module,
       CASE WHEN b.inline THEN p.proname::pg_catalog.text ELSE b.export END AS export,
       CASE WHEN p.prorettype OPERATOR(pg_catalog.=) 'pg_catalog.trigger'::pg_catalog.regtype THEN 'trigger'
            WHEN p.proretset THEN 'set'
            ELSE 'scalar' END AS kind
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
  LEFT JOIN LATERAL wasm.parse_body(p.prosrc) b ON true
 WHERE l.lanname OPERATOR(pg_catalog.=) 'wasm';
COMMENT ON VIEW wasm.functions IS
  'Functions of language wasm and the module export each calls (module is NULL for inline WAT).';

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

-- Compiled artifacts of the whole cluster (SPEC §11); modules: this
-- database's modules with that code.
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

GRANT USAGE ON SCHEMA wasm TO PUBLIC;
GRANT SELECT ON wasm.modules, wasm.functions, wasm.stats, wasm.cache TO PUBLIC;

CREATE VIEW wasm.javascript_libraries AS
SELECT l.name, l.owner, pg_catalog.octet_length(l.source) AS size,
       pg_catalog.encode(l.sha256, 'hex') AS sha256, l.loaded_at
  FROM wasm.javascript_library l;
COMMENT ON VIEW wasm.javascript_libraries IS 'JavaScript libraries functions can require(), without their source.';
GRANT SELECT ON wasm.javascript_libraries TO PUBLIC;

-- Loading code is a privilege: the superuser grants it (SPEC §7).
REVOKE EXECUTE ON FUNCTION wasm.load(text, bytea, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION wasm.clear_cache(boolean) FROM PUBLIC;
-- Resetting the cluster's statistics: superusers, or a role they grant it to.
REVOKE EXECUTE ON FUNCTION wasm.reset_stats() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION wasm.load_wat(text, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION wasm.replace(text, bytea, jsonb) FROM PUBLIC;
