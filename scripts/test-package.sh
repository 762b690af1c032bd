#!/usr/bin/env bash
# Installs the Debian package (scripts/package.sh) with apt-get into this
# machine's PostgreSQL, makes a new cluster, and checks CREATE EXTENSION,
# a call and the cluster-wide statistics there; then removes the package.
#   scripts/test-package.sh target/package/postgresql-15-pg-wasm_*.deb
# Files an earlier `make install` left (owned by no package) are removed
# first, so only the package's files can make the test pass; `make test`
# installs the development build again afterwards.
set -euo pipefail
deb=$(realpath "${1:?usage: $0 <package.deb>}")
name=$(dpkg-deb -f "$deb" Package)
version=$(dpkg-deb -f "$deb" Version)
major=$(echo "$name" | sed -E 's/^postgresql-([0-9]+)-.*/\1/')
bin=/usr/lib/postgresql/$major/bin
root=/tmp/pg_wasm_package_test
port=28700
as_pg() { sudo -u postgres "$@"; }
fail() { echo "test-package: FAILED: $*" >&2; exit 1; }

cleanup() {
  [ -f "$root/data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$root/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap cleanup EXIT
cleanup

for f in /usr/lib/postgresql/$major/lib/pg_wasm.so /usr/share/postgresql/$major/extension/pg_wasm*; do
  [ -e "$f" ] || continue
  dpkg -S "$f" >/dev/null 2>&1 || rm -f "$f"
done

cli_deb=$(ls "$(dirname "$deb")"/pg-wasm-cli_"$version"_*.deb)
echo "test-package: apt-get install $deb $cli_deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" "$cli_deb" >/dev/null
dpkg -s "$name" | grep -q "^Version: $version$" || fail "$name $version is not installed"
dpkg -L "$name" | grep -q "/usr/lib/postgresql/$major/lib/pg_wasm.so" || fail "no library in $name"

mkdir -p "$root" && chown postgres "$root"
as_pg "$bin/initdb" -D "$root/data" -A trust -U postgres >/dev/null
cat >> "$root/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$root'
listen_addresses = ''
shared_preload_libraries = 'pg_wasm'
CONF
as_pg "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w start >/dev/null
psql() { "$bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$root" -p "$port" -U postgres -d postgres "$@"; }
psql -c "CREATE EXTENSION pg_wasm"
got=$(psql -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_wasm'")
[ "$got" = "${version%-*}" ] || fail "extension version $got, package $version"
psql -c "SELECT wasm.load_wat('pkg', '(module (func (export \"mul\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.mul))')" >/dev/null
got=$(psql -c "SELECT sum(pkg_mul(g, 3)) FROM generate_series(1, 100) g")
[ "$got" = 15150 ] || fail "pkg_mul gave $got"
got=$(psql -c "SELECT calls || ' ' || scope FROM wasm.stats WHERE function = 'pkg_mul(int4,int4)'::regprocedure")
[ "$got" = "100 cluster" ] || fail "wasm.stats says '$got'"
echo "test-package: CREATE EXTENSION, a call and cluster-wide stats work from the package"
# The command line from its package: deploy a module over a connection.
printf '(module (func (export "sq") (param i64) (result i64) local.get 0 local.get 0 i64.mul))' > "$root/sq.wat"
/usr/bin/pg-wasm deploy "$root/sq.wat" -q -h "$root" -p "$port" -U postgres -d postgres >/dev/null \
  || fail "pg-wasm deploy from pg-wasm-cli"
got=$(psql -c "SELECT sq_sq(12)")
[ "$got" = 144 ] || fail "sq_sq gave $got"
echo "test-package: pg-wasm from pg-wasm-cli deploys"

as_pg "$bin/pg_ctl" -D "$root/data" -m fast stop >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$name" pg-wasm-cli >/dev/null
[ ! -e /usr/bin/pg-wasm ] || fail "apt-get remove left /usr/bin/pg-wasm"
[ ! -e "/usr/lib/postgresql/$major/lib/pg_wasm.so" ] || fail "apt-get remove left the library"
echo "test-package: $name $version installed, worked and removed"
