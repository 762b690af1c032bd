#!/usr/bin/env bash
# Per-row call cost of a wasm scalar function, and of the same expression in
# LANGUAGE javascript, against baselines in the same run: the built-in C
# function (int4pl, float8 arithmetic) and PL/pgSQL. Prints the median time of each over ROUNDS rounds (queries
# interleaved so machine noise hits all alike) and its ratio to the C baseline.
#   benches/run.sh [rows] [rounds]      (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
ROUNDS=${2:-7}
PSQL=(scripts/cluster.sh psql -q -v ON_ERROR_STOP=1)

"${PSQL[@]}" -d postgres -c 'DROP DATABASE IF EXISTS pg_wasm_bench' -c 'CREATE DATABASE pg_wasm_bench'
"${PSQL[@]}" -d pg_wasm_bench <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
SELECT wasm.load_wat('b', '(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "poly") (param f64) (result f64)
    local.get 0 local.get 0 f64.mul f64.const 3 f64.mul local.get 0 f64.const 2 f64.mul f64.add f64.const 1 f64.add))',
  '{"functions": {"add": {"volatility": "immutable"}, "poly": {"volatility": "immutable"}}}');
CREATE FUNCTION plpgsql_add(a int, b int) RETURNS int LANGUAGE plpgsql IMMUTABLE STRICT AS 'BEGIN RETURN a + b; END';
CREATE FUNCTION javascript_add(a int, b int) RETURNS int LANGUAGE javascript IMMUTABLE STRICT AS 'return a + b;';
CREATE FUNCTION javascript_poly(x float8) RETURNS float8 LANGUAGE javascript IMMUTABLE STRICT AS 'return 3*x*x + 2*x + 1;';
CREATE FUNCTION plpgsql_poly(x float8) RETURNS float8 LANGUAGE plpgsql IMMUTABLE STRICT AS 'BEGIN RETURN 3*x*x + 2*x + 1; END';
CREATE TABLE t AS SELECT i, i::float8 / 1000 AS x FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE t;
SET max_parallel_workers_per_gather = 0;
SQL

declare -A QUERY=(
  [c_int4pl]="SELECT sum(int4pl(i, 1)) FROM t"
  [wasm_add]="SELECT sum(b_add(i, 1)) FROM t"
  [wasm_add_timeout]="SET pg_wasm.timeout_ms = 60000; SELECT sum(b_add(i, 1)) FROM t"
  [plpgsql_add]="SELECT sum(plpgsql_add(i, 1)) FROM t"
  [javascript_add]="SELECT sum(javascript_add(i, 1)) FROM t"
  [javascript_poly]="SELECT sum(javascript_poly(x)) FROM t"
  [c_poly]="SELECT sum(float8pl(float8pl(float8mul(float8mul(x, x), 3), float8mul(x, 2)), 1)) FROM t"
  [wasm_poly]="SELECT sum(b_poly(x)) FROM t"
  [plpgsql_poly]="SELECT sum(plpgsql_poly(x)) FROM t"
)
ORDER=(c_int4pl wasm_add wasm_add_timeout javascript_add plpgsql_add c_poly wasm_poly javascript_poly plpgsql_poly)

timings=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for name in "${ORDER[@]}"; do
    ms=$("${PSQL[@]}" -d pg_wasm_bench -At \
          -c "SET max_parallel_workers_per_gather = 0" \
          -c '\timing on' -c "${QUERY[$name]}" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    echo "$name $ms" >> "$timings"
  done
done

median() { grep "^$1 " "$timings" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-14s %10s %8s   (%s rows, median of %s rounds)\n" query ms ratio "$ROWS" "$ROUNDS"
for group in "int4pl add add_timeout" "poly poly"; do
  set -- $group
  base=$(median "c_$1")
  names=("c_$1" "wasm_$2")
  [ -n "${3:-}" ] && names+=("wasm_$3")
  names+=("javascript_$2" "plpgsql_$2")
  for name in "${names[@]}"; do
    m=$(median "$name")
    printf "%-14s %10.1f %8.2f\n" "$name" "$m" "$(awk -v m="$m" -v b="$base" 'BEGIN {print m / b}')"
  done
done
rm -f "$timings"
