#!/usr/bin/env bash
# Builds a Debian package of pg_wasm for one PostgreSQL major version:
#   scripts/package.sh            (PG_CONFIG from the environment)
# -> target/package/postgresql-<major>-pg-wasm_<version>-1_amd64.deb
#    target/package/pg-wasm-cli_<version>-1_amd64.deb (the command line,
#    /usr/bin/pg-wasm: one for every PostgreSQL version, so a package of
#    its own)
# The package uses Debian's (and apt.postgresql.org's) layout,
# /usr/lib/postgresql/<major>/lib and /usr/share/postgresql/<major>/extension,
# whatever tree PG_CONFIG points at, and depends on postgresql-<major>.
# The library is the release build (`cargo pgrx package`: the same build as
# `make install`), with its debug line tables stripped.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
major=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
version=$(sed -nE 's/^version = "([^"]+)"/\1/p' Cargo.toml | head -1)
name=postgresql-$major-pg-wasm
arch=$(dpkg --print-architecture)
out=target/package
stage=$out/$name
built=$PWD/target/release/pg_wasm-pg$major

echo "package: building pg_wasm $version for PostgreSQL $major"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$built" >/dev/null
pkglibdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)

rm -rf "$stage"
lib=$stage/usr/lib/postgresql/$major/lib
ext=$stage/usr/share/postgresql/$major/extension
doc=$stage/usr/share/doc/$name
mkdir -p "$lib" "$ext" "$doc" "$stage/DEBIAN"
objcopy --strip-debug "$built$pkglibdir/pg_wasm.so" "$lib/pg_wasm.so"
chmod 755 "$lib/pg_wasm.so"
install -m 644 "$built$sharedir/extension/pg_wasm.control" \
  "$built$sharedir/extension/pg_wasm--$version.sql" "$ext/"
# Earlier releases' frozen install scripts and every update script.
install -m 644 sql/pg_wasm--*.sql "$ext/"
install -m 644 README.md "$doc/"
cp -r docs "$doc/docs"
find "$doc" -type f -exec chmod 644 {} + && find "$doc" -type d -exec chmod 755 {} +
cat > "$doc/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: pg_wasm
License: Apache-2.0

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPY

# Shared-library dependencies as Debian computes them (libc6, libgcc-s1).
shlibs=$(cd "$stage" && mkdir -p debian && printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" > debian/control \
  && dpkg-shlibdeps -O "usr/lib/postgresql/$major/lib/pg_wasm.so" 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p'; rm -rf debian)
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: $name
Version: $version-1
Architecture: $arch
Maintainer: pg_wasm developers <pg_wasm@localhost>
Installed-Size: $size
Depends: postgresql-$major, ${shlibs:-libc6}
Section: database
Priority: optional
Description: WebAssembly functions next to your data (PostgreSQL $major)
 pg_wasm stores WebAssembly modules in a catalog table and runs their
 exports as SQL functions, aggregates and triggers (LANGUAGE wasm) in
 wasmtime, with fuel, memory and time limits. CREATE EXTENSION pg_wasm;
 add pg_wasm to shared_preload_libraries for cluster-wide wasm.stats.
CONTROL
rm -f "$out/${name}"_*.deb
deb=$out/${name}_${version}-1_${arch}.deb
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "package: $deb ($(du -h "$deb" | cut -f1)), depends: postgresql-$major, ${shlibs:-libc6}"

# The command line: the same build as `make install`'s.
echo "package: building pg-wasm (the command line)"
cargo build --release -p pg-wasm >/dev/null 2>&1 || cargo build --release -p pg-wasm
cli=pg-wasm-cli
cstage=$out/$cli
rm -rf "$cstage"
mkdir -p "$cstage/usr/bin" "$cstage/usr/share/doc/$cli" "$cstage/DEBIAN"
objcopy --strip-debug target/release/pg-wasm "$cstage/usr/bin/pg-wasm"
chmod 755 "$cstage/usr/bin/pg-wasm"
install -m 644 docs/cli.md "$cstage/usr/share/doc/$cli/"
install -m 644 "$doc/copyright" "$cstage/usr/share/doc/$cli/"
cshlibs=$(cd "$cstage" && mkdir -p debian && printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$cli" "$cli" > debian/control \
  && dpkg-shlibdeps -O usr/bin/pg-wasm 2>/dev/null | sed -n 's/^shlibs:Depends=//p'; rm -rf debian)
cat > "$cstage/DEBIAN/control" <<CONTROL
Package: $cli
Version: $version-1
Architecture: $arch
Maintainer: pg_wasm developers <pg_wasm@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$cstage" | cut -f1)
Depends: ${cshlibs:-libc6}
Section: database
Priority: optional
Description: pg_wasm's command line: new, build, run, deploy, inspect, stats
 pg-wasm takes a WebAssembly guest from source to a running SQL function:
 project templates, builds with the toolchain present, local runs in the
 server's sandbox, and deploys over an ordinary PostgreSQL connection.
CONTROL
rm -f "$out/${cli}"_*.deb
cdeb=$out/${cli}_${version}-1_${arch}.deb
dpkg-deb --root-owner-group --build "$cstage" "$cdeb" >/dev/null
echo "package: $cdeb ($(du -h "$cdeb" | cut -f1)), depends: ${cshlibs:-libc6}"
