#!/usr/bin/env bash
# Builds Citus 13.2.2 from ../shared/deps and installs it into the
# PostgreSQL of PG_CONFIG (15 by default). Idempotent: does nothing when
# that Citus is installed already. About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
VERSION=13.2.2
# The release tarball sits in shared/deps next to the checkout (or the
# machine's /work/shared when the clone is elsewhere).
TARBALL=${CITUS_TARBALL:-}
if [ -z "$TARBALL" ]; then
  for dir in ../shared/deps /work/shared/deps; do
    [ -f "$dir/citus-$VERSION.tar.gz" ] && TARBALL=$dir/citus-$VERSION.tar.gz && break
  done
fi
lib="$("$PG_CONFIG" --pkglibdir)/citus.so"

if [ -f "$lib" ] && grep -aq "Citus $VERSION" "$lib"; then
  echo "citus: $VERSION installed for $("$PG_CONFIG" --version)"
  exit 0
fi

packages=(liblz4-dev libzstd-dev libkrb5-dev libxml2-dev libxslt1-dev
          libselinux1-dev libpam0g-dev libssl-dev libicu-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "citus: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -n "$TARBALL" ] && [ -f "$TARBALL" ] || {
  echo "citus: citus-$VERSION.tar.gz not found in ../shared/deps or /work/shared/deps (set CITUS_TARBALL)" >&2
  exit 1
}
src=target/citus-$VERSION
rm -rf "$src" && mkdir -p target
tar xzf "$TARBALL" -C target
# PostgreSQL 15.20 exports have_createdb_privilege(), which Citus 13.2.2
# also defines for 15 (../shared/TOOLCHAIN.md): use the server's.
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
