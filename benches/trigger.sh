#!/usr/bin/env bash
# A BEFORE ROW trigger that sets derived columns (full_name, slug), as a
# wasm trigger in Rust (guest-examples/rust-triggers, derive_names) and in C
# (guest-examples/c-triggers, derive_names) and as the same logic in PL/pgSQL, over ROWS inserts in one statement each; a table with
# no trigger is the baseline. Median of ROUNDS interleaved rounds; ratios
# to the PL/pgSQL trigger and to no trigger.
#   benches/trigger.sh [rows] [rounds]      (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-100000}
ROUNDS=${2:-5}
PSQL=(scripts/cluster.sh psql -q -v ON_ERROR_STOP=1)
GUESTS=${PG_WASM_GUESTS:-$PWD/target/guests}

"${PSQL[@]}" -d postgres -c 'DROP DATABASE IF EXISTS pg_wasm_bench_trigger' \
  -c 'CREATE DATABASE pg_wasm_bench_trigger'
"${PSQL[@]}" -d pg_wasm_bench_trigger <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
SELECT count(*) FROM wasm.load('trg', pg_read_binary_file('$GUESTS/triggers.wasm'));
SELECT count(*) FROM wasm.load('ct', pg_read_binary_file('$GUESTS/ctriggers.wasm'));
CREATE FUNCTION plpgsql_derive_names() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  NEW.full_name := btrim(btrim(coalesce(NEW.first_name, '')) || ' ' || btrim(coalesce(NEW.last_name, '')));
  NEW.slug := btrim(lower(regexp_replace(NEW.full_name, '[^[:alnum:]]+', '-', 'g')), '-');
  RETURN NEW;
END \$\$;
CREATE TABLE src AS SELECT g AS id, 'First' || g AS first_name, 'Last Name ' || g AS last_name
  FROM generate_series(1, $ROWS) g;
CREATE TABLE p_none (id int, first_name text, last_name text, full_name text, slug text);
CREATE TABLE p_wasm (LIKE p_none);
CREATE TABLE p_wasm_c (LIKE p_none);
CREATE TABLE p_plpgsql (LIKE p_none);
CREATE TRIGGER derive BEFORE INSERT ON p_wasm FOR EACH ROW EXECUTE FUNCTION trg_derive_names();
CREATE TRIGGER derive BEFORE INSERT ON p_wasm_c FOR EACH ROW EXECUTE FUNCTION ct_derive_names();
CREATE TRIGGER derive BEFORE INSERT ON p_plpgsql FOR EACH ROW EXECUTE FUNCTION plpgsql_derive_names();
-- Both triggers compute the same columns.
INSERT INTO p_wasm SELECT id, first_name, last_name FROM src WHERE id <= 1000;
INSERT INTO p_wasm_c SELECT id, first_name, last_name FROM src WHERE id <= 1000;
INSERT INTO p_plpgsql SELECT id, first_name, last_name FROM src WHERE id <= 1000;
DO \$\$ BEGIN
  IF EXISTS (SELECT full_name, slug FROM p_wasm EXCEPT SELECT full_name, slug FROM p_plpgsql)
     OR EXISTS (SELECT full_name, slug FROM p_wasm_c EXCEPT SELECT full_name, slug FROM p_plpgsql)
     OR (SELECT count(*) FROM p_wasm) <> 1000 OR (SELECT count(*) FROM p_wasm_c) <> 1000 THEN
    RAISE EXCEPTION 'wasm and PL/pgSQL triggers disagree';
  END IF;
END \$\$;
SQL

timings=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for name in none wasm wasm_c plpgsql; do
    # Warm up in the same session first: a new backend compiles the module
    # (and PL/pgSQL its function) once; the figure is the per-row cost.
    ms=$("${PSQL[@]}" -d pg_wasm_bench_trigger -At \
          -c "INSERT INTO p_$name SELECT id, first_name, last_name FROM src WHERE id <= 10" \
          -c "TRUNCATE p_$name" -c '\timing on' \
          -c "INSERT INTO p_$name SELECT id, first_name, last_name FROM src" \
          | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    echo "$name $ms" >> "$timings"
  done
done

median() { grep "^$1 " "$timings" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(median none); pl=$(median plpgsql)
printf "%-16s %10s %12s %14s   (%s inserts, median of %s rounds)\n" trigger ms vs_plpgsql vs_no_trigger "$ROWS" "$ROUNDS"
for name in none wasm wasm_c plpgsql; do
  m=$(median "$name")
  printf "%-16s %10.1f %12.2f %14.2f\n" "$name" "$m" \
    "$(awk -v m="$m" -v b="$pl" 'BEGIN {print m / b}')" "$(awk -v m="$m" -v b="$base" 'BEGIN {print m / b}')"
done
rm -f "$timings"
