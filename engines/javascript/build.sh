#!/usr/bin/env bash
# Builds pg_wasm's JavaScript engine: QuickJS-ng (its C sources, from the
# rquickjs-sys crate in cargo's registry) and pg_js.c, as one Wasm reactor
# module, into $PG_WASM_ENGINES (default target/engines)/javascript.wasm.
# runtime/ embeds that file; the extension pre-initializes and compiles it
# once per cluster. Needs clang-19, lld-19 and wasi-libc (scripts/setup.sh).
# Idempotent: does nothing when the module is newer than its inputs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out_dir="${PG_WASM_ENGINES:-$root/target/engines}"
out="$out_dir/javascript.wasm"
build="$root/target/engines/javascript-build"
mkdir -p "$out_dir" "$build"

if [ -f "$out" ] && [ -z "$(find "$here" -newer "$out" -type f -not -path '*/sources/target/*' | head -n1)" ]; then
  echo "engines: $out is up to date"
  exit 0
fi

for tool in clang-19 wasm-ld-19; do
  command -v "$tool" >/dev/null || { echo "engines: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
[ -f /usr/include/wasm32-wasi/stdlib.h ] || { echo "engines: wasi-libc is missing (scripts/setup.sh installs it)" >&2; exit 1; }

# QuickJS-ng's sources: the crate named in sources/Cargo.toml, fetched by
# cargo into its registry.
manifest="$here/sources/Cargo.toml"
cargo fetch -q --manifest-path "$manifest"
crate=$(cargo metadata -q --format-version 1 --manifest-path "$manifest" |
  python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="rquickjs-sys"))')
qjs="$(dirname "$crate")/quickjs"

# Two changes to QuickJS-ng, made on a copy:
# - its C stack check is off on WASI; turn it on, so deep recursion is a
#   RangeError rather than a trap (the limit is set by pg_js.c);
# - String.prototype.replace(regexp, "literal") with a global regexp takes
#   the spec's slow path (an exec and a match object per match) unless the
#   replacement is empty; its fast path fits any replacement without "$"
#   (runtime/tests/javascript.rs checks the results; slugify: 2x faster).
cp "$qjs"/*.c "$qjs"/*.h "$build/"
python3 - "$build/quickjs.c" <<'EOF'
import sys
path = sys.argv[1]
src = open(path).read()
old = """static void update_stack_limit(JSRuntime *rt)
{
#if defined(__wasi__)"""
assert old in src, "update_stack_limit changed upstream"
src = src.replace(old, """static void update_stack_limit(JSRuntime *rt)
{
#if 0 /* pg_wasm: the stack check works on WASI too */""")
old = "static JSValue JS_RegExpDelete(JSContext *ctx, JSValueConst this_val, JSValue arg)\n{"
assert old in src, "JS_RegExpDelete changed upstream"
src = src.replace(old, "static JSValue JS_RegExpDelete(JSContext *ctx, JSValueConst this_val, JSValue arg,\n                               JSString *rep)\n{")
old = """            if (string_buffer_concat(b, str, next_src_pos, start))
                goto fail;
        }
        next_src_pos = end;"""
assert src.count(old) == 1, "JS_RegExpDelete's loop changed upstream"
src = src.replace(old, """            if (string_buffer_concat(b, str, next_src_pos, start))
                goto fail;
        }
        /* pg_wasm: a replacement without "$" */
        if (rep && rep->len && string_buffer_concat(b, rep, 0, rep->len))
            goto fail;
        next_src_pos = end;""")
old = """    if (rp && rp->len == 0 && is_global && js_is_standard_regexp(ctx, rx)) {
        /* use faster version for simple cases */
        res = JS_RegExpDelete(ctx, rx, str);"""
assert old in src, "the replace fast path changed upstream"
src = src.replace(old, """    if (rp && is_global && string_indexof_char(rp, '$', 0) < 0 &&
        js_is_standard_regexp(ctx, rx)) {
        /* use faster version for simple cases (pg_wasm: any replacement
           without "$", not only the empty one) */
        res = JS_RegExpDelete(ctx, rx, str, rp);""")
open(path, "w").write(src)
EOF

# The prelude as a C string.
python3 - "$here/prelude.js" "$build/prelude.h" <<'EOF'
import json, sys
js = open(sys.argv[1], encoding="utf-8").read()
with open(sys.argv[2], "w") as f:
    f.write("static const char pgjs_prelude[] = " + json.dumps(js) + ";\n")
EOF

echo "engines: building the JavaScript engine (QuickJS-ng, about 30 s)"
# 1 MiB of C stack first in memory: an overflow traps at address 0 rather
# than overwriting data; QuickJS stops JavaScript recursion well before.
clang-19 --target=wasm32-wasi -O2 -mexec-model=reactor \
  -D_GNU_SOURCE -DNDEBUG -DPGJS_STACK_LIMIT=262144 \
  -Wno-everything -I "$build" \
  -Wl,--stack-first -Wl,-z,stack-size=1048576 -Wl,--strip-debug \
  -o "$out.tmp" \
  "$here/pg_js.c" "$build/quickjs.c" "$build/libregexp.c" "$build/libunicode.c" \
  "$build/dtoa.c" -lm
mv "$out.tmp" "$out"
echo "engines: built $out ($(stat -c %s "$out") bytes)"
