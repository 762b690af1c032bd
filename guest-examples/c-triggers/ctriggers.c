/*
 * ctriggers: triggers in C with the helpers of pg_wasm.h (SPEC §6).
 * Built by scripts/build-guests.sh, tested by
 * tests/pg_regress/sql/12_c_triggers.sql, timed by benches/trigger.sh.
 */
#include "pg_wasm.h"

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int is_alnum(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

/* Trims ASCII blanks; a NULL or absent value is empty. */
static pgw_bytes trimmed(pgw_bytes v) {
    if (v.len < 0)
        return PGW_ARG("", 0);
    int32_t a = 0, b = v.len;
    while (a < b && is_space(v.ptr[a]))
        a++;
    while (b > a && is_space(v.ptr[b - 1]))
        b--;
    return PGW_ARG(v.ptr + a, b - a);
}

/* Derived columns, as the Rust derive_names: full_name = "first last",
 * slug = its letters and digits in lower case, runs of others as "-". */
PGW_EXPORT(derive_names) int64_t derive_names(const uint8_t *ev, int32_t len) {
    pgw_trigger t = pgw_trigger_read(ev, len);
    pgw_bytes first = trimmed(pgw_json_text(pgw_json_get(t.new_row, "first_name")));
    pgw_bytes last = trimmed(pgw_json_text(pgw_json_get(t.new_row, "last_name")));
    uint32_t n = (uint32_t)(first.len + last.len + 1);
    uint8_t *full = pgw_alloc(n), *slug = pgw_alloc(n);
    uint32_t f = 0, s = 0;
    pgw_memcpy(full, first.ptr, (uint32_t)first.len);
    f = (uint32_t)first.len;
    if (first.len && last.len)
        full[f++] = ' ';
    pgw_memcpy(full + f, last.ptr, (uint32_t)last.len);
    f += (uint32_t)last.len;
    for (uint32_t i = 0; i < f; i++) {
        if (is_alnum(full[i]))
            slug[s++] = lower(full[i]);
        else if (s && slug[s - 1] != '-')
            slug[s++] = '-';
    }
    while (s && slug[s - 1] == '-')
        s--;
    pgw_changes c = {0};
    pgw_changes_text(&c, "full_name", full, f);
    pgw_changes_text(&c, "slug", slug, s);
    return pgw_changes_return(&c);
}

/* The column named by TG_ARGV[0] (default "email"), trimmed and in lower
 * case; a value without "@" is an error, a NULL one skips the row when
 * TG_ARGV[1] is 'skip_null'. */
PGW_EXPORT(normalize_email) int64_t normalize_email(const uint8_t *ev, int32_t len) {
    pgw_trigger t = pgw_trigger_read(ev, len);
    pgw_bytes arg = pgw_trigger_arg(&t, 0);
    char column[64] = "email";
    if (arg.len > 0 && arg.len < (int32_t)sizeof column) {
        pgw_memcpy(column, arg.ptr, (uint32_t)arg.len);
        column[arg.len] = 0;
    }
    pgw_bytes raw = pgw_json_get(t.new_row, column);
    if (pgw_json_is_null(raw)) {
        pgw_bytes mode = pgw_trigger_arg(&t, 1);
        if (mode.len == 9 && pgw_memeq_(mode.ptr, "skip_null", 9))
            return pgw_trigger_skip();
        return pgw_trigger_proceed();
    }
    pgw_bytes v = trimmed(pgw_json_text(raw));
    uint8_t *out = pgw_alloc((uint32_t)v.len + 1);
    int at = 0;
    for (int32_t i = 0; i < v.len; i++) {
        out[i] = lower(v.ptr[i]);
        at |= v.ptr[i] == '@';
    }
    if (!at) {
        pgw_buf msg = {0};
        pgw_buf_str(&msg, "not an email address: ");
        pgw_buf_append(&msg, v.ptr, (uint32_t)v.len);
        pgw_buf_push(&msg, 0);
        return pgw_trigger_error((const char *)msg.ptr);
    }
    pgw_changes c = {0};
    pgw_changes_text(&c, column, out, (uint32_t)v.len);
    return pgw_changes_return(&c);
}

/* AFTER ROW: a NOTICE naming the table, the event and the row's integer
 * "id" (old row for DELETE). */
PGW_EXPORT(log_change) int64_t log_change(const uint8_t *ev, int32_t len) {
    pgw_trigger t = pgw_trigger_read(ev, len);
    pgw_bytes row = pgw_json_is_null(t.new_row) ? t.old_row : t.new_row;
    int64_t id;
    pgw_buf msg = {0};
    pgw_bytes table = pgw_json_text(t.table), event = pgw_json_text(t.event);
    pgw_buf_append(&msg, table.ptr, (uint32_t)table.len);
    pgw_buf_str(&msg, ": ");
    pgw_buf_append(&msg, event.ptr, (uint32_t)event.len);
    if (pgw_json_int(pgw_json_get(row, "id"), &id)) {
        pgw_buf_str(&msg, " id=");
        pgw_buf_i64(&msg, id);
    }
    pgw_buf_push(&msg, 0);
    pgw_log(PGW_NOTICE, (const char *)msg.ptr);
    return pgw_trigger_proceed();
}
