#!/usr/bin/env bash
# Cold start, compile once (SPEC §11): medians over ROUNDS new connections.
#   - first call in a brand-new connection (after LOAD 'pg_wasm', which is
#     timed on its own) for jsonkit (100 KB) and for a generated module of
#     more than 1 MB, with the stored artifact and without it (every
#     artifact cleared before the connection, so the backend compiles);
#   - wasm.load of the same modules;
#   - the same text function over ROWS rows with 0 and 2 parallel workers;
#   - RSS and PSS of a backend after calling one function of each of 20
#     modules, while a second backend has done the same.
# Times are psql's \timing (client round trip included; "SELECT 1" in the
# same connection shows it). Writes target/bench/coldstart.csv for
# benches/chart.py.
#   benches/coldstart.sh [rounds] [rows]      (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-9}
ROWS=${2:-1000000}
GUESTS=${PG_WASM_GUESTS:-$PWD/target/guests}
OUT=target/bench
mkdir -p "$OUT"
CSV=$OUT/coldstart.csv
PSQL=(scripts/cluster.sh psql -X -q -v ON_ERROR_STOP=1)
DB=pg_wasm_cold

# A module of more than 1 MB: BIG_FUNCS functions of about 350 bytes of
# code each (arithmetic on a local), one in a hundred exported.
BIG_FUNCS=${BIG_FUNCS:-3200}
awk -v n="$BIG_FUNCS" 'BEGIN {
  print "(module";
  for (i = 0; i < n; i++) {
    printf "(func";
    if (i % 100 == 0) printf " (export \"f%d\")", i;
    printf " (param i32) (result i32) (local i32)";
    for (k = 0; k < 20; k++)
      printf " local.get 0 i32.const %d i32.add i32.const %d i32.mul local.get 1 i32.xor local.set 1", i * 31 + k, k * 977 + 12345;
    print " local.get 1)";
  }
  print ")" }' > "$OUT/big.wat"
chmod a+r "$OUT/big.wat"

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d $DB <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
CREATE TYPE jsonkit_summary AS (kind text, size int, text text);
SET pg_wasm.max_wat_kb = 65536;
CREATE TABLE blobs AS
SELECT 'jsonkit' AS name, pg_read_binary_file('$GUESTS/jsonkit.wasm') AS bytes
UNION ALL
SELECT 'big', wasm.wat_to_wasm(pg_read_file('$PWD/$OUT/big.wat'));
SELECT count(*) FROM wasm.load('jsonkit', (SELECT bytes FROM blobs WHERE name = 'jsonkit'), '{"prefix": "jk_"}');
SELECT count(*) FROM wasm.load('big', (SELECT bytes FROM blobs WHERE name = 'big'), '{"functions": {"f0": {}}}');
-- 20 modules with jsonkit's code, each made distinct by a custom section.
SELECT count(*) FROM generate_series(1, 20) i,
  wasm.load('m' || i, (SELECT bytes FROM blobs WHERE name = 'jsonkit')
                       || decode('000401' || '78' || lpad(to_hex(i), 4, '0'), 'hex'),
            '{"functions": {"normalize_name": {"args": ["text"], "returns": "text"}}}');
CREATE TABLE names AS SELECT '  grace   HOPPER ' || g AS n FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE names;
SQL
"${PSQL[@]}" -d $DB -At -c "SELECT 'module sizes (bytes): ' || string_agg(name || ' ' || size, ', ') FROM wasm.modules WHERE name IN ('jsonkit', 'big')"

# The "Time:" figures of one new connection running the given statements.
times() {
  "${PSQL[@]}" -d $DB -At -c '\timing on' "$@" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tr '\n' ' '
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
clear_all() { "${PSQL[@]}" -d $DB -At -c 'SELECT wasm.clear_cache(true)' >/dev/null; }

: > "$CSV"
record() { echo "$1,$2" >> "$CSV"; printf "%-44s %10.2f %s\n" "$1" "$2" "${3:-ms}"; }

declare -A CALL=([jsonkit]="SELECT jk_normalize_name('  grace   HOPPER ')" [big]="SELECT big_f0(1)")
for module in jsonkit big; do
  declare -a load_ms=() select1=() warm=() cold=()
  for r in $(seq 1 "$ROUNDS"); do
    read -r l s f <<< "$(times -c "LOAD 'pg_wasm'" -c 'SELECT 1' -c "${CALL[$module]}")"
    load_ms+=("$l"); select1+=("$s"); warm+=("$f")
    clear_all
    read -r l s f <<< "$(times -c "LOAD 'pg_wasm'" -c 'SELECT 1' -c "${CALL[$module]}")"
    cold+=("$f")
  done
  record "first call $module, artifact stored" "$(echo "${warm[@]}" | median)"
  record "first call $module, compiled (no artifact)" "$(echo "${cold[@]}" | median)"
  [ "$module" = jsonkit ] && record "LOAD 'pg_wasm' (library)" "$(echo "${load_ms[@]}" | median)" \
                         && record "SELECT 1 (round trip)" "$(echo "${select1[@]}" | median)"
done

for module in jsonkit big; do
  declare -a loads=()
  for r in $(seq 1 $(( ROUNDS < 5 ? ROUNDS : 5 ))); do
    read -r _ ms _ <<< "$(times -c "SELECT wasm.unload('t_$module', true) FROM wasm.modules WHERE name = 't_$module'" \
      -c "SELECT count(*) FROM wasm.load('t_$module', (SELECT bytes FROM blobs WHERE name = '$module'), '{\"functions\": {}}')" \
      -c "SELECT wasm.unload('t_$module', true)")"
    loads+=("$ms")
  done
  record "wasm.load $module" "$(echo "${loads[@]}" | median)"
done

PAR="SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
declare -a serial=() parallel=() cserial=() cparallel=()
for r in $(seq 1 "$ROUNDS"); do
  read -r _ s <<< "$(times -c 'SET max_parallel_workers_per_gather = 0' -c 'SELECT count(jk_normalize_name(n)) FROM names')"
  read -r _ _ p <<< "$(times -c "$PAR" -c 'SET max_parallel_workers_per_gather = 2' -c 'SELECT count(jk_normalize_name(n)) FROM names')"
  read -r _ cs <<< "$(times -c 'SET max_parallel_workers_per_gather = 0' -c 'SELECT count(upper(n)) FROM names')"
  read -r _ _ cp <<< "$(times -c "$PAR" -c 'SET max_parallel_workers_per_gather = 2' -c 'SELECT count(upper(n)) FROM names')"
  serial+=("$s"); parallel+=("$p"); cserial+=("$cs"); cparallel+=("$cp")
done
workers=$("${PSQL[@]}" -d $DB -At -c "$PAR" -c 'SET max_parallel_workers_per_gather = 2' \
  -c 'EXPLAIN (ANALYZE, COSTS OFF) SELECT count(jk_normalize_name(n)) FROM names' | sed -n 's/.*Workers Launched: \([0-9]*\).*/\1/p')
s=$(echo "${serial[@]}" | median); p=$(echo "${parallel[@]}" | median)
cs=$(echo "${cserial[@]}" | median); cp=$(echo "${cparallel[@]}" | median)
record "$ROWS rows, serial" "$s"
record "$ROWS rows, $workers workers launched" "$p"
record "parallel / serial, wasm jk_normalize_name" "$(awk -v p="$p" -v s="$s" 'BEGIN {print p / s}')" "x"
record "upper() $ROWS rows, serial" "$cs"
record "upper() $ROWS rows, 2 workers" "$cp"
record "parallel / serial, built-in upper()" "$(awk -v p="$cp" -v s="$cs" 'BEGIN {print p / s}')" "x"

# Memory: two backends call one function of each of the 20 modules; the
# second reports its RSS and PSS (shared pages count half in PSS).
mem_case() {
  local calls="" i
  for i in $(seq 1 20); do calls+="SELECT m${i}_normalize_name('x');"; done
  # Artifacts exist before the case (the first-call rounds cleared them).
  "${PSQL[@]}" -d $DB -At -c "$calls" >/dev/null
  "${PSQL[@]}" -d $DB -At -c "${MEM_SET:-SELECT 1}" -c "$calls" -c 'SELECT pg_sleep(8)' >/dev/null &
  sleep 4  # long enough for 20 compiles when artifacts are off
  "${PSQL[@]}" -d $DB -At -c "${MEM_SET:-SELECT 1}" -c "$calls" -c "SELECT
      (substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') from 'VmRSS:\\s+(\\d+)')::int / 1024.0)::numeric(10,1) || ' ' ||
      (substring(pg_read_file('/proc/' || pg_backend_pid() || '/smaps_rollup') from 'Pss:\\s+(\\d+)')::int / 1024.0)::numeric(10,1)" | tail -1
  wait
}
read -r rss pss <<< "$(mem_case)"
record "RSS MB, 20 modules, artifacts" "$rss" MB
record "PSS MB, 20 modules, artifacts" "$pss" MB
MEM_SET="SET pg_wasm.compiled_artifacts = off;"
read -r rss pss <<< "$(mem_case)"
record "RSS MB, 20 modules, compiled per backend" "$rss" MB
record "PSS MB, 20 modules, compiled per backend" "$pss" MB
echo "(machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $("${PSQL[@]}" -d $DB -At -c 'SHOW server_version'); csv: $CSV)"
