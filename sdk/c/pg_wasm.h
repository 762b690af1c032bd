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
 *   - pgw_log / pgw_error / pgw_query: the host API (import module "pg").
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

static void pgw_memcpy(void *dst, const void *src, uint32_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
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
    pgw_buf_push(b, '"');
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            pgw_buf_push(b, '\\');
            pgw_buf_push(b, c);
        } else if (c < 0x20) {
            pgw_buf_str(b, "\\u00");
            pgw_buf_push(b, hex[c >> 4]);
            pgw_buf_push(b, hex[c & 15]);
        } else {
            pgw_buf_push(b, c);
        }
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

#endif /* PG_WASM_H */
