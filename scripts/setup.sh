#!/usr/bin/env bash
# Installs what is missing to build and run pg_wasm on Debian 12: PostgreSQL 15
# server and headers, clang, sudo, the guest toolchains, clang-19 with
# wasi-libc (the JavaScript engine), cargo-pgrx 0.18.1,
# PostgreSQL $PG when it is another version (scripts/postgres.sh), and pgrx's
# configuration for it. Idempotent: each step checks before acting.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${PG:-15}
PGRX_VERSION=0.18.1

packages=(postgresql-15 postgresql-server-dev-15 postgresql-plpython3-15 libclang-dev clang sudo lld
          rustc-web cargo-web rust-web-src lld-19
          clang-19 libclang-rt-19-dev-wasm32 wasi-libc xxd)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

# AssemblyScript guests need Node.js and npm; use the machine's own if it
# has them, Debian's otherwise.
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
else
  echo "setup: npm present ($(npm --version 2>/dev/null))"
fi

if [ "$(cargo pgrx --version 2>/dev/null)" != "cargo-pgrx $PGRX_VERSION" ]; then
  echo "setup: installing cargo-pgrx $PGRX_VERSION (about 8 minutes)"
  cargo install cargo-pgrx --version "=$PGRX_VERSION" --locked
else
  echo "setup: cargo-pgrx $PGRX_VERSION present"
fi

# A PG_CONFIG of the user's own is taken as it is; the default for 16 and 18
# is fetched here.
if [ -z "${PG_CONFIG:-}" ] || [ ! -x "$PG_CONFIG" ]; then
  PG_CONFIG=$(scripts/postgres.sh "$PG")
fi
version=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
echo "setup: PostgreSQL $version at $PG_CONFIG"

# `cargo pgrx test` finds the server through pgrx's config (init merges).
if ! grep -qs "^pg$version *= *\"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  echo "setup: cargo pgrx init --pg$version $PG_CONFIG"
  cargo pgrx init "--pg$version" "$PG_CONFIG"
else
  echo "setup: cargo-pgrx knows pg$version"
fi
