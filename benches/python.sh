#!/usr/bin/env bash
# LANGUAGE python (SPEC §16) against PL/Python (plpython3u) and PL/pgSQL in
# the same run, with LANGUAGE javascript and the Python component
# (componentize-py, guest-examples) beside them; the same rule in each:
#   per row     `a + b` over 200 000 rows and the slugify of components.sh
#               over ROWS rows (medians of ROUNDS, warm connection);
#   per statement  pgbench, one call per transaction, prepared protocol,
#               1 and 2 clients (SECONDS each, median of ROUNDS);
#   first call  in a brand-new connection (psql's \timing of the call after
#               LOAD 'pg_wasm'; PL/Python starts its interpreter there);
#   CREATE FUNCTION  (the body compiled in the sandbox);
#   memory      private memory (smaps_rollup Pss_Anon) a backend adds with
#               one call, against the same backend after a PL/pgSQL call.
# Writes target/bench/python.csv (measure,language,value,unit).
#   benches/python.sh [rounds] [rows] [seconds]      (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
ROWS=${2:-100000}
SECONDS_PER_RUN=${3:-5}
PSQL=(scripts/cluster.sh psql -X -q -v ON_ERROR_STOP=1)
DB=pg_wasm_bench_python
GUESTS=${PG_WASM_GUESTS:-$PWD/target/guests}
OUT=target/bench
mkdir -p "$OUT"
CSV=$OUT/python.csv
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBENCH="$("$PG_CONFIG" --bindir)/pgbench"
HOST=${PG_WASM_CLUSTER:-/tmp/pg_wasm_cluster}
PORT=${PG_WASM_PORT:-28815}

FROM='àáâãäåāçćčèéêëēėìíîïīñńòóôõöøōśšùúûüūýÿźżž'
TO='aaaaaaaccceeeeeeiiiiinnooooooossuuuuuyyzzz'
SLUG_BODY="import re
folded = t.lower().translate(str.maketrans('$FROM', '$TO'))
return re.sub('[^a-z0-9]+', '-', folded).strip('-')"

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
  -c "ALTER DATABASE $DB SET synchronous_commit = off"
if ! "${PSQL[@]}" -d $DB -c "CREATE EXTENSION plpython3u" 2>/dev/null; then
  echo "python.sh: PL/Python (postgresql-plpython3-15) is not installed: no baseline" >&2
  exit 1
fi
"${PSQL[@]}" -d $DB <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
CREATE FUNCTION python_add(a int, b int) RETURNS int LANGUAGE python IMMUTABLE AS \$\$ return a + b \$\$;
CREATE FUNCTION plpython_add(a int, b int) RETURNS int LANGUAGE plpython3u IMMUTABLE AS \$\$ return a + b \$\$;
CREATE FUNCTION plpgsql_add(a int, b int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
  \$\$ BEGIN RETURN a + b; END \$\$;
CREATE FUNCTION python_slugify(t text) RETURNS text LANGUAGE python IMMUTABLE AS \$\$
$SLUG_BODY
\$\$;
CREATE FUNCTION plpython_slugify(t text) RETURNS text LANGUAGE plpython3u IMMUTABLE AS \$\$
$SLUG_BODY
\$\$;
CREATE FUNCTION plpgsql_slugify(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS \$\$
BEGIN
  RETURN trim(both '-' from regexp_replace(translate(lower(t), '$FROM', '$TO'), '[^a-z0-9]+', '-', 'g'));
END \$\$;
CREATE FUNCTION javascript_add(a int, b int) RETURNS int LANGUAGE javascript IMMUTABLE AS \$\$ return a + b; \$\$;
CREATE FUNCTION javascript_slugify(t text) RETURNS text LANGUAGE javascript IMMUTABLE AS \$\$
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
SQL
# The Python component of components.sh, when the guests are built.
SLUG_LANGS="python plpython plpgsql javascript"
if [ -f "$GUESTS/py_pricing.wasm" ]; then
  "${PSQL[@]}" -d $DB -c "SELECT count(*) FROM wasm.load('pricing', pg_read_binary_file('$GUESTS/py_pricing.wasm'))" >/dev/null
  SLUG_LANGS="$SLUG_LANGS py_component"
fi
# Each language's function (the component's export has its own name).
slug() { if [ "$1" = py_component ]; then echo pricing_slugify; else echo "${1}_slugify"; fi; }
# The same answers everywhere.
for f in $(for l in $SLUG_LANGS; do slug "$l"; done); do
  "${PSQL[@]}" -d $DB -At -c "SELECT count(*) FROM titles WHERE $f(t) <> plpgsql_slugify(t)" \
    | grep -qx 0 || { echo "python.sh: $f and the PL/pgSQL slugify disagree" >&2; exit 1; }
done

times() {
  "${PSQL[@]}" -d $DB -At -c '\timing on' "$@" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tr '\n' ' '
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "measure,language,value,unit" > "$CSV"
record() {
  echo "$1,$2,$3,$4" >> "$CSV"
  printf "%-34s %-12s %10.3f %s\n" "$1" "$2" "$3" "$4"
}

# Per row.
for shape in add slugify; do
  langs="python plpython plpgsql javascript"
  [ $shape = slugify ] && langs=$SLUG_LANGS
  for lang in $langs; do
    if [ $shape = add ]; then
      q="SELECT sum(${lang}_add(i, 1)) FROM generate_series(1, 200000) i"; n=200000
    else
      q="SELECT count($(slug "$lang")(t)) FROM titles"; n=$ROWS
    fi
    declare -a ms=()
    for r in $(seq 1 "$ROUNDS"); do
      read -r _ t <<< "$(times -c "$q" -c "$q")"
      ms+=("$t")
    done
    m=$(echo "${ms[@]}" | median)
    record "per row, $shape" "$lang" "$(awk -v m="$m" -v n="$n" 'BEGIN {print m * 1000 / n}')" us
  done
done

# Per statement (pgbench).
scripts=$(mktemp -d)
trap 'rm -rf "$scripts"' EXIT
for lang in python plpython plpgsql javascript py_component; do
  printf '\\set i random(1, 1000000)\nSELECT %s_add(:i, 1);\n' "$lang" > "$scripts/add_$lang.sql"
  printf '\\set i random(1, 1000000)\nSELECT %s(%s || :i);\n' "$(slug "$lang")" "'Crème Brûlée, Déjà Vu № '" \
    > "$scripts/slugify_$lang.sql"
done
for clients in 1 2; do
  for shape in add slugify; do
    declare -A tps=()
    langs="python plpython plpgsql javascript"
    [ $shape = slugify ] && langs=$SLUG_LANGS
    for r in $(seq 1 "$ROUNDS"); do
      for lang in $langs; do
        t=$("$PGBENCH" -h "$HOST" -p "$PORT" -U postgres -n -T "$SECONDS_PER_RUN" -c $clients -j $clients \
              -M prepared -f "$scripts/${shape}_$lang.sql" $DB 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
        tps[$lang]="${tps[$lang]:-} $t"
      done
    done
    for lang in $langs; do
      record "per statement, $shape, ${clients}c" "$lang" "$(echo "${tps[$lang]}" | median)" tps
    done
  done
done

# First call in a new connection, and CREATE FUNCTION.
for lang in python plpython; do
  declare -a first=() create=()
  for r in $(seq 1 "$ROUNDS"); do
    read -r _ f <<< "$(times -c "LOAD 'pg_wasm'" -c "SELECT ${lang}_slugify('First Call')")"
    first+=("$f")
    l=$([ $lang = python ] && echo python || echo plpython3u)
    read -r _ c _ <<< "$(times -c "SELECT 1" \
      -c "CREATE FUNCTION made_$r(t text) RETURNS text LANGUAGE $l AS \$\$
$SLUG_BODY
\$\$" -c "DROP FUNCTION made_$r(text)")"
    create+=("$c")
  done
  record "first call in a new connection" "$lang" "$(echo "${first[@]}" | median)" ms
  record "CREATE FUNCTION" "$lang" "$(echo "${create[@]}" | median)" ms
done

# Private memory a backend adds with one call.
rollup() { echo "(substring(pg_read_file('/proc/' || pg_backend_pid() || '/smaps_rollup') from 'Pss_Anon:\\s+(\\d+)')::int)"; }
for lang in python plpython; do
  declare -a kb=()
  for r in $(seq 1 "$ROUNDS"); do
    read -r before after <<< "$("${PSQL[@]}" -d $DB -At -c "LOAD 'pg_wasm'" \
      -c "SELECT plpgsql_slugify('x')" -c "SELECT $(rollup)" \
      -c "SELECT ${lang}_slugify('x')" -c "SELECT $(rollup)" | grep -E '^[0-9]+$' | tr '\n' ' ')"
    kb+=("$((after - before))")
  done
  record "private memory after one call" "$lang" "$(echo "${kb[@]}" | median | awk '{print $1 / 1024}')" MB
done
echo "(machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $("${PSQL[@]}" -d $DB -At -c 'SHOW server_version'); csv: $CSV)"
