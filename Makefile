# pg_wasm — the two commands a user needs:
#   make demo   install what is missing, build, install into PostgreSQL 15,
#               start a throwaway cluster, load the example guests, run a demo
#   make test   the same set-up, then every test tier on PostgreSQL 15, and
#               the pg_regress and client tiers on PostgreSQL 16 and 18
# Both are idempotent; a second run only redoes what changed.
#
# PG=16 (or 18) does the same against that version (`make test PG=18` runs
# every tier on 18 only); scripts/postgres.sh fetches it when missing.
# PG_CONFIG=... installs into any PostgreSQL 15-18 of your own (`make install`).

PG ?= 15
PG_CONFIG ?= $(if $(filter 15,$(PG)),/usr/lib/postgresql/15/bin/pg_config,$(CURDIR)/target/postgresql/$(PG)/pgserver/pginstall/bin/pg_config)
export PG PG_CONFIG
# pgrx builds its bindings for the pg_config named here, so a version needs
# no entry in ~/.pgrx/config.toml to be built and installed.
export PGRX_PG_CONFIG_PATH = $(PG_CONFIG)
# One cluster per version, side by side: port 288<version>, its standby
# (client tests) on port 289<version>.
export PG_WASM_PORT ?= 288$(PG)
export PG_WASM_CLUSTER ?= /tmp/pg_wasm_cluster$(if $(filter 15,$(PG)),,_$(PG))
# The other versions `make test` covers with the pg_regress and client tiers.
TEST_ALSO ?= $(if $(filter 15,$(PG)),16 18,)
# cargo-pgrx adds -Wl,--no-gc-sections to `install` builds only, which gives
# install and `cargo pgrx test` different RUSTFLAGS and so two full builds of
# wasmtime. On x86_64 Linux the .pgrxsc schema section survives gc-sections
# (LLVM marks it retained), so we turn the workaround off and share one build.
export CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND = 1
export PG_WASM_GUESTS = $(CURDIR)/target/guests
export PG_WASM_TEST_DSN ?= host=$(PG_WASM_CLUSTER) port=$(PG_WASM_PORT) user=postgres

PSQL = scripts/cluster.sh psql
# Each step of `make test` says when it starts, in seconds since make began,
# so a slow CI run shows where its time went.
START := $(shell date +%s)
STAMP = @echo "== $@: start at $$(( $$(date +%s) - $(START) )) s ($$(date +%T))"
# pg_regress is only the driver (it runs the version's own psql, --bindir);
# the 18 wheel's copy crashes at start (a damaged RPATH), so every version
# uses Debian's, which scripts/setup.sh always installs.
PG_REGRESS = /usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress
REGRESS_TESTS = $(sort $(basename $(notdir $(wildcard tests/pg_regress/sql/*.sql))))

# (engines: the JavaScript engine, built to Wasm; runtime/ embeds it)
.PHONY: demo test test-standalone setup engines install guests cluster stop package test-package test-citus \
        test-runtime test-pg test-regress test-client bench lint

demo: install guests cluster
	$(PSQL) -d postgres -c 'DROP DATABASE IF EXISTS pg_wasm_demo' -c 'CREATE DATABASE pg_wasm_demo'
	$(PSQL) -d pg_wasm_demo -v ON_ERROR_STOP=1 -f demo/demo.sql

test: test-standalone install guests test-runtime test-pg reinstall cluster test-regress test-client \
      $(if $(filter 15,$(PG)),test-package test-citus) $(addprefix test-also-,$(TEST_ALSO))
	@echo "make test: all tiers passed on PostgreSQL $(PG) in $$(( $$(date +%s) - $(START) )) s$(if $(TEST_ALSO), (pg_regress and client tiers also on $(TEST_ALSO)))"
	$(if $(filter 15,$(PG)),@if [ -f $(CITUS_SKIPPED) ]; then echo "make test: $$(cat $(CITUS_SKIPPED))"; fi)

# The SQL-facing tiers against another version, with the same build of
# everything but the extension itself (about 40 s to rebuild it for a
# version); its cluster is stopped afterwards.
test-also-%: guests
	$(STAMP)
	env -u PG_CONFIG -u PGRX_PG_CONFIG_PATH -u PG_WASM_PORT -u PG_WASM_CLUSTER -u PG_WASM_TEST_DSN \
	  $(MAKE) --no-print-directory PG=$* TEST_ALSO= install cluster test-regress test-client stop

setup:
	scripts/setup.sh

# pg_wasm's JavaScript and Python engines (QuickJS-ng and CPython to
# Wasm), embedded by runtime/: every Rust build needs them first.
engines: setup
	engines/javascript/build.sh
	engines/python/build.sh

# The repository stands on its own: no tracked file points outside it.
test-standalone:
	scripts/check-standalone.sh

# cargo-pgrx installs the script it generates for this version and the
# sql/pg_wasm--<from>--<to>.sql updates; the frozen install scripts of
# earlier releases (sql/pg_wasm--<version>.sql) are ours to copy.
FROZEN_SQL = $(filter-out $(wildcard sql/pg_wasm--*--*.sql),$(wildcard sql/pg_wasm--*.sql))
define install_extension
	cargo pgrx install --release --pg-config $(PG_CONFIG)
	install -m 644 $(FROZEN_SQL) $$($(PG_CONFIG) --sharedir)/extension/
	PG_CONFIG=$(PG_CONFIG) scripts/order-text.sh --check
endef

# pg-wasm, the command line (cli/), goes next to the server's own client
# programs' usual place for local installs; BINDIR=... puts it elsewhere.
BINDIR ?= /usr/local/bin
install: engines
	$(STAMP)
	$(install_extension)
	cargo build --release -p pg-wasm
	install -m 755 target/release/pg-wasm $(BINDIR)/pg-wasm

# `cargo pgrx test` installs its own build (with the pg_test schema) into the
# same PostgreSQL; put the normal build back and restart the cluster so every
# backend loads it.
reinstall:
	$(STAMP)
	$(install_extension)
	scripts/cluster.sh restart

guests: setup
	$(STAMP)
	scripts/build-guests.sh

cluster:
	scripts/cluster.sh start

stop:
	scripts/cluster.sh stop

# Tier 0: the sandbox without a server, and the Rust SDK's own readers and
# writers (natively).
test-runtime: engines
	$(STAMP)
	cargo test --release -p pg_wasm_runtime -p pg-wasm-json
	cargo test --manifest-path sdk/rust/pg-wasm-guest/Cargo.toml --no-default-features --features json

# Tier 1: #[pg_test] inside a backend (pgrx runs its own cluster as postgres).
test-pg: engines
	$(STAMP)
	mkdir -p target/pgrx-test-data && chown postgres target/pgrx-test-data
	cargo pgrx test --release pg$(PG) --runas postgres --pgdata $(CURDIR)/target/pgrx-test-data/pg$(PG)

# Tier 2: pg_regress, the SQL surface as a user sees it.
test-regress: cluster
	$(STAMP)
	mkdir -p target/regress/pg$(PG) && chown postgres target/regress/pg$(PG)
	$(PG_REGRESS) --host=$(PG_WASM_CLUSTER) --port=$(PG_WASM_PORT) --user=postgres \
	  --bindir=$$($(PG_CONFIG) --bindir) \
	  --inputdir=tests/pg_regress --outputdir=target/regress/pg$(PG) \
	  --dbname=pg_wasm_regress $(REGRESS_TESTS) \
	  || { cat target/regress/pg$(PG)/regression.diffs; exit 1; }

# Tier 3: separate client processes against the running cluster.
test-client: cluster
	$(STAMP)
	cargo test --release -p pg_wasm_client_tests -p pg-wasm -- --test-threads=1
	@! grep -n "terminated by signal" $(PG_WASM_CLUSTER)/server.log \
	  || { echo "a backend crashed (server log above)"; exit 1; }

# A Debian package for PostgreSQL $(PG) (target/package/*.deb).
package: engines
	scripts/package.sh

# Installs the package with apt-get into Debian's PostgreSQL 15 (the only
# version with a Debian package here), checks a fresh cluster, removes it,
# and puts the development build back.
test-package: package
	$(STAMP)
	scripts/test-package.sh target/package/postgresql-$(PG)-pg-wasm_*.deb
	$(install_extension)

# Citus 13.2.2 (installed, or built once from CITUS_TARBALL by
# scripts/citus.sh), a coordinator and two workers
# (scripts/citus-cluster.sh), the Citus client tests, then the three
# clusters are stopped. Without Citus and without CITUS_TARBALL the tier is
# skipped with a message (scripts/citus.sh exits 3), and make test says so
# at its end. PostgreSQL 15 only (Citus 13.2.2 supports 15-17; 16 and 17
# are not set up here).
CITUS_SKIPPED = target/citus-skipped
# The Citus source release to build when Citus is not installed
# (`make test CITUS_TARBALL=path/to/citus-13.2.2.tar.gz`).
export CITUS_TARBALL
test-citus: install
	$(STAMP)
	@rm -f $(CITUS_SKIPPED)
	@status=0; scripts/citus.sh || status=$$?; \
	if [ $$status -eq 3 ]; then \
	  mkdir -p target; \
	  echo "Citus tests SKIPPED: Citus 13.2.2 is not installed and CITUS_TARBALL is not set (docs/building.md#citus)" | tee $(CITUS_SKIPPED); \
	  exit 0; \
	fi; \
	[ $$status -eq 0 ] || exit $$status; \
	scripts/citus-cluster.sh start; \
	status=0; cargo test --release -p pg_wasm_client_tests --test citus -- --ignored --test-threads=1 || status=$$?; \
	scripts/citus-cluster.sh stop; \
	exit $$status

bench: install guests cluster
	benches/run.sh
	benches/trigger.sh
	benches/memory.sh
	benches/coldstart.sh
	benches/distributed.sh
	benches/components.sh
	benches/oltp.sh
	benches/python.sh
	benches/pagemap_scan.sh

lint: test-standalone engines
	python3 scripts/unify-features.py --check
	cargo fmt --all -- --check
	cargo clippy --release --workspace --all-targets -- -D warnings
	cargo fmt --manifest-path sdk/rust/pg-wasm-guest/Cargo.toml -- --check
	cargo clippy --manifest-path sdk/rust/pg-wasm-guest/Cargo.toml --no-default-features --features json --all-targets -- -D warnings
