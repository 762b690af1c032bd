#!/usr/bin/env bash
# Components (SPEC §10): slugify per row in a JavaScript, a Python and a
# Rust component, a Rust core module (jsonkit, the pg_wasm SDK) and
# LANGUAGE javascript (SPEC §15),
# against PL/pgSQL, PL/Python and the same rule in built-in
# SQL functions; each component's wasm.load time, its first call in a
# brand-new connection (artifact stored, and compiled when there is none)
# and a backend's memory after one call; WIT records per row and as the
# rows of a set-returning export. Medians over ROUNDS; times are psql's
# \timing (client round trip included). Writes target/bench/components.csv.
#   benches/components.sh [rounds] [rows] [parts]      (make bench)
# parts: any of "slugify records load first memory" (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
ROWS=${2:-100000}
PARTS=" ${3:-slugify records load first memory} "
part() { [[ "$PARTS" == *" $1 "* ]]; }
GUESTS=${PG_WASM_GUESTS:-$PWD/target/guests}
OUT=target/bench
mkdir -p "$OUT"
CSV=$OUT/components.csv
PSQL=(scripts/cluster.sh psql -X -q -v ON_ERROR_STOP=1)
DB=pg_wasm_components

# The same rule everywhere: lower case, Latin diacritics folded, every run
# of other characters one dash, no dash at either end.
FROM='àáâãäåāçćčèéêëēėìíîïīñńòóôõöøōśšùúûüūýÿźżž'
TO='aaaaaaaccceeeeeeiiiiinnooooooossuuuuuyyzzz'

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d $DB <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
CREATE TABLE blobs AS
  SELECT 'JavaScript' AS lang, pg_read_binary_file('$GUESTS/js_tenant.wasm') AS bytes
  UNION ALL SELECT 'Python', pg_read_binary_file('$GUESTS/py_pricing.wasm')
  UNION ALL SELECT 'Rust', pg_read_binary_file('$GUESTS/orders.wasm');
SELECT count(*) FROM wasm.load('tenant', (SELECT bytes FROM blobs WHERE lang = 'JavaScript'));
SELECT count(*) FROM wasm.load('pricing', (SELECT bytes FROM blobs WHERE lang = 'Python'));
SELECT count(*) FROM wasm.load('orders', (SELECT bytes FROM blobs WHERE lang = 'Rust'));
CREATE TYPE jsonkit_summary AS (kind text, size int, text text);
SELECT count(*) FROM wasm.load('jsonkit', pg_read_binary_file('$GUESTS/jsonkit.wasm'));
CREATE FUNCTION plpgsql_slugify(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS \$\$
BEGIN
  RETURN trim(both '-' from regexp_replace(translate(lower(t), '$FROM', '$TO'), '[^a-z0-9]+', '-', 'g'));
END \$\$;
CREATE FUNCTION js_slugify(t text) RETURNS text LANGUAGE javascript IMMUTABLE AS \$\$
  const from = '$FROM', to = '$TO';
  let folded = '';
  for (const ch of t.toLowerCase()) {
    if (ch < '\\u0080') { folded += ch; continue; }
    const k = from.indexOf(ch);
    folded += k >= 0 ? to[k] : ch;
  }
  return folded.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+\$/g, '');
\$\$;
CREATE TABLE titles AS SELECT 'Crème Brûlée, Déjà Vu № ' || g AS t FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE titles;
CREATE FUNCTION lines_of(t text) RETURNS SETOF orders_order_line
  LANGUAGE wasm STRICT AS 'orders.parse-lines';
CREATE TABLE order_text AS
  SELECT string_agg(g || ' x SKU-' || g || ' @ 1.5', E'\n') AS t FROM generate_series(1, $ROWS) g;
SQL
python=no
if "${PSQL[@]}" -d $DB -c "CREATE EXTENSION plpython3u" 2>/dev/null; then
  python=yes
  "${PSQL[@]}" -d $DB <<SQL
CREATE FUNCTION py_slugify(t text) RETURNS text LANGUAGE plpython3u IMMUTABLE AS \$\$
import re
folded = t.lower().translate(str.maketrans('$FROM', '$TO'))
return re.sub('[^a-z0-9]+', '-', folded).strip('-')
\$\$;
SQL
fi
# Every version gives the same answers.
part slugify && for f in tenant_slugify pricing_slugify orders_slugify jsonkit_slugify js_slugify; do
  "${PSQL[@]}" -d $DB -At -c "SELECT count(*) FROM titles WHERE $f(t) <> plpgsql_slugify(t)" \
    | grep -qx 0 || { echo "components.sh: $f and the PL/pgSQL slugify disagree" >&2; exit 1; }
done

times() {
  "${PSQL[@]}" -d $DB -At -c '\timing on' "$@" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tr '\n' ' '
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: > "$CSV"
record() { echo "$1,$2" >> "$CSV"; printf "%-52s %10.2f %s\n" "$1" "$2" "${3:-ms}"; }

declare -A QUERY=(
  [JavaScript component]="SELECT count(tenant_slugify(t)) FROM titles"
  [Python component]="SELECT count(pricing_slugify(t)) FROM titles"
  [Rust component]="SELECT count(orders_slugify(t)) FROM titles"
  [Rust core module]="SELECT count(jsonkit_slugify(t)) FROM titles"
  [PL/pgSQL]="SELECT count(plpgsql_slugify(t)) FROM titles"
  [LANGUAGE javascript]="SELECT count(js_slugify(t)) FROM titles"
  [built-in lower/translate/regexp_replace]="SELECT count(trim(both '-' from regexp_replace(translate(lower(t), '$FROM', '$TO'), '[^a-z0-9]+', '-', 'g'))) FROM titles"
)
[ "$python" = yes ] && QUERY[PL/Python]="SELECT count(py_slugify(t)) FROM titles"
part slugify && for name in "built-in lower/translate/regexp_replace" "PL/pgSQL" "PL/Python" \
            "Rust core module" "Rust component" "LANGUAGE javascript" "JavaScript component" "Python component"; do
  [ -n "${QUERY[$name]:-}" ] || { echo "($name: not installed, skipped)"; continue; }
  declare -a ms=()
  for r in $(seq 1 "$ROUNDS"); do
    # Warm: the same connection ran the query once before.
    read -r _ t <<< "$(times -c "${QUERY[$name]}" -c "${QUERY[$name]}")"
    ms+=("$t")
  done
  m=$(echo "${ms[@]}" | median)
  record "slugify $ROWS rows, $name" "$m"
  record "  per row, $name" "$(awk -v m="$m" -v n="$ROWS" 'BEGIN {print m * 1000 / n}')" "us"
done

# A WIT record out of one export and into another, per row: the Rust
# component's parse-line (text -> option<order-line>) and line-total
# (order-line -> f64); rows are built and read column by column.
LINES="SELECT sum(orders_line_total(orders_parse_line(g || ' x SKU-' || g || ' @ 1.5'))) FROM generate_series(1, $ROWS) g"
# The same records as the rows of one call: parse-lines (text ->
# list<order-line>) declared RETURNS SETOF orders_order_line.
SETOF="SELECT sum(qty::float8 * price) FROM order_text, lines_of(t)"
expected=$(awk -v n="$ROWS" 'BEGIN {printf "%.0f", n * (n + 1) / 2 * 1.5}')
if part records; then
  for q in "$LINES" "$SETOF"; do
    "${PSQL[@]}" -d $DB -At -c "$q" | grep -qx "$expected" \
      || { echo "components.sh: a record query gives a wrong sum: $q" >&2; exit 1; }
  done
  for q in LINES SETOF; do
    declare -a ms=()
    for r in $(seq 1 "$ROUNDS"); do
      read -r _ t <<< "$(times -c "${!q}" -c "${!q}")"
      ms+=("$t")
    done
    m=$(echo "${ms[@]}" | median)
    if [ $q = LINES ]; then
      record "record out and in, $ROWS rows, Rust component" "$m"
      record "  per row (two calls, one record each way)" "$(awk -v m="$m" -v n="$ROWS" 'BEGIN {print m * 1000 / n}')" "us"
    else
      record "SETOF records, one call, $ROWS rows, Rust component" "$m"
      record "  per row" "$(awk -v m="$m" -v n="$ROWS" 'BEGIN {print m * 1000 / n}')" "us"
    fi
  done
fi

declare -A SIZE=([JavaScript]="12 MB" [Python]="18 MB" [Rust]="50 KB")
declare -A CALL=([JavaScript]="tenant_slugify" [Python]="pricing_slugify" [Rust]="orders_slugify")
part load && for lang in JavaScript Python Rust; do
  declare -a loads=()
  for r in 1 2 3; do
    # no artifact (a load of code already compiled would map it): compiles
    read -r _ _ ms _ <<< "$(times -c "SELECT wasm.unload('t2', true) FROM wasm.modules WHERE name = 't2'" \
      -c "SELECT wasm.clear_cache(true)" \
      -c "SELECT count(*) FROM wasm.load('t2', (SELECT bytes FROM blobs WHERE lang = '$lang'), '{\"functions\": {}}')" \
      -c "SELECT wasm.unload('t2', true)")"
    loads+=("$ms")
  done
  record "wasm.load of the $lang component (${SIZE[$lang]})" "$(echo "${loads[@]}" | median)"
done

part first && for lang in JavaScript Python Rust; do
  "${PSQL[@]}" -d $DB -At -c "SELECT ${CALL[$lang]}('stores the artifact again')" >/dev/null
done
part first && for lang in JavaScript Python Rust; do
  declare -a warm=()
  for r in $(seq 1 "$ROUNDS"); do
    read -r _ f <<< "$(times -c "LOAD 'pg_wasm'" -c "SELECT ${CALL[$lang]}('First Call')")"
    warm+=("$f")
  done
  record "first call in a new connection, $lang, artifact stored" "$(echo "${warm[@]}" | median)"
done
part first && "${PSQL[@]}" -d $DB -At -c 'SELECT wasm.clear_cache(true)' >/dev/null
part first && for lang in JavaScript Python Rust; do
  read -r _ cold <<< "$(times -c "LOAD 'pg_wasm'" -c "SELECT ${CALL[$lang]}('First Call')")"
  record "first call in a new connection, $lang, compiled (no artifact)" "$cold"
done

rss() { echo "(substring(pg_read_file('/proc/' || pg_backend_pid() || '/$1') from '$2:\\s+(\\d+)')::int / 1024.0)::numeric(10,1)"; }
part memory && for lang in JavaScript Python Rust; do
  read -r before _ after pss <<< "$("${PSQL[@]}" -d $DB -At -c "LOAD 'pg_wasm'" \
    -c "SELECT $(rss status VmRSS)" -c "SELECT ${CALL[$lang]}('x')" \
    -c "SELECT $(rss status VmRSS) || ' ' || $(rss smaps_rollup Pss)" | tr '\n' ' ')"
  record "$lang: backend RSS before the first call" "$before" MB
  record "$lang: backend RSS after one call (one instance)" "$after" MB
  record "$lang: backend PSS after one call" "$pss" MB
done
echo "(machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $("${PSQL[@]}" -d $DB -At -c 'SHOW server_version'); componentize-js 0.23.0, componentize-py 0.25.1, wit-bindgen 0.57; csv: $CSV)"
