# pg_wasm — the two commands a user needs:
#   make demo   install what is missing, build, install into PostgreSQL 15,
#               start a throwaway cluster, load the example guests, run a demo
#   make test   the same set-up, then every test tier
# Both are idempotent; a second run only redoes what changed.

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
export PG_CONFIG
export PG_WASM_PORT ?= 28815
export PG_WASM_CLUSTER ?= /tmp/pg_wasm_cluster
# cargo-pgrx adds -Wl,--no-gc-sections to `install` builds only, which gives
# install and `cargo pgrx test` different RUSTFLAGS and so two full builds of
# wasmtime. On x86_64 Linux the .pgrxsc schema section survives gc-sections
# (LLVM marks it retained), so we turn the workaround off and share one build.
export CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND = 1
export PG_WASM_GUESTS = $(CURDIR)/target/guests
export PG_WASM_TEST_DSN ?= host=$(PG_WASM_CLUSTER) port=$(PG_WASM_PORT) user=postgres

PSQL = scripts/cluster.sh psql
PG_REGRESS = $$($(PG_CONFIG) --pkglibdir)/pgxs/src/test/regress/pg_regress
REGRESS_TESTS = $(sort $(basename $(notdir $(wildcard tests/pg_regress/sql/*.sql))))

.PHONY: demo test setup install guests cluster stop \
        test-runtime test-pg test-regress test-client bench lint

demo: install guests cluster
	$(PSQL) -d postgres -c 'DROP DATABASE IF EXISTS pg_wasm_demo' -c 'CREATE DATABASE pg_wasm_demo'
	$(PSQL) -d pg_wasm_demo -v ON_ERROR_STOP=1 -f demo/demo.sql

test: install guests test-runtime test-pg reinstall cluster test-regress test-client
	@echo "make test: all tiers passed"

setup:
	scripts/setup.sh

install: setup
	cargo pgrx install --release --pg-config $(PG_CONFIG)

# `cargo pgrx test` installs its own build (with the pg_test schema) into the
# same PostgreSQL; put the normal build back and restart the cluster so every
# backend loads it.
reinstall:
	cargo pgrx install --release --pg-config $(PG_CONFIG)
	scripts/cluster.sh restart

guests: setup
	scripts/build-guests.sh

cluster:
	scripts/cluster.sh start

stop:
	scripts/cluster.sh stop

# Tier 0: the sandbox without a server, and the Rust SDK's own readers and
# writers (natively).
test-runtime:
	cargo test --release -p pg_wasm_runtime -p pg-wasm-json
	cargo test --manifest-path sdk/rust/pg-wasm-guest/Cargo.toml --no-default-features --features json

# Tier 1: #[pg_test] inside a backend (pgrx runs its own cluster as postgres).
test-pg: setup
	mkdir -p target/pgrx-test-data && chown postgres target/pgrx-test-data
	cargo pgrx test --release pg15 --runas postgres --pgdata $(CURDIR)/target/pgrx-test-data/pg15

# Tier 2: pg_regress, the SQL surface as a user sees it.
test-regress: cluster
	mkdir -p target/regress && chown postgres target/regress
	$(PG_REGRESS) --host=$(PG_WASM_CLUSTER) --port=$(PG_WASM_PORT) --user=postgres \
	  --inputdir=tests/pg_regress --outputdir=target/regress \
	  --dbname=pg_wasm_regress $(REGRESS_TESTS) \
	  || { cat target/regress/regression.diffs; exit 1; }

# Tier 3: separate client processes against the running cluster.
test-client: cluster
	cargo test --release -p pg_wasm_client_tests -- --test-threads=1
	@! grep -n "terminated by signal" $(PG_WASM_CLUSTER)/server.log \
	  || { echo "a backend crashed (server log above)"; exit 1; }

bench: install guests cluster
	benches/run.sh
	benches/trigger.sh
	benches/memory.sh
	benches/coldstart.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --release --workspace --all-targets -- -D warnings
	cargo fmt --manifest-path sdk/rust/pg-wasm-guest/Cargo.toml -- --check
	cargo clippy --manifest-path sdk/rust/pg-wasm-guest/Cargo.toml --no-default-features --features json --all-targets -- -D warnings
