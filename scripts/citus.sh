#!/usr/bin/env bash
# Makes sure Citus 13.2.2 is installed into the PostgreSQL of PG_CONFIG (15
# by default), for the Citus tests:
# - an installed Citus of that version is used as it is;
# - otherwise it is built from the source release named by CITUS_TARBALL
#   (citus-13.2.2.tar.gz from github.com/citusdata/citus; about a minute on
#   2 cores);
# - with neither, it says why and exits 3, and `make test` skips the Citus
#   tests (docs/building.md#citus).
# Idempotent.
set -euo pipefail
# A relative CITUS_TARBALL is relative to where make (or this script) ran.
TARBALL=${CITUS_TARBALL:-}
if [ -n "$TARBALL" ] && [ -f "$TARBALL" ]; then TARBALL=$(realpath "$TARBALL"); fi
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
VERSION=13.2.2
lib="$("$PG_CONFIG" --pkglibdir)/citus.so"

if [ -f "$lib" ] && grep -aq "Citus $VERSION" "$lib"; then
  echo "citus: $VERSION installed for $("$PG_CONFIG" --version)"
  exit 0
fi

if [ -z "$TARBALL" ]; then
  echo "citus: Citus $VERSION is not installed for $("$PG_CONFIG" --version) and CITUS_TARBALL is not set"
  exit 3
fi
if [ ! -f "$TARBALL" ]; then
  echo "citus: CITUS_TARBALL=$TARBALL: no such file" >&2
  exit 1
fi

packages=(liblz4-dev libzstd-dev libkrb5-dev libxml2-dev libxslt1-dev
          libselinux1-dev libpam0g-dev libssl-dev libicu-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "citus: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

src=target/citus-$VERSION
rm -rf "$src" && mkdir -p target
tar xzf "$TARBALL" -C target
# PostgreSQL 15.20 exports have_createdb_privilege(), which Citus 13.2.2
# also defines for 15: use the server's.
python3 - "$src/src/include/pg_version_compat.h" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
m = re.search(r"static inline bool\s*\n?\s*have_createdb_privilege\(void\)\s*\{.*?\n\}\n", s, re.S)
if m:
    s = s[:m.start()] + "#include \"commands/dbcommands.h\"\n" + s[m.end():]
    open(p, "w").write(s)
PY
echo "citus: building $VERSION for $("$PG_CONFIG" --version)"
(cd "$src" && ./configure --without-libcurl PG_CONFIG="$PG_CONFIG" >/dev/null \
  && make -j2 >/dev/null && make install >/dev/null)
echo "citus: installed"
