#!/usr/bin/env bash
# What a build-time warm-up saves a component's statements: the example
# JavaScript and Python components call their text rules at their top level
# (run once when componentize-js/componentize-py snapshot the engine), so
# the snapshot holds the compiled functions and regular expressions. This
# builds each a second time without those lines and runs one call per
# statement of both with pgbench (1 client, prepared, warm connection),
# SECONDS per run, ROUNDS interleaved rounds, medians.
#   benches/warmup.sh [seconds] [rounds]
# Writes target/bench/warmup.csv (component,build,ms_per_statement).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
ROUNDS=${2:-3}
PSQL=(scripts/cluster.sh psql -X -q -v ON_ERROR_STOP=1)
GUESTS=${PG_WASM_GUESTS:-$PWD/target/guests}
DB=pg_wasm_bench_warmup
OUT=target/bench
CSV=$OUT/warmup.csv
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBENCH="$("$PG_CONFIG" --bindir)/pgbench"
HOST=${PG_WASM_CLUSTER:-/tmp/pg_wasm_cluster}
PORT=${PG_WASM_PORT:-28815}
mkdir -p "$OUT"
work=$(mktemp -d)
chmod 755 "$work"  # the server reads the builds
trap 'rm -rf "$work"' EXIT

# The same sources up to their "Warm-up" comment.
cp -r guest-examples/js-tenant "$work/js"
rm -rf "$work/js/node_modules"
ln -s "$PWD/guest-examples/js-tenant/node_modules" "$work/js/node_modules"
sed -i '/^\/\/ Warm-up\./,$d' "$work/js/rules.js"
(cd "$work/js" && node build.mjs "$work/js_cold.wasm" >/dev/null)
cp -rL guest-examples/py-pricing "$work/py"
sed -i '/^# Warm-up\./,$d' "$work/py/app.py"
world=$(sed -n 's/^world \([a-z0-9-]*\).*/\1/p' "$work"/py/wit/*.wit | head -1)
venv=$PWD/target/componentize-py
(cd "$work/py" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/componentize-py" \
  -d wit -w "$world" componentize app -o "$work/py_cold.wasm" >/dev/null)
cmp -s "$work/js_cold.wasm" "$GUESTS/js_tenant.wasm" && { echo "warmup.sh: no warm-up in js-tenant" >&2; exit 1; }

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d $DB <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
SELECT count(*) FROM wasm.load('jswarm', pg_read_binary_file('$GUESTS/js_tenant.wasm'));
SELECT count(*) FROM wasm.load('jscold', pg_read_binary_file('$work/js_cold.wasm'));
SELECT count(*) FROM wasm.load('pywarm', pg_read_binary_file('$GUESTS/py_pricing.wasm'));
SELECT count(*) FROM wasm.load('pycold', pg_read_binary_file('$work/py_cold.wasm'));
SQL
# Both builds answer the same.
for m in jswarm jscold pywarm pycold; do
  "${PSQL[@]}" -d $DB -At -c "SELECT ${m}_slugify('Crème Brûlée, Déjà Vu № 7')" | grep -qx 'creme-brulee-deja-vu-7' \
    || { echo "warmup.sh: $m slugify gives another answer" >&2; exit 1; }
done

echo "component,build,ms_per_statement" > "$CSV"
for round in $(seq 1 "$ROUNDS"); do
  for m in jswarm jscold pywarm pycold; do
    printf '\\set i random(1, 1000000)\nSELECT %s_slugify(%s);\n' "$m" "'Crème Brûlée, Déjà Vu № ' || :i" > "$work/$m.sql"
    tps=$("$PGBENCH" -h "$HOST" -p "$PORT" -U postgres -n -T "$SECONDS_PER_RUN" -c 1 -j 1 -M prepared \
            -f "$work/$m.sql" $DB 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    lang=${m:0:2}; build=${m:2}
    echo "$lang,$build,$(awk -v t="$tps" 'BEGIN {printf "%.3f", 1000 / t}')" >> "$CSV"
  done
done
median() { grep "^$1,$2," "$CSV" | cut -d, -f3 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-12s %14s %14s %8s\n" "slugify" "no warm-up" "warmed up" "ratio"
for lang in js py; do
  c=$(median $lang cold); w=$(median $lang warm)
  printf "%-12s %11s ms %11s ms %8.2f\n" "$lang" "$c" "$w" "$(awk -v c="$c" -v w="$w" 'BEGIN {print w / c}')"
done
echo "(ms a statement, median of $ROUNDS; 1 client, prepared; $(nproc) cores)"
