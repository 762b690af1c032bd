// pg_wasm's JavaScript prelude: plv8's API (plv8.elog, plv8.execute,
// plv8.return_next, plv8.quote_*, plv8.find_function, the level constants)
// on top of two natives from pg_js.c, and the adapters the engine calls for
// set-returning and trigger functions. Runs once, before the engine's
// memory becomes the pre-initialized image every instance starts from.
(() => {
  'use strict';
  const g = globalThis;
  const native = g.__pgjs_native;
  delete g.__pgjs_native;

  // PostgreSQL's elevels, as plv8 names them.
  const levels = {
    DEBUG5: 10, DEBUG4: 11, DEBUG3: 12, DEBUG2: 13, DEBUG1: 14,
    LOG: 15, INFO: 17, NOTICE: 18, WARNING: 19, ERROR: 21,
  };
  for (const [name, value] of Object.entries(levels)) {
    Object.defineProperty(g, name, { value, enumerable: false });
  }

  const text = (v) => {
    if (typeof v === 'string') return v;
    if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
      return JSON.stringify(v);
    }
    return String(v);
  };

  // pg.log's levels: 0 debug, 1 log, 2 info, 3 notice, 4 warning.
  const hostLevel = (level) => {
    if (level <= levels.DEBUG1) return 0;
    if (level === levels.LOG) return 1;
    if (level === levels.INFO) return 2;
    if (level === levels.NOTICE) return 3;
    return 4;
  };

  let rows = null;

  // A parameter as pg.query takes it (JSON): Dates as ISO 8601 text,
  // typed arrays as arrays of numbers, undefined as null.
  const param = (v) => (v === undefined ? null : v);
  // Runs `sql` with `params` (values, or {types, values} for a plan); a SQL
  // error comes back as `E` and its fields, thrown here as plv8 throws it.
  const answered = (answer) => {
    if (answer.charCodeAt(0) === 69 /* E */) {
      const d = JSON.parse(answer.slice(1));
      const e = new Error(d.message);
      e.sqlerrcode = d.sqlstate;
      e.code = d.sqlstate;
      if (d.detail != null) e.detail = d.detail;
      if (d.hint != null) e.hint = d.hint;
      throw e;
    }
    return answer;
  };
  const run = (sql, params) => JSON.parse(answered(native.query(String(sql), JSON.stringify(params))));
  // A cursor on the server (a portal): rows come as they are fetched, so a
  // large result never sits in the instance's memory at once.
  const openCursor = (sql, params) => {
    const number = Number(answered(native.cursor_open(String(sql), JSON.stringify(params))).slice(1));
    let closed = false;
    // At most 1 000 rows a trip, so the server never holds more at once.
    const fetch = (count) => {
      if (closed) throw new Error('the cursor is closed');
      let rows = [];
      while (rows.length < count) {
        const want = Math.min(count - rows.length, 1000);
        const batch = JSON.parse(answered(native.cursor_fetch(number, want)));
        rows = rows.length ? rows.concat(batch) : batch;
        if (batch.length < want) break;
      }
      return rows;
    };
    return Object.freeze({
      fetch(n) {
        if (n === undefined) {
          const rows = fetch(1);
          return rows.length ? rows[0] : undefined;
        }
        return fetch(Math.max(0, Math.min(n, 0x7fffffff)) | 0);
      },
      move(n) { fetch(Math.max(0, Math.min(n, 0x7fffffff)) | 0); },
      close() {
        if (!closed) {
          closed = true;
          native.cursor_close(number);
        }
      },
    });
  };

  const reserved = new Set(('all analyse analyze and any array as asc asymmetric both case cast ' +
    'check collate column constraint create current_catalog current_date current_role ' +
    'current_time current_timestamp current_user default deferrable desc distinct do else ' +
    'end except false fetch for foreign from grant group having in initially intersect into ' +
    'lateral leading limit localtime localtimestamp not null offset on only or order placing ' +
    'primary references returning select session_user some symmetric system_user table then ' +
    'to trailing true union unique user using variadic when where window with').split(' '));

  const plv8 = {
    elog(level, ...parts) {
      const message = parts.map(text).join(' ');
      if (typeof level !== 'number' || !Number.isFinite(level)) {
        throw new TypeError('plv8.elog: the first argument must be a level such as NOTICE');
      }
      if (level >= levels.ERROR) throw new Error(message);
      native.log(hostLevel(level), message);
    },
    // A SQL error is thrown as plv8 throws it: catchable, the statement
    // rolled back, with the server's sqlerrcode, detail and hint; uncaught,
    // it fails the function with that SQLSTATE (pg_js.c).
    execute(sql, ...params) {
      if (params.length === 1 && Array.isArray(params[0])) params = params[0];
      return run(sql, params.map(param));
    },
    // plv8.prepare(sql [, types]): a plan to execute or open a cursor on.
    // Each value is converted to its declared type by the server (as
    // plv8 binds them); without types, as plv8.execute types them. Each
    // execute plans the statement again.
    prepare(sql, types) {
      const text = String(sql);
      const declared = Array.isArray(types) ? types.map(String) : [];
      const args = (params) => {
        params = params.length === 1 && Array.isArray(params[0]) ? params[0] : params;
        if (declared.length === 0) return params.map(param);
        if (params.length !== declared.length) {
          throw new Error(`the plan takes ${declared.length} parameter(s), ${params.length} given`);
        }
        return { types: declared, values: params.map(param) };
      };
      return Object.freeze({
        execute: (...params) => run(text, args(params)),
        // A cursor: fetch() one row or undefined at the end, fetch(n) up
        // to n rows, move(n) skips n, close().
        cursor: (...params) => openCursor(text, args(params)),
        free() {},
      });
    },
    // fn() in a subtransaction: committed when fn returns, rolled back
    // (and the exception rethrown) when it throws; nests.
    subtransaction(fn) {
      if (typeof fn !== 'function') throw new TypeError('plv8.subtransaction needs a function');
      native.subxact(0);
      let r;
      try {
        r = fn();
      } catch (e) {
        native.subxact(2);
        throw e;
      }
      native.subxact(1);
      return r;
    },
    return_next(value) {
      if (rows === null) {
        throw new Error('plv8.return_next can only be called in a set-returning function');
      }
      rows.push(value);
    },
    quote_literal(s) {
      if (s === null || s === undefined) return null;
      s = String(s);
      const q = "'" + s.replace(/'/g, "''").replace(/\\/g, '\\\\') + "'";
      return s.includes('\\') ? 'E' + q : q;
    },
    quote_nullable(s) {
      return s === null || s === undefined ? 'NULL' : plv8.quote_literal(s);
    },
    quote_ident(s) {
      s = String(s);
      if (/^[a-z_][a-z0-9_$]*$/.test(s) && !reserved.has(s)) return s;
      return '"' + s.replace(/"/g, '""') + '"';
    },
    // A SQL function as a JavaScript one: `name` or `name(argtypes)`, as
    // regproc or regprocedure read it; called through SQL (so it may be of
    // any language), its arguments cast to the function's types.
    find_function(name) {
      const fname = String(name);
      const found = plv8.execute(
        'SELECT p.oid::pg_catalog.regproc::text AS fn, ' +
        'p.proargtypes::pg_catalog.regtype[]::text[] AS types, p.proretset AS set ' +
        'FROM pg_catalog.pg_proc p WHERE p.oid = CASE WHEN pg_catalog.strpos($1, \'(\') > 0 ' +
        'THEN $1::pg_catalog.regprocedure::pg_catalog.oid ELSE $1::pg_catalog.regproc::pg_catalog.oid END',
        [fname]);
      if (found.length === 0) throw new Error(`plv8.find_function: function "${fname}" does not exist`);
      const { fn, types, set } = found[0];
      return (...args) => {
        const list = args.map((_, i) => `$${i + 1}::${types[i] || 'unknown'}`);
        const sql = set ? `SELECT r FROM ${fn}(${list.join(', ')}) r` : `SELECT ${fn}(${list.join(', ')}) AS r`;
        const rows = plv8.execute(sql, args);
        return set ? rows.map((row) => row.r) : rows.length ? rows[0].r : null;
      };
    },
    version: 'pg_wasm',
  };
  Object.defineProperty(g, 'plv8', { value: Object.freeze(plv8), enumerable: false });

  // SETOF: rows from plv8.return_next, or the array the function returns.
  g.__pgjs_call_set = (f, args) => {
    rows = [];
    try {
      const r = f.apply(undefined, args);
      let out = rows;
      if (rows.length === 0 && r !== undefined && r !== null) {
        out = Array.isArray(r) ? r : [r];
      }
      return out;
    } finally {
      rows = null;
    }
  };

  // Triggers: the event (SPEC §6) as plv8's arguments; the decision back.
  // A BEFORE ROW trigger returns the row to store, null to skip it, or
  // undefined to go on unchanged; other triggers' results are ignored.
  g.__pgjs_call_trigger = (f, eventText) => {
    const ev = JSON.parse(eventText);
    const r = f.call(undefined, ev.new ?? undefined, ev.old ?? undefined, ev.name, ev.when,
      ev.level, ev.event, ev.relid, ev.table, ev.schema, ev.args);
    if (ev.when !== 'BEFORE' || ev.level !== 'ROW' || r === undefined) return {};
    if (r === null) return { skip: true };
    // A DELETE goes on with any other value (plv8 and PL/pgSQL return OLD).
    if (ev.event === 'DELETE') return {};
    return { new: r };
  };

  // require(name): a library stored with wasm.load_javascript, run once
  // per instance as a CommonJS module (module, exports, require); what it
  // puts in module.exports is returned. Only the function owner's own
  // libraries (the host checks).
  const libraries = new Map();
  const require = function require(name) {
    name = String(name);
    const known = libraries.get(name);
    if (known) return known.exports;
    const factory = native.library(name);
    if (factory === null) {
      const e = new Error(`Cannot find module '${name}' (no JavaScript library of that name: wasm.load_javascript)`);
      e.code = 'MODULE_NOT_FOUND';
      throw e;
    }
    const module = { exports: {}, id: name };
    libraries.set(name, module);
    try {
      factory.call(module.exports, module, module.exports, require);
    } catch (e) {
      libraries.delete(name);
      throw e;
    }
    return module.exports;
  };
  Object.defineProperty(g, 'require', { value: require, writable: true, configurable: true });

  // Math.random is the engine's (pg_js.c): reseeded for every instance.
  Object.defineProperty(Math, 'random', { value: native.random, writable: true, configurable: true });
})();
