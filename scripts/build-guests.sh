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

# Rust (no_std): Debian cargo 1.96 with the standard library's source.
for dir in guest-examples/rust-*/; do
  name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n1)
  echo "guest: building Rust $dir"
  ( cd "$dir" && RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19 \
      RUSTFLAGS="" CARGO_ENCODED_RUSTFLAGS="" \
      /usr/bin/cargo build --quiet --release --target wasm32-unknown-unknown \
        -Zbuild-std=core,alloc,panic_abort )
  cp "$dir/target/wasm32-unknown-unknown/release/$name.wasm" "$out/$name.wasm"
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

# WebAssembly text.
cp guest-examples/wat/*.wat "$out/"

# The server reads these with pg_read_binary_file as user postgres.
chmod -R a+rX "$out"
for d in "$out" "$(dirname "$out")" "$PWD"; do chmod a+x "$d" 2>/dev/null || true; done
ls -l "$out"
