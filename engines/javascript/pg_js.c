/*
 * pg_wasm's JavaScript engine: QuickJS-ng built as a Wasm reactor, with the
 * few entry points the host (runtime/src/javascript.rs) calls.
 *
 * One instance runs one SQL function: `pgjs_compile`/`pgjs_load` make it once
 * per instance, `pgjs_call` calls it with arguments the host encoded (see
 * "Arguments" below) and returns the result in the core ABI's form
 * (`ptr << 32 | len`, SPEC §5), so the extension reads it like any wasm
 * function's result. The instance's only imports are the host API
 * (`pg.log`, `pg.query`) and the clock and stubs wasi-libc needs.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quickjs.h"

#define IMPORT(m, n) __attribute__((import_module(m), import_name(n)))
#define EXPORT(n) __attribute__((export_name(n)))

IMPORT("pg", "log") void pg_log(int32_t level, const char *ptr, int32_t len);
/* pg.query's sibling for this engine: a statement without rows answers
 * the number of rows it processed (plv8.execute's result). */
IMPORT("pg", "execute")
int64_t pg_execute(const char *sql, int32_t sql_len, const char *params, int32_t params_len);

/* plv8.subtransaction: 0 begins one, 1 commits the innermost, 2 rolls it
 * back; 0 on success (see Host::subtransaction). */
IMPORT("pg", "subtransaction") int32_t pg_subtransaction(int32_t op);

/* plv8's cursors: open ('C' + number, or 'E' + a SQL error), fetch (rows,
 * or 'E' + a SQL error), close. */
IMPORT("pg", "cursor_open")
int64_t pg_cursor_open(const char *sql, int32_t sql_len, const char *params, int32_t params_len);
IMPORT("pg", "cursor_fetch") int64_t pg_cursor_fetch(int32_t cursor, int32_t count);
IMPORT("pg", "cursor_close") void pg_cursor_close(int32_t cursor);

/* The source of a library require() asks for: 'S' + source, 'N' (none) or
 * 'D' + why not (see Host::library). */
IMPORT("pg", "library") int64_t pg_library(const char *name, int32_t len);

/* The prelude: plv8's API on top of the two natives below (prelude.js,
 * turned into a C string by the build). */
#include "prelude.h"

static JSRuntime *rt;
static JSContext *ctx;
/* The function this instance runs, and the prelude's adapters. */
static JSValue fn;
static JSValue call_set;     /* (f, args) -> rows: SETOF */
static JSValue call_trigger; /* (f, event JSON) -> decision JSON */

/* The argument buffer the host writes each call's record into (grown by
 * `pgjs_args`, never freed by a call): no allocation per row. */
static uint8_t *args_buf;
static size_t args_cap;

/* What the host reads after a call: a result string QuickJS owns until the
 * host frees it, or bytes of our own. */
static const char *pending_cstr;
static uint8_t *pending_bytecode;
static uint8_t *out;
static size_t out_cap;

/* Result lengths with a meaning of their own (SPEC §5 uses u32::MAX for
 * NULL; the next value down says "exception", see `fail`). */
#define LEN_NULL 0xFFFFFFFFu
#define LEN_EXCEPTION 0xFFFFFFFEu

static int64_t packed(const void *ptr, uint32_t len) {
    return (int64_t)(((uint64_t)(uintptr_t)ptr << 32) | len);
}

static uint8_t *out_reserve(size_t n) {
    if (n > out_cap) {
        size_t cap = out_cap ? out_cap : 256;
        while (cap < n) cap *= 2;
        uint8_t *p = realloc(out, cap);
        if (!p) return NULL;
        out = p;
        out_cap = cap;
    }
    return out;
}

/* ---- the natives the prelude wraps ---- */

/* __pgjs_native.log(level 0..4, message) */
static JSValue native_log(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    int32_t level = 3;
    size_t len;
    if (argc < 2 || JS_ToInt32(c, &level, argv[0])) return JS_EXCEPTION;
    const char *msg = JS_ToCStringLen(c, &len, argv[1]);
    if (!msg) return JS_EXCEPTION;
    pg_log(level, msg, (int32_t)len);
    JS_FreeCString(c, msg);
    return JS_UNDEFINED;
}

/* A host answer (pointer << 32 | length, in memory the host allocated
 * here) as a string, the memory freed. */
static JSValue answer_string(JSContext *c, int64_t r) {
    char *rows = (char *)(uintptr_t)(uint32_t)((uint64_t)r >> 32);
    uint32_t rows_len = (uint32_t)r;
    JSValue s = JS_NewStringLen(c, rows ? rows : "", rows ? rows_len : 0);
    free(rows);
    return s;
}

typedef int64_t (*sql_import)(const char *, int32_t, const char *, int32_t);

/* Calls `run` with argv[0] (SQL) and argv[1] (parameters as JSON). */
static JSValue with_sql(JSContext *c, int argc, JSValueConst *argv, sql_import run) {
    size_t sql_len, params_len;
    if (argc < 2) return JS_ThrowTypeError(c, "SQL and parameters needed");
    const char *sql = JS_ToCStringLen(c, &sql_len, argv[0]);
    if (!sql) return JS_EXCEPTION;
    const char *params = JS_ToCStringLen(c, &params_len, argv[1]);
    if (!params) {
        JS_FreeCString(c, sql);
        return JS_EXCEPTION;
    }
    int64_t r = run(sql, (int32_t)sql_len, params, (int32_t)params_len);
    JS_FreeCString(c, sql);
    JS_FreeCString(c, params);
    return answer_string(c, r);
}

/* __pgjs_native.query(sql, params JSON) -> rows JSON, or a row count */
static JSValue native_query(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    return with_sql(c, argc, argv, pg_execute);
}

/* __pgjs_native.cursor_open(sql, params JSON) -> 'C' + number, or 'E' + error */
static JSValue native_cursor_open(JSContext *c, JSValueConst this_val, int argc,
                                  JSValueConst *argv) {
    return with_sql(c, argc, argv, pg_cursor_open);
}

/* __pgjs_native.cursor_fetch(number, count) -> rows JSON, or 'E' + error */
static JSValue native_cursor_fetch(JSContext *c, JSValueConst this_val, int argc,
                                   JSValueConst *argv) {
    int32_t cursor, count;
    if (argc < 2 || JS_ToInt32(c, &cursor, argv[0]) || JS_ToInt32(c, &count, argv[1]))
        return JS_EXCEPTION;
    return answer_string(c, pg_cursor_fetch(cursor, count));
}

/* __pgjs_native.cursor_close(number) */
static JSValue native_cursor_close(JSContext *c, JSValueConst this_val, int argc,
                                   JSValueConst *argv) {
    int32_t cursor;
    if (argc < 1 || JS_ToInt32(c, &cursor, argv[0])) return JS_EXCEPTION;
    pg_cursor_close(cursor);
    return JS_UNDEFINED;
}

/* __pgjs_native.subxact(op): see pg_subtransaction. */
static JSValue native_subxact(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    int32_t op = -1;
    if (argc < 1 || JS_ToInt32(c, &op, argv[0])) return JS_EXCEPTION;
    if (pg_subtransaction(op) != 0) return JS_ThrowInternalError(c, "plv8.subtransaction failed");
    return JS_UNDEFINED;
}

/* Math.random: xorshift128+ whose state the host reseeds for every
 * instance (the image's state is shared by all of them). Not for
 * cryptography, like every engine's Math.random. */
static uint64_t rnd0 = 0x9e3779b97f4a7c15ull, rnd1 = 0xbf58476d1ce4e5b9ull;

static JSValue native_random(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t s1 = rnd0;
    const uint64_t s0 = rnd1;
    rnd0 = s0;
    s1 ^= s1 << 23;
    rnd1 = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return JS_NewFloat64(c, (double)((rnd1 + s0) >> 11) * 0x1.0p-53);
}

static void reseed(uint64_t seed) {
    /* splitmix64, so that any seed (even 0) gives a good state */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 2; i++) {
        uint64_t x = z;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        x ^= x >> 31;
        if (i == 0) rnd0 = x; else rnd1 = x;
        z += 0x9e3779b97f4a7c15ull;
    }
    if (!rnd0 && !rnd1) rnd1 = 1;
}

/* Keeps a library's bytecode in the host for this backend's later
 * instances (see Host::library_compiled). */
IMPORT("pg", "library_compiled")
void pg_library_compiled(const char *name, int32_t name_len, const uint8_t *bc, int32_t bc_len);

/* __pgjs_native.library(name) -> the library's module function
 * (module, exports, require), or null when there is no such library;
 * throws when the function may not use it. The host answers with the
 * source ('S': compiled here, its bytecode handed back), bytecode another
 * instance compiled ('B'), none ('N') or why not ('D'). */
static JSValue native_library(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    size_t len;
    if (argc < 1) return JS_ThrowTypeError(c, "library needs a name");
    const char *name = JS_ToCStringLen(c, &len, argv[0]);
    if (!name) return JS_EXCEPTION;
    int64_t r = pg_library(name, (int32_t)len);
    char *answer = (char *)(uintptr_t)(uint32_t)((uint64_t)r >> 32);
    uint32_t answer_len = (uint32_t)r;
    JSValue v;
    if (!answer || answer_len == 0 || answer[0] == 'N') {
        v = JS_NULL;
    } else if (answer[0] == 'B') {
        JSValue obj = JS_ReadObject(c, (const uint8_t *)answer + 1, answer_len - 1, JS_READ_OBJ_BYTECODE);
        v = JS_IsException(obj) ? obj : JS_EvalFunction(c, obj);
    } else if (answer[0] == 'S') {
        /* The CommonJS wrapper, on the source's first line (keep in step
         * with runtime/src/javascript/mod.rs, library_source). */
        static const char head[] = "(function (module, exports, require) {";
        static const char tail[] = "\n})";
        size_t n = sizeof(head) - 1 + (answer_len - 1) + sizeof(tail) - 1;
        char *src = malloc(n + 1);
        if (!src) {
            v = JS_ThrowOutOfMemory(c);
        } else {
            memcpy(src, head, sizeof(head) - 1);
            memcpy(src + sizeof(head) - 1, answer + 1, answer_len - 1);
            memcpy(src + sizeof(head) - 1 + answer_len - 1, tail, sizeof(tail));
            JSValue obj = JS_Eval(c, src, n, name, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY);
            free(src);
            if (JS_IsException(obj)) {
                v = obj;
            } else {
                size_t bc_len;
                uint8_t *bc = JS_WriteObject(c, &bc_len, obj, JS_WRITE_OBJ_BYTECODE);
                if (bc) {
                    pg_library_compiled(name, (int32_t)len, bc, (int32_t)bc_len);
                    js_free(c, bc);
                }
                v = JS_EvalFunction(c, obj);
            }
        }
    } else {
        JSValue msg = JS_NewStringLen(c, answer + 1, answer_len - 1);
        const char *m = JS_ToCString(c, msg);
        v = JS_ThrowTypeError(c, "%s", m ? m : "library denied");
        if (m) JS_FreeCString(c, m);
        JS_FreeValue(c, msg);
    }
    free(answer);
    JS_FreeCString(c, name);
    return v;
}

/* ---- memory the host writes into (SPEC §5) ---- */

EXPORT("pg_wasm_alloc") void *pg_wasm_alloc(int32_t len) {
    /* One spare byte: QuickJS wants sources and JSON NUL-terminated. */
    uint8_t *p = malloc((size_t)len + 1);
    if (p) p[len] = 0;
    return p;
}

/* Frees what the host got from us: a result string, or memory it had
 * from pg_wasm_alloc. */
EXPORT("pg_wasm_free") void pg_wasm_free(void *ptr, int32_t len) {
    (void)len;
    if (!ptr) return;
    if (ptr == pending_cstr) {
        JS_FreeCString(ctx, pending_cstr);
        pending_cstr = NULL;
    } else if (ptr == pending_bytecode) {
        js_free(ctx, pending_bytecode);
        pending_bytecode = NULL;
    } else if (ptr != out) {
        free(ptr);
    }
}

/* A buffer of at least `size` bytes for argument records; the host keeps
 * the pointer until it needs a larger one. NULL when memory ran out. */
EXPORT("pgjs_args") uint8_t *pgjs_args(int32_t size) {
    if ((size_t)size + 1 > args_cap) {
        uint8_t *p = realloc(args_buf, (size_t)size + 1);
        if (!p) return NULL;
        args_buf = p;
        args_cap = (size_t)size + 1;
    }
    return args_buf;
}

/* ---- set-up ---- */

static JSValue global_fn(const char *name) {
    JSValue g = JS_GetGlobalObject(ctx);
    JSValue f = JS_GetPropertyStr(ctx, g, name);
    JS_FreeValue(ctx, g);
    return f;
}

/* Creates the runtime and context and runs the prelude. Called once, before
 * the instance's memory becomes the engine's pre-initialized image; returns
 * 0, or -1 if the prelude failed (a bug). */
EXPORT("pgjs_init") int32_t pgjs_init(void) {
    if (rt) return 0;
    rt = JS_NewRuntime();
    if (!rt) return -1;
    ctx = JS_NewContext(rt);
    if (!ctx) return -1;
    /* QuickJS checks its C stack against this (patched in for WASI by the
     * build, see build.sh): deep JavaScript recursion is a RangeError the
     * function can catch, not a trap. */
    JS_SetMaxStackSize(rt, PGJS_STACK_LIMIT);
    JSValue native = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, native, "log", JS_NewCFunction(ctx, native_log, "log", 2));
    JS_SetPropertyStr(ctx, native, "query", JS_NewCFunction(ctx, native_query, "query", 2));
    JS_SetPropertyStr(ctx, native, "subxact", JS_NewCFunction(ctx, native_subxact, "subxact", 1));
    JS_SetPropertyStr(ctx, native, "cursor_open",
                      JS_NewCFunction(ctx, native_cursor_open, "cursor_open", 2));
    JS_SetPropertyStr(ctx, native, "cursor_fetch",
                      JS_NewCFunction(ctx, native_cursor_fetch, "cursor_fetch", 2));
    JS_SetPropertyStr(ctx, native, "cursor_close",
                      JS_NewCFunction(ctx, native_cursor_close, "cursor_close", 1));
    JS_SetPropertyStr(ctx, native, "random", JS_NewCFunction(ctx, native_random, "random", 0));
    JS_SetPropertyStr(ctx, native, "library", JS_NewCFunction(ctx, native_library, "library", 1));
    JSValue g = JS_GetGlobalObject(ctx);
    JS_SetPropertyStr(ctx, g, "__pgjs_native", native);
    JS_FreeValue(ctx, g);
    JSValue r = JS_Eval(ctx, pgjs_prelude, sizeof(pgjs_prelude) - 1, "<pg_wasm prelude>",
                        JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(r)) return -1;
    JS_FreeValue(ctx, r);
    call_set = global_fn("__pgjs_call_set");
    call_trigger = global_fn("__pgjs_call_trigger");
    fn = JS_UNDEFINED;
    return 0;
}

/* Each instance starts from the same image: reseed Math.random from the
 * host's randomness so no two instances share a sequence. */
EXPORT("pgjs_seed") void pgjs_seed(int64_t seed) { reseed((uint64_t)seed); }

/* ---- errors ---- */

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* The pending exception as `u32 len, message, u32 len, stack, u32 len,
 * sqlstate, u32 len, detail, u32 len, hint`, returned with LEN_EXCEPTION.
 * An error plv8.execute made from a SQL error (it carries `sqlerrcode`,
 * five characters) keeps the server's message, SQLSTATE, detail and hint,
 * so an uncaught one fails the function as the statement failed. */
static const char *string_prop(JSValue obj, const char *name, size_t *len) {
    JSValue v = JS_GetPropertyStr(ctx, obj, name);
    const char *s = JS_IsString(v) ? JS_ToCStringLen(ctx, len, v) : NULL;
    JS_FreeValue(ctx, v);
    if (!s) *len = 0;
    return s;
}

static int64_t fail(void) {
    JSValue exc = JS_GetException(ctx);
    enum { MESSAGE, STACK, CODE, DETAIL, HINT, FIELDS };
    const char *field[FIELDS] = {NULL};
    size_t len[FIELDS] = {0};
    if (JS_IsObject(exc)) {
        field[CODE] = string_prop(exc, "sqlerrcode", &len[CODE]);
        if (field[CODE] && len[CODE] != 5) {
            JS_FreeCString(ctx, field[CODE]);
            field[CODE] = NULL;
            len[CODE] = 0;
        }
        if (field[CODE]) {
            field[MESSAGE] = string_prop(exc, "message", &len[MESSAGE]);
            field[DETAIL] = string_prop(exc, "detail", &len[DETAIL]);
            field[HINT] = string_prop(exc, "hint", &len[HINT]);
        }
        field[STACK] = string_prop(exc, "stack", &len[STACK]);
    }
    if (!field[MESSAGE]) field[MESSAGE] = JS_ToCStringLen(ctx, &len[MESSAGE], exc);
    if (!field[MESSAGE]) {
        /* Converting the exception threw too (or memory ran out). */
        JS_FreeValue(ctx, JS_GetException(ctx));
        len[MESSAGE] = 0;
    }
    size_t total = 0;
    for (int i = 0; i < FIELDS; i++) total += 4 + len[i];
    uint8_t *p = out_reserve(total);
    if (p) {
        uint8_t *at = p;
        for (int i = 0; i < FIELDS; i++) {
            put_u32(at, (uint32_t)len[i]);
            if (len[i]) memcpy(at + 4, field[i], len[i]);
            at += 4 + len[i];
        }
    }
    for (int i = 0; i < FIELDS; i++)
        if (field[i]) JS_FreeCString(ctx, field[i]);
    JS_FreeValue(ctx, exc);
    return packed(p, LEN_EXCEPTION);
}

/* ---- defining the function ---- */

/* Compiles `src` (a function expression the host built around the body,
 * NUL-terminated at src[len]; `name` names the script in stacks) without
 * running anything and returns its bytecode (freed with pg_wasm_free), so that other instances of the
 * same function can `pgjs_load` it instead of parsing the source again; or
 * an exception. */
EXPORT("pgjs_compile")
int64_t pgjs_compile(const char *src, int32_t len, const char *name, int32_t name_len) {
    (void)name_len;
    JSValue obj = JS_Eval(ctx, src, (size_t)len, name, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY);
    free((void *)src);
    free((void *)name);
    if (JS_IsException(obj)) return fail();
    size_t size;
    uint8_t *bc = JS_WriteObject(ctx, &size, obj, JS_WRITE_OBJ_BYTECODE);
    JS_FreeValue(ctx, obj);
    if (!bc) return fail();
    if (pending_bytecode) js_free(ctx, pending_bytecode);
    pending_bytecode = bc;
    return packed(bc, (uint32_t)size);
}

/* Makes the function from bytecode `pgjs_compile` wrote (in this backend,
 * from the same source): evaluates the script, which yields the function.
 * Reseeds Math.random too (one call to make a fresh instance ready). */
EXPORT("pgjs_load") int64_t pgjs_load(const uint8_t *bc, int32_t len, int64_t seed) {
    reseed((uint64_t)seed);
    JSValue obj = JS_ReadObject(ctx, bc, (size_t)len, JS_READ_OBJ_BYTECODE);
    free((void *)bc);
    if (JS_IsException(obj)) return fail();
    JSValue f = JS_EvalFunction(ctx, obj);
    if (JS_IsException(f)) return fail();
    if (!JS_IsFunction(ctx, f)) {
        JS_FreeValue(ctx, f);
        JS_ThrowTypeError(ctx, "the function body did not compile to a function");
        return fail();
    }
    JS_FreeValue(ctx, fn);
    fn = f;
    return packed(NULL, 0);
}

/* ---- arguments ----
 * The host writes the arguments as one record, each value a tag byte and
 * its payload (little-endian, unaligned):
 *   0 NULL        1 bool (u8)      2 int32         3 float64
 *   4 string (u32 len, UTF-8)      5 JSON (u32 len, parsed)
 *   6 Date (float64 ms since 1970) 7 bytes (u32 len, a Uint8Array)
 *   8 number from text (u32 len)   9 int64 (a Number, as plv8 gives int8) */

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Decodes one value at *pp (end at `end`); JS_EXCEPTION on a bad record. */
static JSValue decode(const uint8_t **pp, const uint8_t *end) {
    const uint8_t *p = *pp;
    if (p >= end) return JS_ThrowInternalError(ctx, "pg_wasm: argument record too short");
    uint8_t tag = *p++;
    JSValue v;
    switch (tag) {
    case 0: v = JS_NULL; break;
    case 1:
        if (end - p < 1) goto short_rec;
        v = JS_NewBool(ctx, *p != 0);
        p += 1;
        break;
    case 2: {
        int32_t i;
        if (end - p < 4) goto short_rec;
        memcpy(&i, p, 4);
        v = JS_NewInt32(ctx, i);
        p += 4;
        break;
    }
    case 3:
    case 6: {
        double d;
        if (end - p < 8) goto short_rec;
        memcpy(&d, p, 8);
        v = tag == 3 ? JS_NewFloat64(ctx, d) : JS_NewDate(ctx, d);
        p += 8;
        break;
    }
    case 9: {
        int64_t i;
        if (end - p < 8) goto short_rec;
        memcpy(&i, p, 8);
        v = JS_NewInt64(ctx, i);
        p += 8;
        break;
    }
    case 4:
    case 5:
    case 7:
    case 8: {
        if (end - p < 4) goto short_rec;
        uint32_t n = get_u32(p);
        p += 4;
        if ((size_t)(end - p) < n) goto short_rec;
        if (tag == 4) {
            v = JS_NewStringLen(ctx, (const char *)p, n);
        } else if (tag == 7) {
            v = JS_NewUint8ArrayCopy(ctx, p, n);
        } else {
            /* JSON and numbers need a NUL after them: copy. */
            char *tmp = malloc(n + 1);
            if (!tmp) return JS_ThrowOutOfMemory(ctx);
            memcpy(tmp, p, n);
            tmp[n] = 0;
            if (tag == 5) {
                v = JS_ParseJSON(ctx, tmp, n, "<argument>");
            } else {
                char *endp;
                v = JS_NewFloat64(ctx, strtod(tmp, &endp));
            }
            free(tmp);
        }
        p += n;
        break;
    }
    default:
        return JS_ThrowInternalError(ctx, "pg_wasm: unknown argument tag %d", tag);
    }
    *pp = p;
    return v;
short_rec:
    return JS_ThrowInternalError(ctx, "pg_wasm: argument record too short");
}

/* ---- results ----
 * `kind` says what the SQL result type wants:
 *   0 void   1 bool   2 integer   3 float   4 text (String(v), a Date as ISO
 *   8601)    5 JSON (JSON.stringify)   6 bytes (Uint8Array, ArrayBuffer or
 *   string)
 * plus 16 for SETOF (the rows as a JSON array) and 32 for a trigger (the
 * argument bytes are the event JSON, the result the decision JSON, SPEC §6).
 * Scalars (1-3) come back as 9 bytes of our own: a tag (0 NULL, 1 bool,
 * 3 float64, 9 int64) and the value. Everything else is the bytes of a
 * string QuickJS keeps until `pg_wasm_free`. */

static int64_t string_result(JSValue v) {
    size_t len;
    const char *s = JS_ToCStringLen(ctx, &len, v);
    JS_FreeValue(ctx, v);
    if (!s) return fail();
    if (pending_cstr) JS_FreeCString(ctx, pending_cstr);
    pending_cstr = s;
    return packed(s, (uint32_t)len);
}

static int64_t scalar_result(uint8_t tag, const void *value) {
    uint8_t *p = out_reserve(9);
    if (!p) {
        JS_ThrowOutOfMemory(ctx);
        return fail();
    }
    p[0] = tag;
    memset(p + 1, 0, 8);
    if (value) memcpy(p + 1, value, 8);
    return packed(p, 9);
}

static int64_t encode(JSValue v, int kind) {
    if (kind == 0) {
        JS_FreeValue(ctx, v);
        return packed(NULL, LEN_NULL);
    }
    if (JS_IsNull(v) || JS_IsUndefined(v)) {
        if (kind >= 1 && kind <= 3) return scalar_result(0, NULL);
        return packed(NULL, LEN_NULL);
    }
    switch (kind) {
    case 1: {
        double b = JS_ToBool(ctx, v) ? 1.0 : 0.0;
        JS_FreeValue(ctx, v);
        return scalar_result(1, &b);
    }
    case 2:
    case 3: {
        if (kind == 2 && JS_IsBigInt(v)) {
            int64_t i;
            int bad = JS_ToBigInt64(ctx, &i, v);
            JS_FreeValue(ctx, v);
            if (bad) return fail();
            return scalar_result(9, &i);
        }
        double d;
        int bad = JS_ToFloat64(ctx, &d, v);
        JS_FreeValue(ctx, v);
        if (bad) return fail();
        return scalar_result(3, &d);
    }
    case 4:
        if (JS_IsDate(v)) {
            JSAtom to_iso = JS_NewAtom(ctx, "toISOString");
            JSValue iso = JS_Invoke(ctx, v, to_iso, 0, NULL);
            JS_FreeAtom(ctx, to_iso);
            JS_FreeValue(ctx, v);
            if (JS_IsException(iso)) return fail();
            return string_result(iso);
        }
        if (JS_IsObject(v) && !JS_IsFunction(ctx, v)) {
            /* An object or array where text is wanted: its JSON, as plv8. */
            JSValue s = JS_JSONStringify(ctx, v, JS_UNDEFINED, JS_UNDEFINED);
            JS_FreeValue(ctx, v);
            if (JS_IsException(s)) return fail();
            return string_result(s);
        }
        return string_result(v);
    case 5: {
        JSValue s = JS_JSONStringify(ctx, v, JS_UNDEFINED, JS_UNDEFINED);
        JS_FreeValue(ctx, v);
        if (JS_IsException(s)) return fail();
        if (JS_IsUndefined(s)) return packed(NULL, LEN_NULL);
        return string_result(s);
    }
    case 6: {
        size_t n;
        uint8_t *bytes = JS_GetUint8Array(ctx, &n, v);
        if (!bytes) {
            JS_FreeValue(ctx, JS_GetException(ctx));
            bytes = JS_GetArrayBuffer(ctx, &n, v);
        }
        if (!bytes) {
            JS_FreeValue(ctx, JS_GetException(ctx));
            return string_result(v);
        }
        uint8_t *p = out_reserve(n ? n : 1);
        if (!p) {
            JS_FreeValue(ctx, v);
            JS_ThrowOutOfMemory(ctx);
            return fail();
        }
        memcpy(p, bytes, n);
        JS_FreeValue(ctx, v);
        return packed(p, (uint32_t)n);
    }
    }
    JS_FreeValue(ctx, v);
    JS_ThrowInternalError(ctx, "pg_wasm: unknown result kind %d", kind);
    return fail();
}

#define MAX_ARGS 100

/* Arguments came in the argument buffer (kept) or from pg_wasm_alloc. */
static void release_args(const uint8_t *args) {
    if (args && args != args_buf) free((void *)args);
}

/* Calls the instance's function with the arguments at `args` (`len` bytes,
 * in the argument buffer, or from pg_wasm_alloc and freed here). A trigger's argument is the event JSON
 * itself, not a record. */
EXPORT("pgjs_call") int64_t pgjs_call(const uint8_t *args, int32_t len, int32_t kind) {
    JSValue argv[MAX_ARGS];
    int argc = 0;
    if (kind & 32) {
        JSValue pair[2] = {fn, JS_NewStringLen(ctx, (const char *)args, args ? (size_t)len : 0)};
        release_args(args);
        if (JS_IsException(pair[1])) return fail();
        JSValue r = JS_Call(ctx, call_trigger, JS_UNDEFINED, 2, pair);
        JS_FreeValue(ctx, pair[1]);
        if (JS_IsException(r)) return fail();
        return encode(r, 5);
    }
    const uint8_t *p = args, *end = args ? args + len : args;
    while (p < end) {
        if (argc == MAX_ARGS) {
            JS_ThrowInternalError(ctx, "pg_wasm: more than %d arguments", MAX_ARGS);
            goto failed;
        }
        JSValue v = decode(&p, end);
        if (JS_IsException(v)) goto failed;
        argv[argc++] = v;
    }
    release_args(args);
    args = NULL;
    JSValue r;
    int base = kind & 15;
    if (kind & 16) {
        JSValue list = JS_NewArray(ctx);
        for (int i = 0; i < argc; i++) {
            JS_SetPropertyUint32(ctx, list, (uint32_t)i, JS_DupValue(ctx, argv[i]));
        }
        JSValue pair[2] = {fn, list};
        r = JS_Call(ctx, call_set, JS_UNDEFINED, 2, pair);
        JS_FreeValue(ctx, list);
        base = 5;
    } else {
        r = JS_Call(ctx, fn, JS_UNDEFINED, argc, argv);
    }
    for (int i = 0; i < argc; i++) JS_FreeValue(ctx, argv[i]);
    if (JS_IsException(r)) return fail();
    return encode(r, base);
failed:
    for (int i = 0; i < argc; i++) JS_FreeValue(ctx, argv[i]);
    release_args(args);
    return fail();
}
