#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the demo, the tests and the benchmarks,
# run as user postgres on its own port and socket directory.
#   scripts/cluster.sh start|stop|status|psql [args]
# Idempotent: start does nothing when the cluster already runs.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
ROOT=${PG_WASM_CLUSTER:-/tmp/pg_wasm_cluster}
PORT=${PG_WASM_PORT:-28815}
DATA="$ROOT/data"
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else sudo -u postgres "$@"; fi; }

case "${1:-start}" in
  start)
    mkdir -p "$ROOT"
    chown postgres "$ROOT" 2>/dev/null || true
    if [ ! -f "$DATA/PG_VERSION" ]; then
      echo "cluster: initdb $DATA"
      as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres >/dev/null
      cat >> "$DATA/postgresql.conf" <<CONF
port = $PORT
unix_socket_directories = '$ROOT'
listen_addresses = ''
log_min_messages = warning
max_parallel_workers_per_gather = 2
CONF
    fi
    # Settings the tests need, added to clusters made before they were
    # listed too: cluster-wide wasm.stats need the library preloaded
    # (shared memory); the logical replication test needs wal_level logical.
    changed=
    for setting in "shared_preload_libraries = 'pg_wasm'" "wal_level = logical"; do
      if ! grep -qxF "$setting" "$DATA/postgresql.conf"; then
        echo "$setting" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
        changed=1
      fi
    done
    if [ -n "$changed" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w restart >/dev/null
    fi
    # One role signs in with a password (scram), for the tests of clients'
    # password handling (pg-wasm's ~/.pgpass and bad-password errors);
    # everyone else is trusted on the socket.
    hba="local all client_cli_password_user scram-sha-256"
    if ! grep -qxF "$hba" "$DATA/pg_hba.conf"; then
      { echo "$hba"; cat "$DATA/pg_hba.conf"; } | as_pg tee "$DATA/pg_hba.conf.new" >/dev/null
      as_pg mv "$DATA/pg_hba.conf.new" "$DATA/pg_hba.conf"
      if as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        as_pg "$BIN/pg_ctl" -D "$DATA" reload >/dev/null
      fi
    fi
    if as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      echo "cluster: running on port $PORT, socket $ROOT"
    else
      echo "cluster: starting on port $PORT, socket $ROOT"
      as_pg "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w start >/dev/null
    fi
    ;;
  stop)
    if [ -f "$DATA/PG_VERSION" ]; then
      as_pg "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
    fi
    ;;
  restart)
    "$0" stop; "$0" start
    ;;
  status)
    as_pg "$BIN/pg_ctl" -D "$DATA" status
    ;;
  psql)
    shift
    exec "$BIN/psql" -X -h "$ROOT" -p "$PORT" -U postgres "$@"
    ;;
  *)
    echo "usage: $0 start|stop|restart|status|psql" >&2; exit 2
    ;;
esac
