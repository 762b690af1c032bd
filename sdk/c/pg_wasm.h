/*
 * pg_wasm.h — the pg_wasm guest ABI (version 1) for C, in one header.
 *
 * Include it in exactly one translation unit of a freestanding wasm32
 * module (clang --target=wasm32 -nostdlib). It gives you:
 *
 *   - pg_wasm_alloc / pg_wasm_free: an arena the host copies arguments
 *     into; it is reset when the host calls pg_wasm_free after each call,
 *     so per-row garbage never accumulates;
 *   - pgw_bytes: a (ptr, len) argument, len == -1 for SQL NULL;
 *   - pgw_return / pgw_return_null: results as ptr << 32 | len;
 *   - pgw_buf: a growable output buffer in the arena (with JSON helpers);
 *   - pgw_log / pgw_error / pgw_query: the host API (import module "pg");
 *   - pgw_trigger_read, pgw_json_get / pgw_json_text / pgw_json_int and
 *     pgw_changes_*: trigger events in, decisions out (SPEC §6).
 *
 * The self-describing "pg_wasm" custom section cannot be written from C
 * with clang 14; put its JSON in <name>.pg_wasm.json next to the source and
 * scripts/build-guests.sh appends it (scripts/add-wasm-section.py).
 *
 * See docs/abi.md for the protocol and docs/guests.md for a walk-through.
 */
#ifndef PG_WASM_H
#define PG_WASM_H

typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
typedef unsigned long size_t;

#define PGW_EXPORT(name) __attribute__((export_name(#name)))
#define PGW_IMPORT(name) __attribute__((import_module("pg"), import_name(#name)))

/* ---- memory --------------------------------------------------------- */

extern unsigned char __heap_base;
static uint32_t pgw_next_;

static void *pgw_alloc(uint32_t len) {
    if (pgw_next_ == 0)
        pgw_next_ = (uint32_t)&__heap_base;
    uint32_t p = (pgw_next_ + 7u) & ~7u;
    uint32_t end = p + len;
    uint32_t have = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        uint32_t pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1)
            __builtin_trap();
    }
    pgw_next_ = end;
    return (void *)p;
}

PGW_EXPORT(pg_wasm_alloc) void *pg_wasm_alloc(int32_t len) {
    return pgw_alloc((uint32_t)len);
}

/* The host calls this once per SQL call, after it has copied the result
 * (with (0, 0) when there was none): everything in the arena is dead. */
PGW_EXPORT(pg_wasm_free) void pg_wasm_free(void *ptr, int32_t len) {
    (void)ptr;
    (void)len;
    pgw_next_ = (uint32_t)&__heap_base;
}

/* ---- values ----------------------------------------------------------- */

typedef struct {
    const uint8_t *ptr;
    int32_t len; /* -1: SQL NULL (non-strict functions only) */
} pgw_bytes;

#define PGW_ARG(p, l) ((pgw_bytes){(const uint8_t *)(p), (l)})
#define PGW_IS_NULL(b) ((b).len < 0)

static inline int64_t pgw_return(const void *ptr, int32_t len) {
    return (int64_t)(((uint64_t)(uint32_t)ptr << 32) | (uint32_t)len);
}

static inline int64_t pgw_return_null(void) { return (int64_t)0xFFFFFFFFu; }

/* memory.copy (the build passes -mbulk-memory). */
static inline void pgw_memcpy(void *dst, const void *src, uint32_t n) { __builtin_memcpy(dst, src, n); }

/* Searching eight bytes at a time: byte loops are what Wasm (with fuel
 * metering) is slowest at. pgw_has_byte_ is non-zero when some byte of w
 * is c; its lowest set bit marks the first such byte. */
#define PGW_ONES_ 0x0101010101010101ull
#define PGW_HIGH_ 0x8080808080808080ull

static inline uint64_t pgw_load64_(const uint8_t *p) {
    uint64_t w;
    __builtin_memcpy(&w, p, 8);
    return w;
}

static inline uint64_t pgw_has_byte_(uint64_t w, uint8_t c) {
    uint64_t x = w ^ (PGW_ONES_ * c);
    return (x - PGW_ONES_) & ~x & PGW_HIGH_;
}

/* The first index at or after i of a '"' or a backslash (or n). */
static uint32_t pgw_find_quote_(const uint8_t *s, uint32_t n, uint32_t i) {
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pgw_load64_(s + i);
        uint64_t hit = pgw_has_byte_(w, '"') | pgw_has_byte_(w, '\\');
        if (hit)
            return i + (uint32_t)(__builtin_ctzll(hit) >> 3);
    }
    while (i < n && s[i] != '"' && s[i] != '\\')
        i++;
    return i;
}

/* The first index at or after i of a byte a JSON string must escape. */
static uint32_t pgw_find_escape_(const uint8_t *s, uint32_t n, uint32_t i) {
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pgw_load64_(s + i);
        uint64_t hit = pgw_has_byte_(w, '"') | pgw_has_byte_(w, '\\') | ((w - PGW_ONES_ * 0x20) & ~w & PGW_HIGH_);
        if (hit)
            return i + (uint32_t)(__builtin_ctzll(hit) >> 3);
    }
    while (i < n && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20)
        i++;
    return i;
}

static uint32_t pgw_strlen(const char *s) {
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* A growable buffer in the arena, for building results. */
typedef struct {
    uint8_t *ptr;
    uint32_t len, cap;
} pgw_buf;

static void pgw_buf_reserve(pgw_buf *b, uint32_t extra) {
    if (b->len + extra <= b->cap)
        return;
    uint32_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = pgw_alloc(cap);
    if (b->len)
        pgw_memcpy(p, b->ptr, b->len);
    b->ptr = p;
    b->cap = cap;
}

static void pgw_buf_push(pgw_buf *b, uint8_t c) {
    pgw_buf_reserve(b, 1);
    b->ptr[b->len++] = c;
}

static void pgw_buf_append(pgw_buf *b, const void *src, uint32_t n) {
    pgw_buf_reserve(b, n);
    pgw_memcpy(b->ptr + b->len, src, n);
    b->len += n;
}

static void pgw_buf_str(pgw_buf *b, const char *s) { pgw_buf_append(b, s, pgw_strlen(s)); }

/* A JSON string literal (with quotes) of UTF-8 text. */
static void pgw_buf_json_string(pgw_buf *b, const uint8_t *s, uint32_t n) {
    static const char hex[] = "0123456789abcdef";
    pgw_buf_reserve(b, n + 2);
    b->ptr[b->len++] = '"';
    uint32_t i = 0;
    for (;;) {
        uint32_t j = pgw_find_escape_(s, n, i);
        pgw_buf_append(b, s + i, j - i);
        if (j == n)
            break;
        uint8_t c = s[j];
        if (c == '"' || c == '\\') {
            pgw_buf_push(b, '\\');
            pgw_buf_push(b, c);
        } else {
            pgw_buf_str(b, "\\u00");
            pgw_buf_push(b, (uint8_t)hex[c >> 4]);
            pgw_buf_push(b, (uint8_t)hex[c & 15]);
        }
        i = j + 1;
    }
    pgw_buf_push(b, '"');
}

static void pgw_buf_i64(pgw_buf *b, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        pgw_buf_push(b, '-');
    while (n)
        pgw_buf_push(b, (uint8_t)tmp[--n]);
}

static inline int64_t pgw_return_buf(const pgw_buf *b) { return pgw_return(b->ptr, (int32_t)b->len); }

/* ---- host API (SPEC §8) --------------------------------------------- */

enum { PGW_DEBUG = 0, PGW_LOG = 1, PGW_INFO = 2, PGW_NOTICE = 3, PGW_WARNING = 4 };

PGW_IMPORT(log) void pgw_log_(int32_t level, const void *ptr, int32_t len);
PGW_IMPORT(error) void pgw_error_(const void *ptr, int32_t len);
PGW_IMPORT(query) int64_t pgw_query_(const void *sql, int32_t sql_len, const void *params, int32_t params_len);

static inline void pgw_log(int32_t level, const char *msg) { pgw_log_(level, msg, (int32_t)pgw_strlen(msg)); }
static inline void pgw_error(const char *msg) { pgw_error_(msg, (int32_t)pgw_strlen(msg)); }

/* ---- JSON values (read in place) -------------------------------------- */

/* A JSON value is a pgw_bytes holding its text, e.g. `"abc"`, `12.5`,
 * `null`, `{...}`; len == -1 when it is absent. Nothing is copied: values
 * point into the document they come from. */

static int pgw_memeq_(const void *a, const void *b, uint32_t n) {
    const uint8_t *x = a, *y = b;
    for (uint32_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

static uint32_t pgw_json_ws_(const uint8_t *s, uint32_t n, uint32_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    return i;
}

/* The index just past the JSON value that starts at s[i]. */
static uint32_t pgw_json_skip_(const uint8_t *s, uint32_t n, uint32_t i) {
    uint32_t depth = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == '"') {
            for (i = pgw_find_quote_(s, n, i + 1); i < n && s[i] == '\\';)
                i = pgw_find_quote_(s, n, i + 2);
            if (i >= n)
                return n; /* unterminated */
            i++;
            if (depth == 0)
                return i;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
            return i;
        }
        i++;
    }
    return n;
}

/* Steps through the members of a JSON object: start with *pos = 0; returns
 * 0 after the last member (or on malformed input). The key is the raw text
 * between its quotes. */
static int pgw_json_next(pgw_bytes obj, uint32_t *pos, pgw_bytes *key, pgw_bytes *value) {
    const uint8_t *s = obj.ptr;
    uint32_t n = obj.len < 0 ? 0 : (uint32_t)obj.len;
    uint32_t i = pgw_json_ws_(s, n, *pos);
    if (i >= n)
        return 0;
    if (*pos == 0) {
        if (s[i] != '{')
            return 0;
        i = pgw_json_ws_(s, n, i + 1);
    } else if (s[i] == ',') {
        i = pgw_json_ws_(s, n, i + 1);
    } else {
        return 0;
    }
    if (i >= n || s[i] != '"')
        return 0;
    uint32_t kend = pgw_json_skip_(s, n, i);
    *key = PGW_ARG(s + i + 1, (int32_t)(kend - i - 2));
    i = pgw_json_ws_(s, n, kend);
    if (i >= n || s[i] != ':')
        return 0;
    i = pgw_json_ws_(s, n, i + 1);
    uint32_t vend = pgw_json_skip_(s, n, i);
    *value = PGW_ARG(s + i, (int32_t)(vend - i));
    *pos = vend;
    return 1;
}

static int pgw_key_is_(pgw_bytes key, const char *name) {
    uint32_t n = pgw_strlen(name);
    return key.len == (int32_t)n && pgw_memeq_(key.ptr, name, n);
}

/* The value of `key` in a JSON object (a row: its column), or len -1. */
static pgw_bytes pgw_json_get(pgw_bytes obj, const char *key) {
    uint32_t pos = 0;
    pgw_bytes k, v;
    while (pgw_json_next(obj, &pos, &k, &v))
        if (pgw_key_is_(k, key))
            return v;
    return PGW_ARG(0, -1);
}

/* Whether a value is JSON null or absent. */
static inline int pgw_json_is_null(pgw_bytes v) {
    return v.len < 0 || (v.len == 4 && pgw_memeq_(v.ptr, "null", 4));
}

static uint32_t pgw_hex4_(const uint8_t *s) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c = s[k];
        v = v * 16 + (c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0);
    }
    return v;
}

/* The text of a JSON string value (UTF-8, escapes resolved into the arena
 * when there are any); len -1 for null, absent or non-string values. */
static pgw_bytes pgw_json_text(pgw_bytes v) {
    if (v.len < 2 || v.ptr[0] != '"')
        return PGW_ARG(0, -1);
    const uint8_t *s = v.ptr + 1;
    uint32_t n = (uint32_t)v.len - 2, i = pgw_find_quote_(s, n, 0);
    if (i == n)
        return PGW_ARG(s, (int32_t)n);
    uint8_t *out = pgw_alloc(n);
    uint32_t o = 0;
    for (i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        uint8_t e = s[++i];
        if (e == 'u' && i + 4 < n) {
            uint32_t cp = pgw_hex4_(s + i + 1);
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((pgw_hex4_(s + i + 3) - 0xDC00) & 0x3FF);
                i += 6;
            }
            /* UTF-8 is never longer than the escape it came from. */
            if (cp < 0x80) {
                out[o++] = (uint8_t)cp;
            } else if (cp < 0x800) {
                out[o++] = (uint8_t)(0xC0 | cp >> 6);
                out[o++] = (uint8_t)(0x80 | (cp & 63));
            } else if (cp < 0x10000) {
                out[o++] = (uint8_t)(0xE0 | cp >> 12);
                out[o++] = (uint8_t)(0x80 | (cp >> 6 & 63));
                out[o++] = (uint8_t)(0x80 | (cp & 63));
            } else {
                out[o++] = (uint8_t)(0xF0 | cp >> 18);
                out[o++] = (uint8_t)(0x80 | (cp >> 12 & 63));
                out[o++] = (uint8_t)(0x80 | (cp >> 6 & 63));
                out[o++] = (uint8_t)(0x80 | (cp & 63));
            }
        } else {
            out[o++] = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
        }
    }
    return PGW_ARG(out, (int32_t)o);
}

/* An integer value (a JSON number without fraction); 0 if it is not one. */
static int pgw_json_int(pgw_bytes v, int64_t *out) {
    if (v.len <= 0)
        return 0;
    int32_t i = 0;
    int neg = v.ptr[0] == '-';
    if (neg)
        i++;
    if (i == v.len)
        return 0;
    uint64_t u = 0;
    for (; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return 0;
        u = u * 10 + (uint64_t)(v.ptr[i] - '0');
    }
    *out = neg ? -(int64_t)u : (int64_t)u;
    return 1;
}

/* ---- triggers (SPEC §6) ------------------------------------------------ */

/* The event document's parts, as JSON values (read in one pass). */
typedef struct {
    pgw_bytes event, when, level, schema, table, name, args;
    pgw_bytes old_row, new_row, old_table, new_table;
} pgw_trigger;

static pgw_trigger pgw_trigger_read(const uint8_t *ptr, int32_t len) {
    pgw_trigger t;
    pgw_bytes none = PGW_ARG(0, -1), k, v;
    t.event = t.when = t.level = t.schema = t.table = t.name = t.args = none;
    t.old_row = t.new_row = t.old_table = t.new_table = none;
    uint32_t pos = 0;
    while (pgw_json_next(PGW_ARG(ptr, len), &pos, &k, &v)) {
        if (pgw_key_is_(k, "new")) t.new_row = v;
        else if (pgw_key_is_(k, "old")) t.old_row = v;
        else if (pgw_key_is_(k, "event")) t.event = v;
        else if (pgw_key_is_(k, "when")) t.when = v;
        else if (pgw_key_is_(k, "level")) t.level = v;
        else if (pgw_key_is_(k, "schema")) t.schema = v;
        else if (pgw_key_is_(k, "table")) t.table = v;
        else if (pgw_key_is_(k, "name")) t.name = v;
        else if (pgw_key_is_(k, "args")) t.args = v;
        else if (pgw_key_is_(k, "old_table")) t.old_table = v;
        else if (pgw_key_is_(k, "new_table")) t.new_table = v;
    }
    return t;
}

/* TG_ARGV[i] as text; len -1 when there is no such argument. */
static pgw_bytes pgw_trigger_arg(const pgw_trigger *t, int i) {
    const uint8_t *s = t->args.ptr;
    uint32_t n = t->args.len < 0 ? 0 : (uint32_t)t->args.len;
    uint32_t p = pgw_json_ws_(s, n, 0);
    if (p >= n || s[p] != '[')
        return PGW_ARG(0, -1);
    p = pgw_json_ws_(s, n, p + 1);
    for (int k = 0; p < n && s[p] != ']'; k++) {
        uint32_t end = pgw_json_skip_(s, n, p);
        if (k == i)
            return pgw_json_text(PGW_ARG(s + p, (int32_t)(end - p)));
        p = pgw_json_ws_(s, n, end);
        if (p < n && s[p] == ',')
            p = pgw_json_ws_(s, n, p + 1);
    }
    return PGW_ARG(0, -1);
}

/* Decisions. Return one of these from the trigger export. */
static inline int64_t pgw_trigger_proceed(void) { return 0; }

static inline int64_t pgw_trigger_skip(void) {
    static const char d[] = "{\"skip\":true}";
    return pgw_return(d, (int32_t)sizeof d - 1);
}

static int64_t pgw_trigger_error(const char *message) {
    pgw_buf b = {0};
    pgw_buf_str(&b, "{\"error\":");
    pgw_buf_json_string(&b, (const uint8_t *)message, pgw_strlen(message));
    pgw_buf_push(&b, '}');
    return pgw_return_buf(&b);
}

/* {"new": {...}}: the columns to replace; the others keep their values. */
typedef struct {
    pgw_buf buf;
    int n;
} pgw_changes;

static void pgw_changes_key_(pgw_changes *c, const char *column) {
    pgw_buf_str(&c->buf, c->n++ ? "," : "{\"new\":{");
    pgw_buf_json_string(&c->buf, (const uint8_t *)column, pgw_strlen(column));
    pgw_buf_push(&c->buf, ':');
}

static void pgw_changes_text(pgw_changes *c, const char *column, const uint8_t *s, uint32_t n) {
    pgw_changes_key_(c, column);
    pgw_buf_json_string(&c->buf, s, n);
}

static void pgw_changes_int(pgw_changes *c, const char *column, int64_t v) {
    pgw_changes_key_(c, column);
    pgw_buf_i64(&c->buf, v);
}

static void pgw_changes_null(pgw_changes *c, const char *column) {
    pgw_changes_key_(c, column);
    pgw_buf_str(&c->buf, "null");
}

/* Any JSON text as the value (e.g. "12.50", "[1,2]", "{\"k\":1}"). */
static void pgw_changes_json(pgw_changes *c, const char *column, const char *json) {
    pgw_changes_key_(c, column);
    pgw_buf_str(&c->buf, json);
}

/* The decision: the replaced row, or "proceed" when nothing was set. */
static int64_t pgw_changes_return(pgw_changes *c) {
    if (c->n == 0)
        return pgw_trigger_proceed();
    pgw_buf_str(&c->buf, "}}");
    return pgw_return_buf(&c->buf);
}

#endif /* PG_WASM_H */
