/*
 * {{name}}: SQL functions in C. Each PGW_EXPORT becomes a function when
 * the module is loaded; their SQL signatures are in {{name}}.pg_wasm.json,
 * which pg-wasm build appends as the module's pg_wasm section.
 */
#include "pg_wasm.h"

/* text -> text: text arrives as (pointer, length), leaves as
 * pgw_return(pointer, length). */
PGW_EXPORT(greet) int64_t greet(const uint8_t *name, int32_t len) {
    static const char hello[] = "Hello, ";
    uint8_t *out = pgw_alloc((uint32_t)len + 8);
    pgw_memcpy(out, hello, 7);
    pgw_memcpy(out + 7, name, (uint32_t)len);
    out[7 + len] = '!';
    return pgw_return(out, len + 8);
}

/* integer, integer -> integer */
PGW_EXPORT(add) int32_t add(int32_t a, int32_t b) { return a + b; }
