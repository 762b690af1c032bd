/*
 * textkit: text, bytea, JSON, composite, array and set-returning functions
 * in C, plus a HyperLogLog aggregate. Built by scripts/build-guests.sh,
 * exercised by tests/pg_regress/sql/09_types.sql.
 */
#include "pg_wasm.h"

/* The SQL signatures are in textkit.pg_wasm.json, which the build appends
 * as the module's pg_wasm custom section. */

static int is_alnum(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

/* "Hello, World!  Ünïcode" -> "hello-world-ünïcode" */
PGW_EXPORT(slugify) int64_t slugify(const uint8_t *s, int32_t len) {
    uint8_t *out = pgw_alloc((uint32_t)len);
    int32_t n = 0;
    int dash = 0;
    for (int32_t i = 0; i < len; i++) {
        if (is_alnum(s[i])) {
            if (dash && n > 0)
                out[n++] = '-';
            dash = 0;
            out[n++] = lower(s[i]);
        } else {
            dash = 1;
        }
    }
    return pgw_return(out, n);
}

/* FNV-1a, 64 bits, over raw bytes. */
PGW_EXPORT(checksum) int64_t checksum(const uint8_t *s, int32_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int32_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return (int64_t)h;
}

/* The next word at or after *i: sets *start and returns its length, 0 at
 * the end of the text. */
static int32_t next_word(const uint8_t *s, int32_t len, int32_t *i, int32_t *start) {
    while (*i < len && !is_alnum(s[*i]))
        (*i)++;
    *start = *i;
    while (*i < len && is_alnum(s[*i]))
        (*i)++;
    return *i - *start;
}

/* Lower-cased words as a JSON array of strings. */
static int64_t words_json(const uint8_t *s, int32_t len) {
    pgw_buf b = {0};
    pgw_buf_push(&b, '[');
    int32_t i = 0, start, first = 1;
    while (i < len) {
        if (next_word(s, len, &i, &start) > 0) {
            uint8_t *w = pgw_alloc((uint32_t)(i - start));
            for (int32_t k = start; k < i; k++)
                w[k - start] = lower(s[k]);
            if (!first)
                pgw_buf_push(&b, ',');
            first = 0;
            pgw_buf_json_string(&b, w, (uint32_t)(i - start));
        }
    }
    pgw_buf_push(&b, ']');
    return pgw_return_buf(&b);
}

/* RETURNS SETOF text: one row per word. */
PGW_EXPORT(tokenize) int64_t tokenize(const uint8_t *s, int32_t len) { return words_json(s, len); }

/* RETURNS text[]: the same words as one array. */
PGW_EXPORT(words) int64_t words(const uint8_t *s, int32_t len) { return words_json(s, len); }

/* RETURNS textkit_stats (bytes int, words int, longest text): a JSON object. */
PGW_EXPORT(text_stats) int64_t text_stats(const uint8_t *s, int32_t len) {
    int32_t i = 0, start, count = 0, best = 0, best_at = 0;
    while (i < len) {
        if (next_word(s, len, &i, &start) > 0) {
            count++;
            if (i - start > best) {
                best = i - start;
                best_at = start;
            }
        }
    }
    pgw_buf b = {0};
    pgw_buf_str(&b, "{\"bytes\": ");
    pgw_buf_i64(&b, len);
    pgw_buf_str(&b, ", \"words\": ");
    pgw_buf_i64(&b, count);
    pgw_buf_str(&b, ", \"longest\": ");
    if (count)
        pgw_buf_json_string(&b, s + best_at, (uint32_t)best);
    else
        pgw_buf_str(&b, "null");
    pgw_buf_push(&b, '}');
    return pgw_return_buf(&b);
}

/* A uuid arrives in its text form: xxxxxxxx-xxxx-Vxxx-... */
PGW_EXPORT(uuid_version) int32_t uuid_version(const uint8_t *s, int32_t len) {
    if (len != 36)
        pgw_error("uuid_version: expected the 36-character text form");
    uint8_t c = s[14];
    return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* ---- HyperLogLog with 2^10 one-byte registers, state as bytea ---------- */

#define HLL_P 10
#define HLL_M (1 << HLL_P)

static uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* State transition: (NULL | sketch, NULL | item) -> sketch. Not strict, so
 * the first row's NULL state arrives as len == -1. */
PGW_EXPORT(hll_add) int64_t hll_add(const uint8_t *st, int32_t st_len, const uint8_t *item, int32_t item_len) {
    uint8_t *regs = pgw_alloc(HLL_M);
    if (PGW_IS_NULL(PGW_ARG(st, st_len))) {
        for (int i = 0; i < HLL_M; i++)
            regs[i] = 0;
    } else {
        if (st_len != HLL_M)
            pgw_error("hll_add: the state is not a textkit HyperLogLog sketch");
        pgw_memcpy(regs, st, HLL_M);
    }
    if (item_len >= 0) {
        uint64_t h = (uint64_t)checksum(item, item_len);
        h = mix64(h);
        uint32_t idx = (uint32_t)(h >> (64 - HLL_P));
        uint64_t rest = h << HLL_P;
        uint8_t rank = 1;
        while (rank <= 64 - HLL_P && !(rest & 0x8000000000000000ull)) {
            rank++;
            rest <<= 1;
        }
        if (rank > regs[idx])
            regs[idx] = rank;
    }
    return pgw_return(regs, HLL_M);
}

/* Natural logarithm for x > 0, without libm: x = m * 2^e, atanh series. */
static double ln(double x) {
    int e = 0;
    while (x > 2.0) {
        x /= 2.0;
        e++;
    }
    while (x < 1.0) {
        x *= 2.0;
        e--;
    }
    double y = (x - 1.0) / (x + 1.0), y2 = y * y, term = y, sum = 0.0;
    for (int k = 1; k < 60; k += 2) {
        sum += term / k;
        term *= y2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

PGW_EXPORT(hll_count) int64_t hll_count(const uint8_t *st, int32_t st_len) {
    if (st_len != HLL_M)
        pgw_error("hll_count: the state is not a textkit HyperLogLog sketch");
    double sum = 0.0;
    int zeros = 0;
    for (int i = 0; i < HLL_M; i++) {
        double p = 1.0;
        for (int r = 0; r < st[i]; r++)
            p /= 2.0;
        sum += p;
        if (st[i] == 0)
            zeros++;
    }
    double m = HLL_M;
    double estimate = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
    if (estimate <= 2.5 * m && zeros > 0)
        estimate = m * ln(m / zeros);
    return (int64_t)(estimate + 0.5);
}
