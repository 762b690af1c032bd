#!/usr/bin/env bash
# A wasm function over a distributed table (Citus, docs/scale-out.md): the
# same query on a plain table on the coordinator (one process: parallel
# query off), on a table distributed over 1 worker and over 2 workers
# (32 shards each), with the built-in C function as a baseline on each.
# Medians of ROUNDS runs, ratios to the plain table's wasm query.
#   benches/distributed.sh [rows] [rounds]       (needs scripts/citus.sh)
# All three nodes run on this machine, so the workers share its cores:
# with 2 cores, 2 workers can at best halve the time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-4000000}
ROUNDS=${2:-5}
BIN=$(${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config} --bindir)
scripts/citus.sh >/dev/null
scripts/citus-cluster.sh start >/dev/null
psql_at() { PGOPTIONS="-c client_min_messages=warning" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h localhost -U postgres -p "$1" -d "$2" "${@:3}"; }

setup() {  # db, workers to add
  local db=$1; shift
  for port in 28840 28841 28842; do
    psql_at "$port" postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    [ "$port" = 28840 ] || psql_at "$port" "$db" -c "CREATE EXTENSION citus"
  done
  psql_at 28840 "$db" -c "CREATE EXTENSION citus" \
    -c "SELECT citus_set_coordinator_host('localhost', 28840)" >/dev/null
  for port in "$@"; do psql_at 28840 "$db" -c "SELECT citus_add_node('localhost', $port)" >/dev/null; done
  psql_at 28840 "$db" >/dev/null <<SQL
CREATE EXTENSION pg_wasm;
SELECT wasm.load_wat('b', '(module
  (func (export "poly") (param f64) (result f64)
    local.get 0 local.get 0 f64.mul f64.const 3 f64.mul local.get 0 f64.const 2 f64.mul f64.add f64.const 1 f64.add))',
  '{"functions": {"poly": {"volatility": "immutable", "parallel": "safe"}}}');
CREATE TABLE t (i int, x float8);
INSERT INTO t SELECT i, i::float8 / 1000 FROM generate_series(1, $ROWS) i;
SQL
  if [ $# -gt 0 ]; then
    psql_at 28840 "$db" -c "SELECT create_distributed_table('t', 'i')" >/dev/null
    psql_at 28840 "$db" -c "SELECT truncate_local_data_after_distributing_table('t')" >/dev/null
  fi
  psql_at 28840 "$db" -c "VACUUM ANALYZE t" >/dev/null
}

echo "distributed: setting up $ROWS rows: plain, 1 worker, 2 workers" >&2
setup bench_plain
setup bench_w1 28841
setup bench_w2 28841 28842

WASM="SELECT sum(b_poly(x)) FROM t"
C="SELECT sum(float8pl(float8pl(float8mul(float8mul(x, x), 3), float8mul(x, 2)), 1)) FROM t"
timings=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for db in bench_plain bench_w1 bench_w2; do
    for q in wasm c; do
      sql=$WASM; [ "$q" = c ] && sql=$C
      ms=$(psql_at 28840 "$db" -At -c "SET max_parallel_workers_per_gather = 0" \
             -c '\timing on' -c "$sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
      echo "$db/$q $ms" >> "$timings"
    done
  done
done
median() { grep "^$1 " "$timings" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(median bench_plain/wasm)
printf "%-22s %10s %8s   (%s rows, median of %s rounds, %s cores)\n" table ms "vs plain" "$ROWS" "$ROUNDS" "$(nproc)"
for db in bench_plain bench_w1 bench_w2; do
  for q in wasm c; do
    m=$(median "$db/$q")
    printf "%-22s %10.1f %8.2f\n" "${db#bench_} $q" "$m" "$(awk -v m="$m" -v b="$base" 'BEGIN {print m / b}')"
  done
done
rm -f "$timings"
for db in bench_plain bench_w1 bench_w2; do
  for port in 28840 28841 28842; do psql_at "$port" postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
done
