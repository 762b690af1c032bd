-- pg_wasm catalog: one row per module. Runs first in the extension script.
-- pg_dump keeps the rows (pg_extension_config_dump); functions built on
-- modules are ordinary pg_proc rows and are dumped as such.

-- Every load and replace takes a new generation, never reused (a rolled-back
-- value is skipped), so "name + generation" identifies one version of code.
CREATE SEQUENCE wasm.module_generation;

CREATE TABLE wasm.module (
    name         text PRIMARY KEY
                 CONSTRAINT module_name_is_identifier
                 CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND octet_length(name) <= 63),
    owner        regrole NOT NULL DEFAULT current_user::regrole,
    bytes        bytea NOT NULL,
    sha256       bytea NOT NULL CHECK (octet_length(sha256) = 32),
    exports      jsonb NOT NULL,
    imports      jsonb NOT NULL,
    limits       jsonb NOT NULL DEFAULT '{}',
    capabilities jsonb NOT NULL DEFAULT '{}',
    generation   bigint NOT NULL DEFAULT nextval('wasm.module_generation'),
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    replaced_at  timestamptz
);

-- WebAssembly compresses poorly with pglz; store it out of line as is.
ALTER TABLE wasm.module ALTER COLUMN bytes SET STORAGE EXTERNAL;

COMMENT ON TABLE wasm.module IS
  'pg_wasm modules. Change it only through wasm.load, wasm.replace, wasm.unload and wasm.configure.';

SELECT pg_catalog.pg_extension_config_dump('wasm.module', '');
SELECT pg_catalog.pg_extension_config_dump('wasm.module_generation', '');

-- Module code is readable only through the owner's own queries; everyone
-- may see metadata through the views in finalize.sql.
REVOKE ALL ON wasm.module FROM PUBLIC;
REVOKE ALL ON SEQUENCE wasm.module_generation FROM PUBLIC;

-- JavaScript libraries (docs/javascript.md, "Libraries"): source text that
-- functions of LANGUAGE javascript load with require(name). A library
-- belongs to the role that loaded it; a function may require only its own
-- owner's libraries.
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
