#!/usr/bin/env bash
# One call per statement, the shape of most OLTP work: pgbench runs one
# statement per transaction that calls a function once (a point query) or
# inserts one row through a BEFORE ROW trigger, for a wasm function and the
# same logic in PL/pgSQL (and in LANGUAGE javascript and python, PL/Python, and the
# JavaScript and Python components for slugify). Warm connections with the simple and the prepared
# protocol, 1 and 2 clients, and a new connection per transaction (-C);
# SECONDS per run, ROUNDS rounds with the cases interleaved, the median tps
# of each, and the ratio to PL/pgSQL doing the same in the same mode (the
# median over the rounds of each round's ratio).
#   benches/oltp.sh [seconds] [rounds]        (make bench)
# Writes target/bench/oltp.csv (case,mode,tps), oltp_conn_cpu.csv (CPU a
# new connection), oltp_cpu.csv (backend CPU a statement) and
# oltp_memory.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
ROUNDS=${2:-3}
PSQL=(scripts/cluster.sh psql -X -q -v ON_ERROR_STOP=1)
GUESTS=${PG_WASM_GUESTS:-$PWD/target/guests}
DB=pg_wasm_bench_oltp
OUT=target/bench
mkdir -p "$OUT"
CSV=$OUT/oltp.csv
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBENCH="$("$PG_CONFIG" --bindir)/pgbench"
HOST=${PG_WASM_CLUSTER:-/tmp/pg_wasm_cluster}
PORT=${PG_WASM_PORT:-28815}

# shellcheck source=benches/oltp_setup.sh
source benches/oltp_setup.sh

# Every slugify gives the same answer.
for f in jsonkit_slugify tenant_slugify pricing_slugify js_slugify python_slugify; do
  "${PSQL[@]}" -d $DB -At -c "SELECT $f('Crème Brûlée, Déjà Vu № 7') = plpgsql_slugify('Crème Brûlée, Déjà Vu № 7')" \
    | grep -qx t || { echo "oltp.sh: $f and the PL/pgSQL slugify disagree" >&2; exit 1; }
done

scripts=$(mktemp -d)
trap 'rm -rf "$scripts"' EXIT
# case name, statement (with :i)
declare -A STMT=(
  [add/wasm]="SELECT m_add(:i, 1);"
  [add/plpgsql]="SELECT plpgsql_add(:i, 1);"
  [add/javascript]="SELECT js_add(:i, 1);"
  [add/python]="SELECT python_add(:i, 1);"
  [slugify/python]="SELECT python_slugify('Crème Brûlée, Déjà Vu № ' || :i);"
  [slugify/javascript]="SELECT js_slugify('Crème Brûlée, Déjà Vu № ' || :i);"
  [insert/javascript-trigger]="INSERT INTO p_js (id, first_name, last_name) VALUES (:i, 'First', 'Last Name');"
  [slugify/wasm-rust]="SELECT jsonkit_slugify('Crème Brûlée, Déjà Vu № ' || :i);"
  [slugify/plpgsql]="SELECT plpgsql_slugify('Crème Brûlée, Déjà Vu № ' || :i);"
  [slugify/js-component]="SELECT tenant_slugify('Crème Brûlée, Déjà Vu № ' || :i);"
  [slugify/py-component]="SELECT pricing_slugify('Crème Brûlée, Déjà Vu № ' || :i);"
  [insert/wasm-trigger]="INSERT INTO p_wasm (id, first_name, last_name) VALUES (:i, 'First', 'Last Name');"
  [insert/plpgsql-trigger]="INSERT INTO p_plpgsql (id, first_name, last_name) VALUES (:i, 'First', 'Last Name');"
)
[ "$plpython" = yes ] && STMT[slugify/plpython]="SELECT py_slugify('Crème Brûlée, Déjà Vu № ' || :i);"
CASES=(add/wasm add/javascript add/python add/plpgsql slugify/wasm-rust slugify/javascript
       slugify/python slugify/plpgsql slugify/js-component slugify/py-component insert/wasm-trigger
       insert/javascript-trigger insert/plpgsql-trigger)
[ "$plpython" = yes ] && CASES+=(slugify/plpython)
# mode name, pgbench options
declare -A MODE=(
  [1c-simple]="-c 1 -j 1 -M simple"
  [1c-prepared]="-c 1 -j 1 -M prepared"
  [2c-prepared]="-c 2 -j 2 -M prepared"
  [1c-new-conn]="-c 1 -j 1 -M simple -C"
  [1c-prepared-immediately]="-c 1 -j 1 -M prepared"
  [2c-prepared-immediately]="-c 2 -j 2 -M prepared"
  [1c-prepared-after_reply]="-c 1 -j 1 -M prepared"
  [2c-prepared-after_reply]="-c 2 -j 2 -M prepared"
  [1c-prepared-thread]="-c 1 -j 1 -M prepared"
  [2c-prepared-thread]="-c 2 -j 2 -M prepared"
  [1c-prepared-noimage]="-c 1 -j 1 -M prepared"
  [2c-prepared-noimage]="-c 2 -j 2 -M prepared"
)
# Settings a mode's sessions get (PGOPTIONS): the suffix is the
# pg_wasm.reset_slots value (when a finished instance's pool slot is reset:
# immediately, after_reply — the default — or on a helper thread); compare
# them in one run with
#   OLTP_MODES="1c-prepared-immediately 1c-prepared-after_reply 2c-prepared-immediately 2c-prepared-after_reply"
# (benches/results/oltp-reset-in-background.csv, of an earlier build, named
# them -inline and -bg: immediately and thread.) The -noimage modes turn
# pg_wasm.function_images off: JavaScript and Python statements load their
# function into the engine's image instead of starting from their own.
declare -A MODE_SETTINGS=(
  [1c-prepared-immediately]="-c pg_wasm.reset_slots=immediately"
  [2c-prepared-immediately]="-c pg_wasm.reset_slots=immediately"
  [1c-prepared-after_reply]="-c pg_wasm.reset_slots=after_reply"
  [2c-prepared-after_reply]="-c pg_wasm.reset_slots=after_reply"
  [1c-prepared-thread]="-c pg_wasm.reset_slots=thread"
  [2c-prepared-thread]="-c pg_wasm.reset_slots=thread"
  [1c-prepared-noimage]="-c pg_wasm.function_images=off"
  [2c-prepared-noimage]="-c pg_wasm.function_images=off"
)
MODES=(1c-simple 1c-prepared 2c-prepared 1c-new-conn)
# OLTP_CASES / OLTP_MODES (space-separated) run a subset, e.g.
#   OLTP_CASES="add/wasm add/plpgsql" OLTP_MODES=1c-prepared benches/oltp.sh 3 3
[ -n "${OLTP_CASES:-}" ] && read -r -a CASES <<< "$OLTP_CASES"
[ -n "${OLTP_MODES:-}" ] && read -r -a MODES <<< "$OLTP_MODES"

for c in "${CASES[@]}"; do
  f=$scripts/${c//\//_}.sql
  printf '\\set i random(1, 1000000)\n%s\n' "${STMT[$c]}" > "$f"
done

# OLTP_BUILDS="before=/path/a.so after=/path/b.so" compares builds of the
# extension in the same minutes: each round installs each build in turn
# (its pg_wasm.so, then a restart of the cluster) and runs every mode and
# case on it; a mode is reported once per build as MODE@LABEL, each with
# its own PL/pgSQL baseline. The last build stays installed; the sections
# after the tps table (which measure one build) are skipped.
BUILDS=("")
if [ -n "${OLTP_BUILDS:-}" ]; then
  read -r -a BUILDS <<< "$OLTP_BUILDS"
  for b in "${BUILDS[@]}"; do
    [ -f "${b#*=}" ] || { echo "oltp.sh: no build ${b#*=}" >&2; exit 1; }
  done
  all_modes=()
  for b in "${BUILDS[@]}"; do for mode in "${MODES[@]}"; do all_modes+=("$mode@${b%%=*}"); done; done
fi
install_build() { # label=path
  install -m 755 "${1#*=}" "$("$PG_CONFIG" --pkglibdir)/pg_wasm.so"
  scripts/cluster.sh restart > /dev/null
}

echo "case,mode,tps" > "$CSV"
for round in $(seq 1 "$ROUNDS"); do
  for build in "${BUILDS[@]}"; do
    [ -n "$build" ] && install_build "$build"
    for mode in "${MODES[@]}"; do
      label=$mode${build:+@${build%%=*}}
      for c in "${CASES[@]}"; do
        # shellcheck disable=SC2086
        tps=$(PGOPTIONS="${MODE_SETTINGS[$mode]:-}" "$PGBENCH" -h "$HOST" -p "$PORT" -U postgres -n -T "$SECONDS_PER_RUN" \
                ${MODE[$mode]} -f "$scripts/${c//\//_}.sql" $DB 2>/dev/null \
              | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
        echo "$c,$label,$tps" >> "$CSV"
      done
    done
  done
done
[ -n "${OLTP_BUILDS:-}" ] && MODES=("${all_modes[@]}")

# The PL/pgSQL case a case is compared with.
baseline() { if [ "${1%%/*}" = insert ]; then echo insert/plpgsql-trigger; else echo "${1%%/*}/plpgsql"; fi; }
median() { grep "^$1,$2," "$CSV" | cut -d, -f3 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# The ratio is the median of each round's ratio (case and baseline ran
# within the same minute of that round), not the ratio of the medians:
# this VM's speed moves by up to 2x between minutes, and pairing the two
# runs of a round cancels most of that drift. The CSV keeps every run.
ratio_median() { # case base mode
  paste -d' ' <(grep "^$1,$3," "$CSV" | cut -d, -f3) <(grep "^$2,$3," "$CSV" | cut -d, -f3) |
    awk '$2 > 0 {print $1 / $2}' | sort -g | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'
}
# Per-round measurements in a CSV of case,round,value lines: the median of
# a case's values, and the median over the rounds of a per-round
# expression of the case's value (a) and the baseline's (b).
case_median() { # csv case
  grep "^$2," "$1" | cut -d, -f3 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
paired_median() { # csv case base awk-expression-of-a-and-b
  join -t, <(grep "^$2," "$1" | cut -d, -f2,3 | sort) <(grep "^$3," "$1" | cut -d, -f2,3 | sort) |
    awk -F, "\$2 > 0 && \$3 > 0 {a = \$2; b = \$3; print $4}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
printf "%-26s" "tps (median of $ROUNDS)"
for mode in "${MODES[@]}"; do printf " %14s" "$mode"; done
echo
for c in "${CASES[@]}"; do
  base=$(baseline "$c")
  printf "%-26s" "$c"
  for mode in "${MODES[@]}"; do
    t=$(median "$c" "$mode")
    printf " %7.0f (%4.2f)" "$t" "$(ratio_median "$c" "$base" "$mode")"
  done
  echo
done
echo "(tps: median of the rounds; ratio in brackets: median over the rounds of tps / PL/pgSQL's tps in the same round and mode; $SECONDS_PER_RUN s per run; $(nproc) cores)"
[ -n "${OLTP_BUILDS:-}" ] && exit 0

# CPU a new connection: with -C one client leaves the machine half idle,
# so its tps follows how fast this VM wakes up that minute more than what
# a connection costs (five rounds of one case gave 166 to 338 tps). This
# counts the machine's busy CPU time (/proc/stat: user, nice, system, irq,
# softirq; not idle, iowait or steal) over a -C run of each core case and
# divides it by the connections made: fork, start-up, the first call,
# exit and pgbench's side, everything a connection costs. The difference
# to PL/pgSQL's is taken within each round, then the median. Writes
# target/bench/oltp_conn_cpu.csv (case,round,cpu_us). Only when the
# 1c-new-conn mode runs.
if [[ " ${MODES[*]} " == *" 1c-new-conn "* ]]; then
  CONN_CASES=()
  for c in add/wasm add/javascript add/plpgsql slugify/wasm-rust slugify/plpgsql insert/wasm-trigger insert/plpgsql-trigger; do
    [[ " ${CASES[*]} " == *" $c "* ]] && CONN_CASES+=("$c")
  done
  busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
  hz=$(getconf CLK_TCK)
  echo "case,round,cpu_us" > "$OUT/oltp_conn_cpu.csv"
  for round in $(seq 1 "$ROUNDS"); do
    for c in "${CONN_CASES[@]}"; do
      b0=$(busy)
      n=$("$PGBENCH" -h "$HOST" -p "$PORT" -U postgres -n -T "$SECONDS_PER_RUN" -c 1 -j 1 -M simple -C \
            -f "$scripts/${c//\//_}.sql" $DB 2>/dev/null | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
      b1=$(busy)
      echo "$c,$round,$(awk -v a="$b0" -v b="$b1" -v n="${n:-0}" -v hz="$hz" 'BEGIN { printf "%.0f", (n > 0 ? (b - a) * 1e6 / hz / n : 0) }')" >> "$OUT/oltp_conn_cpu.csv"
    done
  done
  echo
  echo "CPU a new connection (µs of the machine's busy time per connection with -C, median of $ROUNDS; $SECONDS_PER_RUN s per run)"
  printf "%-26s %10s %12s %12s %22s\n" case "µs" "PL/pgSQL µs" "+µs (paired)" "PL/pgSQL µs ÷ µs (paired)"
  for c in "${CONN_CASES[@]}"; do
    base=$(baseline "$c")
    printf "%-26s %10.0f %12.0f %+12.0f %22.2f\n" "$c" "$(case_median "$OUT/oltp_conn_cpu.csv" "$c")" \
      "$(case_median "$OUT/oltp_conn_cpu.csv" "$base")" "$(paired_median "$OUT/oltp_conn_cpu.csv" "$c" "$base" 'a - b')" \
      "$(paired_median "$OUT/oltp_conn_cpu.csv" "$c" "$base" 'b / a')"
  done
fi

# Private memory a backend adds by calling a function: a new connection
# calls the PL/pgSQL version once (its own start-up paid), then the wasm
# one once and 100 more times; /proc/<pid>/smaps_rollup's Pss_Anon (private
# anonymous memory, shared pages divided among their users) and
# Private_Dirty after each, as deltas from the PL/pgSQL baseline. The pool's
# idle slots are included (they are anonymous memory of the backend).
# Backend CPU a statement: the quantity two clients on two cores are
# bound by, without the round trip that one client's tps includes.
# One connection per case and round runs OLTP_CPU_STATEMENTS statements
# (simple protocol, a transaction each) after as many to warm up; the
# backend's CPU time over them from /proc/<pid>/schedstat (a slot's reset
# after each reply included) divided by their number. Median of ROUNDS,
# and the median of each round's difference to PL/pgSQL's. Writes
# target/bench/oltp_cpu.csv (case,round,cpu_us).
cpu_statements=${OLTP_CPU_STATEMENTS:-2000}
echo
echo "backend CPU a statement (µs, median of $ROUNDS; $cpu_statements statements, simple protocol)"
echo "case,round,cpu_us" > "$OUT/oltp_cpu.csv"
run_cpu() { # case -> µs of backend CPU a statement
  local c=$1 fifo pid c0 c1
  fifo=$(mktemp -u); mkfifo "$fifo"
  "${PSQL[@]}" -d $DB -At < "$fifo" > "$fifo.out" 2>&1 &
  exec 8> "$fifo"
  wait_cpu() { for _ in $(seq 1 600); do grep -qx "$1" "$fifo.out" 2>/dev/null && return; sleep 0.02; done; echo "oltp.sh: no $1 from psql ($c)" >&2; exit 1; }
  statements() { awk -v s="${STMT[$c]}" -v n="$cpu_statements" -v o="$1" \
    'BEGIN { for (k = 1; k <= n; k++) { t = s; gsub(/:i/, k + o, t); print t } }'; }
  echo "SELECT pg_backend_pid();" >&8
  statements 0 >&8
  echo "SELECT 'warm';" >&8; wait_cpu warm
  pid=$(head -1 "$fifo.out")
  c0=$(cut -d' ' -f1 "/proc/$pid/schedstat")
  statements "$cpu_statements" >&8
  echo "SELECT 'done';" >&8; wait_cpu done
  c1=$(cut -d' ' -f1 "/proc/$pid/schedstat")
  exec 8>&-; wait; rm -f "$fifo" "$fifo.out"
  awk -v a="$c0" -v b="$c1" -v n="$cpu_statements" 'BEGIN { printf "%.2f", (b - a) / n / 1000 }'
}
for round in $(seq 1 "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    echo "$c,$round,$(run_cpu "$c")" >> "$OUT/oltp_cpu.csv"
  done
done
# This VM's speed moves by up to 2x between minutes, so the difference to
# PL/pgSQL is taken within each round (the two ran seconds apart), and
# the median of those is shown.
printf "%-26s %10s %12s %24s\n" case "µs" "PL/pgSQL µs" "+µs (median, per round)"
for c in "${CASES[@]}"; do
  base=$(baseline "$c")
  printf "%-26s %10.1f %12.1f %+24.1f\n" "$c" "$(case_median "$OUT/oltp_cpu.csv" "$c")" \
    "$(case_median "$OUT/oltp_cpu.csv" "$base")" "$(paired_median "$OUT/oltp_cpu.csv" "$c" "$base" 'a - b')"
done

echo
echo "private memory a backend adds (kB; after 1 call, after 101 calls)"
printf "%-26s %16s %16s %18s\n" case Pss_Anon Private_Dirty "pool idle resident"
rollup() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/smaps_rollup"; }
declare -A MEMCALL=(
  [add/wasm]="SELECT m_add(1, 1)|SELECT plpgsql_add(1, 1)"
  [slugify/wasm-rust]="SELECT jsonkit_slugify('Crème Brûlée')|SELECT plpgsql_slugify('Crème Brûlée')"
  [insert/wasm-trigger]="INSERT INTO p_wasm VALUES (1, 'a', 'b')|INSERT INTO p_plpgsql VALUES (1, 'a', 'b')"
  [slugify/js-component]="SELECT tenant_slugify('Crème Brûlée')|SELECT plpgsql_slugify('Crème Brûlée')"
  [slugify/py-component]="SELECT pricing_slugify('Crème Brûlée')|SELECT plpgsql_slugify('Crème Brûlée')"
  [slugify/javascript]="SELECT js_slugify('Crème Brûlée')|SELECT plpgsql_slugify('Crème Brûlée')"
  [insert/javascript-trigger]="INSERT INTO p_js VALUES (1, 'a', 'b')|INSERT INTO p_plpgsql VALUES (1, 'a', 'b')"
  [slugify/python]="SELECT python_slugify('Crème Brûlée')|SELECT plpgsql_slugify('Crème Brûlée')"
)
echo "case,pss_anon_kb_1,private_dirty_kb_1,pss_anon_kb_101,private_dirty_kb_101,pool_idle_kb" > "$OUT/oltp_memory.csv"
for c in add/wasm slugify/wasm-rust insert/wasm-trigger slugify/javascript insert/javascript-trigger \
         slugify/python slugify/js-component slugify/py-component; do
  wasm=${MEMCALL[$c]%%|*}; base=${MEMCALL[$c]#*|}
  fifo=$(mktemp -u); mkfifo "$fifo"
  "${PSQL[@]}" -d $DB -At < "$fifo" > "$fifo.out" 2>&1 &
  exec 9> "$fifo"
  say() { echo "$1" >&9; }
  say "SELECT pg_backend_pid();"
  say "$base;"
  say "SELECT 'ready';"
  wait_for() { for _ in $(seq 1 200); do grep -qx "$1" "$fifo.out" 2>/dev/null && return; sleep 0.05; done; echo "oltp.sh: no $1 from psql" >&2; exit 1; }
  wait_for ready
  pid=$(head -1 "$fifo.out")
  a0=$(rollup "$pid" Pss_Anon); d0=$(rollup "$pid" Private_Dirty)
  say "$wasm;"; say "SELECT 'one';"; wait_for one
  a1=$(rollup "$pid" Pss_Anon); d1=$(rollup "$pid" Private_Dirty)
  for _ in $(seq 1 100); do say "$wasm;"; done
  say "SELECT 'many';"; wait_for many
  a2=$(rollup "$pid" Pss_Anon); d2=$(rollup "$pid" Private_Dirty)
  say "SELECT 'idle=' || idle_resident_kb FROM wasm.instance_pool();"
  for _ in $(seq 1 200); do grep -q "^idle=" "$fifo.out" && break; sleep 0.05; done
  idle=$(sed -n 's/^idle=//p' "$fifo.out")
  exec 9>&-; wait; rm -f "$fifo" "$fifo.out"
  printf "%-26s %7d %8d %7d %8d %18s\n" "$c" $((a1 - a0)) $((a2 - a0)) $((d1 - d0)) $((d2 - d0)) "$idle"
  echo "$c,$((a1 - a0)),$((d1 - d0)),$((a2 - a0)),$((d2 - d0)),$idle" >> "$OUT/oltp_memory.csv"
done
