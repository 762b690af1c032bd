#!/usr/bin/env bash
# Host memory of one backend against the guest data it handles: peak
# resident size (VmHWM) above the backend's size before the statement, for
#   - a SETOF text result of MB megabytes (one JSON array from the guest),
#   - wasm.wat_to_wasm of a WAT text of about MB/10 megabytes,
#   - 50 modules loaded, called and unloaded (resident size after, not peak).
# Each case runs in a new connection. Prints MB and the ratio of host
# memory (peak minus before minus the guest's linear memory) to the data.
#   benches/memory.sh [MB]
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-60}
PSQL=(scripts/cluster.sh psql -q -v ON_ERROR_STOP=1)

"${PSQL[@]}" -d postgres -c 'DROP DATABASE IF EXISTS pg_wasm_mem' -c 'CREATE DATABASE pg_wasm_mem'
"${PSQL[@]}" -d pg_wasm_mem <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
-- big(n, w): a JSON array of n strings of w 'x', built in linear memory
-- from offset 65536 (memory grown to fit).
SELECT wasm.load_wat('mem', '(module
  (memory (export "memory") 2)
  (func (export "pg_wasm_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "big") (param $n i32) (param $w i32) (result i64)
    (local $p i32) (local $i i32) (local $len i32)
    local.get $n local.get $w i32.const 3 i32.add i32.mul i32.const 1 i32.add local.set $len
    local.get $len i32.const 16 i32.shr_u i32.const 2 i32.add memory.grow drop
    i32.const 65536 local.set $p
    local.get $p i32.const 91 i32.store8
    local.get $p i32.const 1 i32.add local.set $p
    block $done loop $row
      local.get $i local.get $n i32.ge_u br_if $done
      local.get $p i32.const 34 i32.store8
      local.get $p i32.const 1 i32.add i32.const 120 local.get $w memory.fill
      local.get $p local.get $w i32.add i32.const 1 i32.add local.tee $p i32.const 34 i32.store8
      local.get $p i32.const 44 i32.store8 offset=1
      local.get $p i32.const 2 i32.add local.set $p
      local.get $i i32.const 1 i32.add local.set $i
      br $row
    end end
    local.get $p i32.const 1 i32.sub i32.const 93 i32.store8
    i64.const 65536 i64.const 32 i64.shl local.get $len i64.extend_i32_u i64.or))',
  '{"functions": {"big": {"args": ["integer", "integer"], "returns": "setof text"}}, "memory_mb": 1024}');
SQL

# peak_after <sql>: runs <sql> in a new connection and prints
# "<before kB> <peak kB> <after kB>" of that backend.
measure() {
  "${PSQL[@]}" -d pg_wasm_mem -At <<SQL
CREATE TEMP TABLE s AS SELECT pg_backend_pid() AS pid;
SELECT count(*) FROM mem_big(1, 1);  -- engine and module ready before the case
CREATE TEMP TABLE before AS SELECT pg_read_file('/proc/' || pid || '/status') AS st FROM s;
$1
SELECT (SELECT substring(st from 'VmRSS:\s+(\d+)') FROM before) || ' ' ||
       substring(pg_read_file('/proc/' || pid || '/status') from 'VmHWM:\s+(\d+)') || ' ' ||
       substring(pg_read_file('/proc/' || pid || '/status') from 'VmRSS:\s+(\d+)') FROM s;
SQL
}

row_w=100
rows=$(( MB * 1048576 / (row_w + 3) ))
printf "%-34s %8s %8s %8s %7s\n" case "data MB" "peak MB" "host MB" "ratio"
out=$(measure "SET pg_wasm.memory_limit_mb = $(( MB * 2 + 64 )); SELECT count(*) > 0 FROM mem_big($rows, $row_w);")
read -r before peak after <<< "$(tail -1 <<< "$out")"
host=$(( (peak - before) / 1024 - MB ))  # the guest's memory holds the MB of JSON
printf "%-34s %8d %8d %8d %7.2f\n" "SETOF text, ${rows} rows" "$MB" $(( (peak - before) / 1024 )) "$host" \
  "$(awk -v h="$host" -v d="$MB" 'BEGIN {print h / d}')"

wat_mb=$(( MB / 10 > 0 ? MB / 10 : 1 ))
funcs=$(( wat_mb * 1048576 / 80 ))
out=$(measure "SET pg_wasm.max_wat_kb = $(( wat_mb * 1024 + 1024 ));
SELECT length(wasm.wat_to_wasm('(module ' || repeat('(func (result i32) i32.const 1 i32.const 2 i32.add) ', $funcs) || ')')) > 0;")
read -r before peak after <<< "$(tail -1 <<< "$out")"
printf "%-34s %8d %8d %8d %7.2f\n" "wat_to_wasm, ${funcs} functions" "$wat_mb" $(( (peak - before) / 1024 )) $(( (peak - before) / 1024 )) \
  "$(awk -v h="$(( (peak - before) / 1024 ))" -v d="$wat_mb" 'BEGIN {print h / d}')"

loads=""
for i in $(seq 1 50); do
  loads+="SELECT count(*) FROM wasm.load_wat('m$i', '(module (func (export \"f\") (result i32) i32.const $i) $(printf '(func (result i32) i32.const 7) %.0s' $(seq 1 300)))');
SELECT m${i}_f(); SELECT wasm.unload('m$i', cascade => true);
"
done
out=$(measure "$loads")
read -r before peak after <<< "$(tail -1 <<< "$out")"
printf "%-34s %8s %8d %8d %7s\n" "50 modules loaded, called, unloaded" "-" $(( (peak - before) / 1024 )) $(( (after - before) / 1024 )) "left"
