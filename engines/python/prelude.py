# pg_wasm's Python prelude: PL/Python's API (the plpy module, GD, TD, the
# set and trigger adapters) on top of the natives pg_py.c defines, and the
# importer that serves the standard library from memory. Runs once, while
# engines/python/build.sh pre-initializes the engine; every instance
# starts from the memory it leaves behind.
import sys
import _pg_native as _native

# ---- the standard library, from memory ----
# build.sh runs this with the standard library readable at /stdlib; the
# modules named in _PRELOAD are imported now, every other pure-Python one
# is kept as its compiled code and imported from memory when asked for. At
# run time the engine can read no file at all.
import marshal as _marshal
from importlib.machinery import ModuleSpec as _ModuleSpec


class _MemoryImporter:
    """Imports standard library modules from compiled code kept in memory."""

    def __init__(self, table):
        self.table = table

    def find_spec(self, name, path=None, target=None):
        entry = self.table.get(name)
        if entry is None:
            return None
        spec = _ModuleSpec(name, self, is_package=entry[0], origin="<stdlib>/" + name)
        if entry[0]:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        is_pkg, code = self.table[module.__name__]
        if is_pkg:
            module.__path__ = []
        exec(_marshal.loads(code), module.__dict__)


def _collect(root, skip):
    """Compiled code of the standard library's pure-Python modules."""
    import os
    table = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = dirpath[len(root):].strip("/")
        parts = rel.split("/") if rel else []
        if parts and (parts[0] in skip or "test" in parts or "tests" in parts
                      or "__pycache__" in parts or parts[0].startswith("config-")):
            dirnames[:] = []
            continue
        dirnames.sort()
        for f in sorted(filenames):
            if not f.endswith(".py"):
                continue
            stem = f[:-3]
            if not parts and stem in skip:
                continue
            is_pkg = stem == "__init__"
            name = ".".join(parts if is_pkg else parts + [stem])
            if not name or name.startswith("_sysconfigdata"):
                continue
            with open(os.path.join(dirpath, f), "rb") as src:
                source = src.read()
            try:
                code = compile(source, "<stdlib>/" + name.replace(".", "/") + ".py", "exec",
                               dont_inherit=True, optimize=0)
            except SyntaxError:
                continue
            table[name] = (is_pkg, _marshal.dumps(code))
    return table


# Not served: what needs files, processes, threads, sockets or a terminal,
# tools and tests.
_SKIP = {
    "asyncio", "concurrent", "ctypes", "curses", "dbm", "distutils", "ensurepip",
    "idlelib", "lib2to3", "lib-dynload", "multiprocessing", "pydoc_data",
    "site-packages", "sqlite3", "tkinter", "turtledemo", "unittest", "venv",
    "wsgiref", "xmlrpc", "http", "urllib", "email", "xml", "zoneinfo", "test",
    "antigravity", "this", "turtle", "pydoc", "webbrowser", "idlelib", "pdb",
    "smtpd", "smtplib", "ftplib", "imaplib", "nntplib", "poplib", "telnetlib",
    "socketserver", "subprocess", "pty", "tty", "getpass", "mailbox", "cgi",
    "cgitb", "tarfile", "zipfile", "gzip", "bz2", "lzma", "zipapp", "shelve",
    "tempfile", "shutil", "glob", "fileinput", "filecmp", "compileall",
    "py_compile", "tabnanny", "trace", "profile", "cProfile", "pstats",
    "timeit", "doctest", "code", "codeop", "rlcompleter", "runpy", "site",
    "sysconfig", "venv", "ssl", "socket", "selectors", "imghdr",
    "sndhdr", "sunau", "wave", "aifc", "chunk", "mailcap", "netrc", "uu",
    "xdrlib", "pipes", "crypt", "nturl2path", "_osx_support", "_aix_support",
    "_bootsubprocess", "modulefinder", "pyclbr", "symtable",
}

_PRELOAD = [
    "re", "json", "datetime", "decimal", "math", "collections", "itertools",
    "functools", "operator", "string", "random", "base64", "typing",
    "dataclasses", "enum", "textwrap", "unicodedata", "statistics",
    "fractions", "copy", "time", "hashlib", "uuid", "traceback", "struct",
    "bisect", "heapq", "calendar", "locale", "numbers", "html", "difflib",
    "pprint", "ipaddress", "csv", "io", "contextlib", "abc", "types",
    "keyword", "secrets", "hmac", "binascii", "array", "zlib" if False else "codecs",
]


def _install_stdlib(root):
    table = _collect(root, _SKIP)
    # The importers of built-in and frozen modules are classes themselves.
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") in
                        ("BuiltinImporter", "FrozenImporter")]
    sys.meta_path.append(_MemoryImporter(table))
    sys.path_hooks.clear()
    sys.path_importer_cache.clear()
    sys.path[:] = []
    for name in _PRELOAD:
        __import__(name)
    # What was imported needs no code kept.
    for name in list(table):
        if name in sys.modules:
            del table[name]
    sys.dont_write_bytecode = True


_install_stdlib("/stdlib")
del _install_stdlib, _collect

# ---- regular expressions compiled once per backend ----
# A fresh instance starts with re's cache empty, and parsing and compiling
# a pattern is pure Python (~400 k Wasm instructions for a small one): the
# result (the arguments _sre.compile takes, derived from the pattern and
# flags only) is kept by the host for this backend's later instances of
# the same owner's functions.
import re._compiler as _re_compiler
import _sre


def _re_compile(p, flags=0):
    if not isinstance(p, (str, bytes)) or flags & _re_compiler.SRE_FLAG_DEBUG:
        return _re_compile_uncached(p, flags)
    # Not marshal: its bytes depend on the objects' reference counts.
    if isinstance(p, str):
        key = b"re\0s%d\0" % flags + p.encode("utf-8", "surrogatepass")
    else:
        key = b"re\0b%d\0" % flags + bytes(p)
    hit = _native.memo_get(key)
    if hit is not None:
        try:
            return _sre.compile(*_marshal.loads(hit))
        except Exception:
            pass
    args = _re_compile_args(p, flags)
    try:
        _native.memo_put(key, _marshal.dumps(args))
    except ValueError:
        pass
    return _sre.compile(*args)


def _re_compile_args(p, flags):
    # re._compiler.compile's work, up to the _sre.compile call.
    pattern = p
    p = _re_compiler._parser.parse(p, flags)
    code = _re_compiler._code(p, flags)
    groupindex = p.state.groupdict
    indexgroup = [None] * p.state.groups
    for k, i in groupindex.items():
        indexgroup[i] = k
    # The opcodes are int subclasses (named constants); marshal keeps ints.
    return (pattern, int(flags | p.state.flags), [int(c) for c in code],
            p.state.groups - 1, {k: int(v) for k, v in groupindex.items()},
            tuple(indexgroup))


_re_compile_uncached = _re_compiler.compile
_re_compiler.compile = _re_compile

# re._compile (behind re.sub, re.match, re.compile, ...) tests its flags
# with enum arithmetic (`flags & T`, `flags & DEBUG`, RegexFlag objects):
# ~27 k Wasm instructions each, twice for every pattern a fresh instance
# has not compiled yet (so once a statement), and an isinstance per call.
# The same function with the flags as a plain int: same cache, same
# results; TEMPLATE, DEBUG and anything unusual still take re's own path.
import re as _re

_re_cache = _re._cache
_re_compile_checked = _re._compile
_re_SLOW_FLAGS = int(_re.TEMPLATE) | int(_re.DEBUG)


def _re_compile_fast(pattern, flags):
    if type(flags) is not int:
        if not isinstance(flags, _re.RegexFlag):
            return _re_compile_checked(pattern, flags)
        flags = flags.value
    if flags & _re_SLOW_FLAGS:
        return _re_compile_checked(pattern, flags)
    try:
        return _re_cache[type(pattern), pattern, flags]
    except KeyError:
        pass
    if not isinstance(pattern, (str, bytes)):
        return _re_compile_checked(pattern, flags)
    p = _re_compiler.compile(pattern, flags)
    if len(_re_cache) >= _re._MAXCACHE:
        try:
            del _re_cache[next(iter(_re_cache))]
        except (StopIteration, RuntimeError, KeyError):
            pass
    _re_cache[type(pattern), pattern, flags] = p
    return p


_re._compile = _re_compile_fast

import json as _json
import decimal as _decimal
import datetime as _datetime
import random as _random
import traceback as _traceback


# ---- output ----
class _Output:
    """sys.stdout and sys.stderr: print() goes to the server log (LOG)."""

    def __init__(self):
        self.buf = ""

    def write(self, s):
        self.buf += str(s)
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            _native.log(1, line)
        return len(s)

    def flush(self):
        if self.buf:
            _native.log(1, self.buf)
            self.buf = ""


sys.stdout = sys.stderr = _Output()


# ---- plpy ----
plpy = type(sys)("plpy")


class Error(Exception):
    """plpy.Error: raised by plpy.error; fails the function (P0001 unless a
    sqlstate is given)."""

    def __init__(self, *args, detail=None, hint=None, sqlstate=None, **kw):
        super().__init__(*args)
        self.detail = detail
        self.hint = hint
        if sqlstate is not None:
            self.sqlstate = sqlstate


class Fatal(Error):
    pass


class SPIError(Exception):
    """A SQL statement failed: `sqlstate`, `detail`, `hint` as the server
    gave them. Caught, the statement's work is rolled back and the function
    goes on; uncaught, the function fails with the statement's error."""

    sqlstate = None
    detail = None
    hint = None


Error.__module__ = Fatal.__module__ = SPIError.__module__ = "plpy"


def _spi_class(sqlstate, _cache={}):
    cls = _cache.get(sqlstate)
    if cls is None:
        name = _SQLSTATE_NAMES.get(sqlstate)
        if name is None:
            return SPIError
        cls = type(name, (SPIError,), {"sqlstate": sqlstate, "__module__": "spiexceptions"})
        _cache[sqlstate] = cls
    return cls


_SQLSTATE_NAMES = {
    "22012": "DivisionByZero", "23505": "UniqueViolation", "23503": "ForeignKeyViolation",
    "23502": "NotNullViolation", "23514": "CheckViolation", "42P01": "UndefinedTable",
    "42703": "UndefinedColumn", "42883": "UndefinedFunction", "42601": "SyntaxError",
    "22P02": "InvalidTextRepresentation", "22003": "NumericValueOutOfRange",
    "42501": "InsufficientPrivilege", "25006": "ReadOnlySqlTransaction",
    "40001": "SerializationFailure", "40P01": "DeadlockDetected", "P0001": "RaiseException",
    "22001": "StringDataRightTruncation", "23000": "IntegrityConstraintViolation",
}


class _Spiexceptions:
    def __getattr__(self, name):
        for code, n in _SQLSTATE_NAMES.items():
            if n == name:
                return _spi_class(code)
        raise AttributeError(f"module 'spiexceptions' has no attribute '{name}'")


class PLyResult(list):
    """plpy.execute's result: the rows as dicts (a list), and PL/Python's
    nrows(), status(), colnames()."""

    def __init__(self, rows, nrows, status):
        super().__init__(rows)
        self._nrows = nrows
        self._status = status

    def nrows(self):
        return self._nrows

    def status(self):
        return self._status

    def colnames(self):
        return list(self[0].keys()) if self else []

    def __repr__(self):
        return f"<PLyResult status={self._status} nrows={self._nrows} rows={list.__repr__(self)}>"


def _param(v):
    if isinstance(v, _decimal.Decimal):
        return str(v)
    if isinstance(v, (_datetime.date, _datetime.time, _datetime.datetime)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(v).hex()
    if isinstance(v, tuple):
        return [_param(x) for x in v]
    if isinstance(v, list):
        return [_param(x) for x in v]
    if isinstance(v, dict):
        return {k: _param(x) for k, x in v.items()}
    return v


def _answered(answer):
    """The host's answer, or the SQL error it reports raised as an SPIError."""
    if answer[:1] == "E":
        d = _json.loads(answer[1:])
        cls = _spi_class(d.get("sqlstate"))
        e = cls(d.get("message"))
        e.sqlstate = d.get("sqlstate")
        e.detail = d.get("detail")
        e.hint = d.get("hint")
        raise e
    return answer


def _payload(params, types):
    values = [_param(p) for p in params]
    # A plan's parameters go with their declared types; the host converts
    # each value to its type.
    return _json.dumps({"types": types, "values": values} if types else values)


def _run(sql, params, limit=0, types=None):
    value = _json.loads(_answered(_native.execute(str(sql), _payload(params, types))))
    verb = str(sql).lstrip().split(None, 1)[0].upper() if str(sql).strip() else ""
    if isinstance(value, list):
        rows = value if not limit else value[:limit]
        status = ("SPI_OK_%s_RETURNING" % verb if verb in ("INSERT", "UPDATE", "DELETE")
                  else "SPI_OK_SELECT")
        return PLyResult(rows, len(rows), status)
    status = "SPI_OK_%s" % verb if verb in ("INSERT", "UPDATE", "DELETE") else "SPI_OK_UTILITY"
    return PLyResult([], int(value), status)


class PLyPlan:
    """plpy.prepare's plan: the statement and its parameters' declared types
    (each value is converted to its type, as PL/Python does)."""

    def __init__(self, sql, types):
        self.sql = sql
        self._types = [str(t) for t in (types or [])]

    def execute(self, args=(), limit=0):
        return _run(self.sql, self._args(args), limit, self._types)

    def cursor(self, args=()):
        return PLyCursor(self.sql, self._args(args), self._types)

    def _args(self, args):
        args = list(args or ())
        if len(args) != len(self._types):
            raise TypeError("Expected sequence of %d argument%s, got %d: %r" % (
                len(self._types), "" if len(self._types) == 1 else "s", len(args), args))
        return args

    def argtypes(self):
        return list(self._types)

    def status(self):
        return True


class PLyCursor:
    """plpy.cursor: a cursor on the server (a portal); rows come as they are
    fetched (iteration fetches 100 at a time), so a large result never sits
    in the instance's memory at once."""

    _BATCH = 100

    def __init__(self, sql, args, types=None):
        answer = _answered(_native.cursor_open(str(sql), _payload(args, types)))
        self._number = int(answer[1:])
        self._closed = False
        self._rows = []
        self._at = 0
        self._done = False

    def _fetch(self, n):
        # At most 1 000 rows a trip, so the server never holds more at once.
        rows = []
        while len(rows) < n:
            want = min(n - len(rows), 1000)
            batch = _json.loads(_answered(_native.cursor_fetch(self._number, want)))
            rows += batch
            if len(batch) < want:
                self._done = True
                break
        return rows

    def fetch(self, n):
        if self._closed:
            raise ValueError("fetch from a closed cursor")
        n = max(0, min(int(n), 0x7FFFFFFF))
        out = self._rows[self._at:self._at + n]
        self._at += len(out)
        if len(out) < n and not self._done:
            out += self._fetch(n - len(out))
        return PLyResult(out, len(out), "SPI_OK_FETCH")

    def close(self):
        if not self._closed:
            self._closed = True
            self._rows = []
            _native.cursor_close(self._number)

    def __iter__(self):
        return self

    def __next__(self):
        if self._closed:
            raise ValueError("iterating a closed cursor")
        if self._at >= len(self._rows):
            if self._done:
                raise StopIteration
            self._rows, self._at = self._fetch(self._BATCH), 0
            if not self._rows:
                self._done = True
                raise StopIteration
        row = self._rows[self._at]
        self._at += 1
        return row

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def execute(query, *rest, **kw):
    """plpy.execute(query [, limit]) or plpy.execute(plan [, arguments [, limit]])."""
    if isinstance(query, PLyPlan):
        args = rest[0] if rest else kw.get("args", ())
        limit = rest[1] if len(rest) > 1 else kw.get("limit", 0)
        return query.execute(args or (), limit or 0)
    if len(rest) > 1:
        raise TypeError("plpy.execute expected a query and at most a limit")
    limit = rest[0] if rest else kw.get("limit", 0)
    if not isinstance(limit, int):
        raise TypeError("plpy.execute expected a plan to take arguments")
    return _run(query, [], limit)


def prepare(query, types=None):
    return PLyPlan(str(query), types)


def cursor(query, args=None):
    if isinstance(query, PLyPlan):
        return query.cursor(args or ())
    return PLyCursor(str(query), list(args or ()))


class _Subtransaction:
    """plpy.subtransaction(): a context manager; an exception rolls it back."""

    def __enter__(self):
        _native.subxact(0)
        return self

    def __exit__(self, exc_type, exc, tb):
        _native.subxact(2 if exc_type is not None else 1)
        return False


def subtransaction():
    return _Subtransaction()


def _message(args, kw):
    return " ".join(str(a) for a in args) if args else str(kw.get("message", ""))


def _logger(level):
    def log(*args, **kw):
        _native.log(level, _message(args, kw))
    return log


def _error(*args, **kw):
    raise Error(_message(args, kw), detail=kw.get("detail"), hint=kw.get("hint"),
                sqlstate=kw.get("sqlstate"))


def _fatal(*args, **kw):
    raise Fatal(_message(args, kw), detail=kw.get("detail"), hint=kw.get("hint"),
                sqlstate=kw.get("sqlstate"))


def quote_literal(s):
    s = str(s)
    q = "'" + s.replace("'", "''").replace("\\", "\\\\") + "'"
    return "E" + q if "\\" in s else q


def quote_nullable(s):
    return "NULL" if s is None else quote_literal(s)


_RESERVED = set((
    "all analyse analyze and any array as asc asymmetric both case cast check collate "
    "column constraint create current_catalog current_date current_role current_time "
    "current_timestamp current_user default deferrable desc distinct do else end except "
    "false fetch for foreign from grant group having in initially intersect into lateral "
    "leading limit localtime localtimestamp not null offset on only or order placing "
    "primary references returning select session_user some symmetric system_user table "
    "then to trailing true union unique user using variadic when where window with").split())


def quote_ident(s):
    s = str(s)
    import re
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", s) and s not in _RESERVED:
        return s
    return '"' + s.replace('"', '""') + '"'


for _name, _value in {
    "Error": Error, "Fatal": Fatal, "SPIError": SPIError, "spiexceptions": _Spiexceptions(),
    "execute": execute, "prepare": prepare, "cursor": cursor, "subtransaction": subtransaction,
    "debug": _logger(0), "log": _logger(1), "info": _logger(2), "notice": _logger(3),
    "warning": _logger(4), "error": _error, "fatal": _fatal, "quote_literal": quote_literal,
    "quote_nullable": quote_nullable, "quote_ident": quote_ident,
}.items():
    setattr(plpy, _name, _value)
sys.modules["plpy"] = plpy


# ---- values ----
def _json_default(v):
    if isinstance(v, _decimal.Decimal):
        # Its exact digits, as text: numeric columns read it back exactly.
        return str(v)
    if isinstance(v, (_datetime.date, _datetime.time, _datetime.datetime)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(v).hex()
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    if hasattr(v, "__dict__"):
        return {k: x for k, x in vars(v).items() if not k.startswith("_")}
    raise TypeError(f"a value of type {type(v).__name__} cannot be converted to SQL")


_encoder = _json.JSONEncoder(default=_json_default, ensure_ascii=False, allow_nan=True)


def _to_json(v):
    """A value as JSON text (composites, arrays, json results, sets)."""
    if isinstance(v, str):
        return v
    return _encoder.encode(v)


def _set_json(result):
    """SETOF: a sequence, iterator or generator's items as one JSON array."""
    if result is None:
        return "[]"
    if isinstance(result, (str, bytes, dict)):
        raise TypeError("returned object cannot be iterated (SETOF needs a sequence, "
                        "an iterator or a generator)")
    return _encoder.encode([_row_value(v) for v in result])


def _row_value(v):
    # A str in a set is a value, not JSON.
    return v


def _call_trigger(fn, g, event_text):
    ev = _json.loads(event_text)
    td = {
        "event": ev.get("event"), "when": ev.get("when"), "level": ev.get("level"),
        "new": ev.get("new"), "old": ev.get("old"), "name": ev.get("name"),
        "table_name": ev.get("table"), "table_schema": ev.get("schema"),
        "relid": str(ev.get("relid")), "args": ev.get("args") or None,
    }
    g["TD"] = td
    try:
        r = fn()
    finally:
        g["TD"] = None
    if ev.get("when") != "BEFORE" or ev.get("level") != "ROW" or r is None:
        return "{}"
    if not isinstance(r, str):
        raise TypeError("unexpected return value from trigger procedure "
                        "(expected None or a string)")
    word = r.upper()
    if word == "OK":
        return "{}"
    if word == "SKIP":
        return '{"skip":true}'
    if word == "MODIFY":
        if ev.get("event") == "DELETE":
            plpy.warning('PL/Python trigger function returned "MODIFY" in a DELETE trigger -- ignored')
            return "{}"
        new = td.get("new")
        if not isinstance(new, dict):
            raise TypeError('TD["new"] is not a dictionary')
        return _encoder.encode({"new": new})
    raise ValueError('unexpected return value from trigger procedure '
                     '(expected None, "OK", "SKIP", or "MODIFY")')


# ---- exceptions ----
def _describe(e):
    """(message, traceback text, sqlstate, detail, hint) of an exception a
    function raised: detail and hint are what plpy.error(detail=, hint=)
    gave, or the SQL error's (an SPIError nobody caught)."""
    if isinstance(e, SyntaxError) and not str(e.filename or "").startswith("<"):
        # The function's own source: its line 1 is the def line.
        line = max((e.lineno or 2) - 1, 1)
        where = f"line {line}"
        if e.text and e.text.strip():
            where += ": " + e.text.strip()
        return f"{type(e).__name__}: {e.msg}", where, "", "", ""
    cls = type(e)
    mod = cls.__module__
    name = cls.__qualname__ if mod in ("builtins", "__main__") else f"{mod}.{cls.__qualname__}"
    text = str(e)
    sqlstate = getattr(e, "sqlstate", None)
    if isinstance(e, SPIError) and sqlstate:
        message = text
    else:
        message = f"{name}: {text}" if text else name
    frames = []
    last, repeated = None, 0
    for fs in _traceback.extract_tb(e.__traceback__):
        info = _SOURCES.get(fs.filename)
        if info is None:
            continue
        fname, source, offset = info
        # The body's lines (the source without the def line, one tab less).
        lines = [ln[1:] if ln.startswith("\t") else ln for ln in source.split("\n")[offset:]]
        line = fs.lineno - offset
        where = "<module>" if fs.name.startswith("__plpython_procedure") else fs.name
        # As Python prints it: a frame repeated more than 3 times in a row
        # is counted, not shown.
        if (fname, line, where) == last:
            repeated += 1
            if repeated >= 3:
                continue
        else:
            if repeated >= 3:
                frames.append(f"  [Previous line repeated {repeated - 2} more times]")
            last, repeated = (fname, line, where), 0
        frames.append(f'  PL/Python function "{fname}", line {line}, in {where}')
        if 1 <= line <= len(lines) and lines[line - 1].strip():
            frames.append("    " + lines[line - 1].strip())
    if repeated >= 3:
        frames.append(f"  [Previous line repeated {repeated - 2} more times]")
    stack = ""
    if frames:
        stack = "Traceback (most recent call last):\n" + "\n".join(frames)
    detail = getattr(e, "detail", None)
    hint = getattr(e, "hint", None)
    code = sqlstate if isinstance(sqlstate, str) and len(sqlstate) == 5 else ""
    return (message, stack, code, "" if detail is None else str(detail),
            "" if hint is None else str(hint))


# The source lines of each function this instance defined, by file name:
# (SQL name, body lines, lines before the body).
_SOURCES = {}

GD = {}


_DYNAMIC = {"globals", "locals", "vars", "eval", "exec", "__import__", "compile"}


def _names(code, out):
    """Every global name `code` and the functions inside it use."""
    out.update(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            _names(c, out)
    return out


def _prepare(code, spec):
    """Once per backend and function, when its body is compiled: the SQL
    name, the argument names to set as globals at every call ("" for one
    the body never names: no need, unless it reaches globals dynamically),
    and whether it uses `args`."""
    names = spec.split("\n")
    used = _names(code, set())
    dynamic = bool(used & _DYNAMIC)
    return (names[0], [n if dynamic or n in used else "" for n in names[1:]],
            dynamic or "args" in used)


def _define(code, fname, source):
    """Runs the compiled definition in the function's own globals (as
    PL/Python: arguments are globals of the function) and returns
    (function, globals). Every statement's instance does this."""
    g = {"__builtins__": __builtins__, "plpy": plpy, "GD": GD, "SD": {},
         "__name__": "__main__", "TD": None}
    exec(code, g)
    _SOURCES[fname] = (fname, source, 1)
    return g.pop("__plpython_procedure"), g


def _reseed(seed):
    _random.seed(seed)


def _consts(code, out):
    """The str and bytes constants of `code` and the functions inside it."""
    for c in code.co_consts:
        if isinstance(c, (str, bytes)):
            out.append(c)
        elif hasattr(c, "co_consts"):
            _consts(c, out)
    return out


def _warm(fn):
    """Before a function's image is taken: a function that names `re`
    compiles its patterns in every statement, whose instance starts with
    re's cache empty (~17 µs and ~30 pages the reset copies back, for a
    small pattern). Its string constants that compile as patterns (flags 0,
    at most 16, up to 256 characters) go into the cache now, as a first
    call would put them: same cache, same results. A constant whose
    compilation warns is left out (its first use warns as it would)."""
    code = fn.__code__
    if "re" not in _names(code, set()):
        return
    import warnings
    for c in _consts(code, [])[:16]:
        if len(c) > 256:
            continue
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            try:
                _re._compile(c, 0)
            except Exception:
                continue
        if warned:
            _re_cache.pop((type(c), c, 0), None)


_native.install(_prepare, _define, _describe, _to_json, _set_json, _call_trigger, _reseed, _warm)

