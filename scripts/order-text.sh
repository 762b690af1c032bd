#!/usr/bin/env bash
# The functions of pg_wasm.so a connection runs first, listed for the linker
# (link/first-call.order; build.rs passes it to LLD). A new backend maps the
# library's text page by page as its first call runs through it and tears
# the mapping down at exit; with these functions placed together it maps
# about 1.7 MB of text instead of 7.5 MB (docs/benchmarks.md, "A new
# connection's text").
#
#   scripts/order-text.sh          profile the installed build and rewrite
#                                  link/first-call.order (needs perf, the
#                                  test cluster running and the guests built)
#   scripts/order-text.sh --check  how many of the file's functions the
#                                  installed pg_wasm.so has (make install
#                                  warns when fewer than 80 %; PostgreSQL
#                                  15's build, which it profiles)
#
# How: pgbench runs each statement of benches/oltp_setup.sh's database over
# new connections (-C) and then over one warm connection, while perf samples
# every backend's user-space code with call chains; every function of
# pg_wasm.so seen on a sample's stack goes in the file, most often seen
# first. Rust's symbol names carry a hash of the crate's build settings: a
# new version of a dependency, or of pg_wasm itself, renames its functions,
# and the file then orders fewer of them (a slower new connection, nothing
# worse). Run this after such a change.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDER=link/first-call.order
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SO="$("$PG_CONFIG" --pkglibdir)/pg_wasm.so"

# The names the built library defines, one a line, sorted.
defined_names() { nm --defined-only "$SO" | awk '{print $3}' | sort -u; }

# Percent of the order file's names the built library defines.
coverage() {
  local names
  names=$(mktemp)
  defined_names > "$names"
  sort -u "$ORDER" | comm -12 - "$names" | wc -l |
    awk -v all="$(sort -u "$ORDER" | wc -l)" '{print (all ? int(100 * $1 / all) : 0)}'
  rm -f "$names"
}

if [ "${1:-}" = --check ]; then
  [ -f "$SO" ] && [ -f "$ORDER" ] || exit 0
  # The file is profiled on PostgreSQL 15's build (make install's default):
  # other versions build pgrx, and so the generic code pg_wasm instantiates,
  # under other names, and keep about half of it ordered.
  "$PG_CONFIG" --version | grep -q '^PostgreSQL 15\.' || exit 0
  have=$(coverage)
  if [ "$have" -lt 80 ]; then
    echo "warning: $SO has only $have % of the functions $ORDER lists;" \
      "a new connection maps more code than it needs: run scripts/order-text.sh" >&2
  fi
  exit 0
fi

command -v perf > /dev/null || { echo "order-text.sh: needs perf" >&2; exit 1; }
PSQL=(scripts/cluster.sh psql -X -q -v ON_ERROR_STOP=1)
GUESTS=${PG_WASM_GUESTS:-$PWD/target/guests}
DB=pg_wasm_order_text
HOST=${PG_WASM_CLUSTER:-/tmp/pg_wasm_cluster}
PORT=${PG_WASM_PORT:-28815}
PGBENCH="$("$PG_CONFIG" --bindir)/pgbench"
SECONDS_PER_RUN=${ORDER_SECONDS:-5}
# shellcheck source=benches/oltp_setup.sh
source benches/oltp_setup.sh > /dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
for stmt in "SELECT m_add(:i, 1);" \
  "SELECT jsonkit_slugify('Crème Brûlée ' || :i);" \
  "INSERT INTO p_wasm (id, first_name, last_name) VALUES (:i, 'First', 'Last Name');" \
  "SELECT js_add(:i, 1);" \
  "SELECT js_slugify('Crème Brûlée ' || :i);" \
  "INSERT INTO p_js (id, first_name, last_name) VALUES (:i, 'First', 'Last Name');" \
  "SELECT python_add(:i, 1);" \
  "SELECT tenant_slugify('Crème Brûlée ' || :i);" \
  "SELECT pricing_slugify('Crème Brûlée ' || :i);"; do
  n=$((n + 1))
  printf '\\set i random(1, 1000000)\n%s\n' "$stmt" > "$work/$n.sql"
done
bench() { "$PGBENCH" -h "$HOST" -p "$PORT" -U postgres -n -c 1 "$@" $DB > /dev/null; }
export -f bench
export PGBENCH HOST PORT DB

data=$(scripts/cluster.sh psql -X -At -d postgres -c "SHOW data_directory")
postmaster=$(head -1 "$data/postmaster.pid")
grep -q 'pg_wasm\.so' "/proc/$postmaster/maps" || {
  echo "order-text.sh: the cluster must preload pg_wasm (shared_preload_libraries)" >&2; exit 1; }
echo "order-text.sh: profiling $n statements, about $((n * (SECONDS_PER_RUN + 3))) s"
# Where a first call first touches a page of the library's code: the page
# faults of 20 new connections a statement (every backend maps the library
# where the postmaster did).
perf record -q -o "$work/faults.data" -e exceptions:page_fault_user -a -- \
  bash -c "for f in $work/*.sql; do bench -C -t 20 -f \$f; done" > /dev/null 2>&1
# What runs: call chains of every backend, new connections and a warm one.
perf record -q -o "$work/perf.data" -e cpu-clock:u -F 4000 --call-graph dwarf,16384 -a -- \
  bash -c "for f in $work/*.sql; do bench -T $SECONDS_PER_RUN -C -f \$f; bench -T 2 -M prepared -f \$f; done" \
  > /dev/null 2>&1
perf script -i "$work/perf.data" --no-inline --no-demangle -F ip,sym,dso 2> /dev/null |
  awk '$3 ~ /pg_wasm\.so/ && $2 != "[unknown]" {print $2}' | sort | uniq -c | sort -k1,1nr -k2 |
  awk '{print $2}' > "$work/sampled"
[ -s "$work/sampled" ] || { echo "order-text.sh: perf saw no pg_wasm.so code" >&2; exit 1; }
perf script -i "$work/faults.data" -F comm,trace 2> /dev/null |
  python3 scripts/order_text_faults.py "$SO" "/proc/$postmaster/maps" > "$work/faulted"
# Sampled first, then what only a fault showed, then what the file had that
# this build still defines (a function runs rarely enough to be missed by
# one profile but not by the next): running this twice, with a rebuild in
# between, converges.
defined_names > "$work/defined"
cat "$work/sampled" "$work/faulted" "$ORDER" 2> /dev/null | awk '!seen[$0]++' |
  grep -Fxf "$work/defined" > "$work/order"
mv "$work/order" "$ORDER"
"${PSQL[@]}" -d postgres -c "DROP DATABASE $DB"
echo "order-text.sh: $(wc -l < "$ORDER") functions in $ORDER ($(coverage) % in this build);" \
  "rebuild (make install) to link them together"
