#!/usr/bin/env bash
# Builds every guest in guest-examples/ from source into target/guests/.
# Rust guests use Debian's Rust (rustup has no wasm32 target here), C guests
# clang --target=wasm32, WAT guests are compiled by wasm.load_wat itself and
# are only copied. Idempotent: cargo and make-style timestamp checks skip
# work already done.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/target/guests"
mkdir -p "$out"

# Rust (no_std): Debian cargo 1.96 with the standard library's source; a
# guest with a wit/ directory (wit-bindgen) becomes a component. One target
# directory for all of them, so guests with the same profile share one
# build of core and alloc (-Zbuild-std) and of common crates.
guest_target="$PWD/target/guest-build"
for dir in guest-examples/rust-*/; do
  name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n1)
  echo "guest: building Rust $dir"
  ( cd "$dir" && CARGO_TARGET_DIR="$guest_target" RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19 \
      RUSTFLAGS="" CARGO_ENCODED_RUSTFLAGS="" \
      /usr/bin/cargo build --quiet --release --target wasm32-unknown-unknown \
        -Zbuild-std=core,alloc,panic_abort )
  core="$guest_target/wasm32-unknown-unknown/release/$name.wasm"
  if [ -d "$dir/wit" ]; then
    # wit-bindgen guests: the core module carries its WIT world; made a
    # component by sdk/componentize (wit-component).
    cargo build --quiet --release -p pg-wasm-componentize
    target/release/pg-wasm-componentize "$core" "$out/$name.wasm"
  else
    cp "$core" "$out/$name.wasm"
  fi
done

# C: freestanding, one translation unit per guest.
for src in guest-examples/c-*/*.c; do
  name=$(basename "$src" .c)
  section="${src%.c}.pg_wasm.json"
  if [ ! -f "$out/$name.wasm" ] || [ "$src" -nt "$out/$name.wasm" ] \
     || [ sdk/c/pg_wasm.h -nt "$out/$name.wasm" ] \
     || { [ -f "$section" ] && [ "$section" -nt "$out/$name.wasm" ]; }; then
    echo "guest: building C $src"
    clang --target=wasm32 -O2 -mbulk-memory -nostdlib -fuse-ld=lld -Wl,--no-entry \
      -I sdk/c \
      -o "$out/$name.wasm" "$src"
    # The module's SQL signatures (SPEC §4), as its pg_wasm custom section.
    if [ -f "$section" ]; then
      python3 scripts/add-wasm-section.py "$out/$name.wasm" pg_wasm "$section"
    fi
  fi
done

# AssemblyScript: the compiler pinned in each package-lock.json, from npm.
for dir in guest-examples/as-*/; do
  name=$(basename "$dir"); name=${name#as-}
  echo "guest: building AssemblyScript $dir"
  ( cd "$dir"
    [ -x node_modules/.bin/asc ] || npm ci --no-audit --no-fund --loglevel=error
    node_modules/.bin/asc assembly/index.ts --outFile "build/$name.wasm" --optimize --use abort= )
  cp "$dir/build/$name.wasm" "$out/$name.wasm"
  if [ -f "$dir/$name.pg_wasm.json" ]; then
    python3 scripts/add-wasm-section.py "$out/$name.wasm" pg_wasm "$dir/$name.pg_wasm.json"
  fi
done

# JavaScript components: componentize-js pinned in each package-lock.json,
# from npm; rebuilt when a source or the WIT is newer than the component
# (a build takes about 10 s and gives a 12 MB component).
for dir in guest-examples/js-*/; do
  name=$(basename "$dir" | tr - _)
  if [ ! -f "$out/$name.wasm" ] \
     || [ -n "$(find "$dir" -path "$dir/node_modules" -prune -o -newer "$out/$name.wasm" \( -name '*.js' -o -name '*.mjs' -o -name '*.wit' \) -print)" ]; then
    echo "guest: building JavaScript component $dir"
    ( cd "$dir"
      [ -d node_modules/@bytecodealliance/componentize-js ] || npm ci --no-audit --no-fund --loglevel=error
      node build.mjs "$out/$name.wasm" )
  fi
done

# Python components: componentize-py pinned (with its hash) in each
# requirements.txt, installed into its own virtual environment; rebuilt when
# a source or the WIT is newer than the component (about 10 s, 18 MB).
for dir in guest-examples/py-*/; do
  name=$(basename "$dir" | tr - _)
  if [ ! -f "$out/$name.wasm" ] \
     || [ -n "$(find -L "$dir" -newer "$out/$name.wasm" \( -name '*.py' -o -name '*.wit' -o -name requirements.txt \) -print)" ]; then
    echo "guest: building Python component $dir"
    venv=$PWD/target/componentize-py
    if ! cmp -s "$dir/requirements.txt" "$venv/requirements.txt"; then
      rm -rf "$venv"
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$dir/requirements.txt"
      cp "$dir/requirements.txt" "$venv/requirements.txt"
    fi
    world=$(sed -n 's/^world \([a-z0-9-]*\).*/\1/p' "$dir"/wit/*.wit | head -1)
    ( cd "$dir" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/componentize-py" -d wit -w "$world" componentize app -o "$out/$name.wasm" )
  fi
done

# JavaScript libraries for LANGUAGE javascript's require(): two npm
# packages fetched from the registry (versions pinned in package.json) and
# bundled by esbuild into one CommonJS file each, target/guests/js/*.js.
libs=guest-examples/npm-libraries
mkdir -p "$out/js"
if [ ! -f "$out/js/dayjs.js" ] || [ ! -f "$out/js/slugify.js" ] || [ "$libs/package.json" -nt "$out/js/dayjs.js" ]; then
  echo "guest: fetching and bundling JavaScript libraries ($libs)"
  ( cd "$libs" && npm install --no-audit --no-fund --loglevel=error --no-package-lock )
  for pkg in dayjs slugify; do
    echo "module.exports = require('$pkg');" > "$libs/entry-$pkg.js"
    "$libs/node_modules/.bin/esbuild" --bundle --format=cjs --platform=neutral --main-fields=main \
      --log-level=warning --outfile="$out/js/$pkg.js" "$libs/entry-$pkg.js"
  done
fi

# WebAssembly text.
cp guest-examples/wat/*.wat "$out/"

# The server reads these with pg_read_binary_file as user postgres.
chmod -R a+rX "$out"
for d in "$out" "$(dirname "$out")" "$PWD"; do chmod a+x "$d" 2>/dev/null || true; done
ls -l "$out"
