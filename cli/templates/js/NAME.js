// {{name}}: SQL functions in JavaScript, for pg_wasm's LANGUAGE javascript.
// This file is a CommonJS module (what require() loads); each function
// with an "// @sql" comment becomes a SQL function when deployed
// (pg-wasm deploy {{name}}.js). Arguments arrive as plv8 converts them:
// numbers, strings, booleans, objects for json/jsonb, Date for timestamps.

// @sql greet(name text) RETURNS text IMMUTABLE STRICT
exports.greet = (name) => `Hello, ${name}!`;

// @sql add(a integer, b integer) RETURNS integer IMMUTABLE STRICT
exports.add = (a, b) => a + b;
