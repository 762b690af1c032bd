#!/usr/bin/env bash
# A throwaway Citus cluster on this machine: a coordinator and two workers,
# three PostgreSQL 15 clusters preloading citus and pg_wasm.
#   scripts/citus-cluster.sh start|stop|psql <node> [args]
# Nodes: coord (port 28840), w1 (28841), w2 (28842), under /tmp/pg_wasm_citus.
# Idempotent: start (re)starts the nodes and adds workers the coordinator
# does not know yet.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
ROOT=${PG_WASM_CITUS:-/tmp/pg_wasm_citus}
declare -A PORT=([coord]=28840 [w1]=28841 [w2]=28842)
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else sudo -u postgres "$@"; fi; }
sql() { PGOPTIONS="-c client_min_messages=warning" "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h localhost -p "${PORT[$1]}" -U postgres -d "${2:-postgres}" -c "$3"; }

start_node() {
  local node=$1 data=$ROOT/$1
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "$BIN/initdb" -D "$data" -A trust -U postgres >/dev/null
    cat <<CONF | as_pg tee -a "$data/postgresql.conf" >/dev/null
port = ${PORT[$node]}
listen_addresses = 'localhost'
unix_socket_directories = '$ROOT'
shared_preload_libraries = 'citus,pg_wasm'
log_min_messages = warning
max_prepared_transactions = 100
wal_level = logical
CONF
  fi
  # A running node is restarted: it keeps the pg_wasm library it loaded,
  # and `make test-citus` has just installed a new one.
  if as_pg "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$BIN/pg_ctl" -D "$data" -l "$ROOT/$node.log" -m fast -w restart >/dev/null
  else
    as_pg "$BIN/pg_ctl" -D "$data" -l "$ROOT/$node.log" -w start >/dev/null
  fi
}

case "${1:-start}" in
  start)
    mkdir -p "$ROOT" && chown postgres "$ROOT"
    for node in coord w1 w2; do start_node "$node"; done
    for node in coord w1 w2; do
      sql "$node" postgres "CREATE EXTENSION IF NOT EXISTS citus"
    done
    sql coord postgres "SELECT citus_set_coordinator_host('localhost', ${PORT[coord]})" >/dev/null
    for node in w1 w2; do
      known=$(sql coord postgres "SELECT count(*) FROM pg_dist_node WHERE nodeport = ${PORT[$node]}")
      [ "$known" = 1 ] || sql coord postgres "SELECT citus_add_node('localhost', ${PORT[$node]})" >/dev/null
    done
    echo "citus: coordinator localhost:${PORT[coord]}, workers ${PORT[w1]} and ${PORT[w2]}"
    ;;
  stop)
    for node in coord w1 w2; do
      [ -f "$ROOT/$node/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$ROOT/$node" -m fast stop >/dev/null 2>&1 || true
    done
    ;;
  psql)
    node=${2:?node: coord, w1 or w2}; shift 2
    exec "$BIN/psql" -X -h localhost -p "${PORT[$node]}" -U postgres "$@"
    ;;
  *) echo "usage: $0 start|stop|psql <node> [args]" >&2; exit 2 ;;
esac
