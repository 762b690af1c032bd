# The database benches/oltp.sh measures and scripts/order-text.sh profiles:
# wasm functions (a WAT module, Rust core modules, a trigger, JavaScript and
# Python in CREATE FUNCTION, the two components) and the same logic in
# PL/pgSQL and PL/Python. Sourced with PSQL (an array: psql and its
# options), GUESTS (where the guest modules are) and DB set; sets plpython
# (yes or no), FROM and TO.
# shellcheck shell=bash
FROM='àáâãäåāçćčèéêëēėìíîïīñńòóôõöøōśšùúûüūýÿźżž'
TO='aaaaaaaccceeeeeeiiiiinnooooooossuuuuuyyzzz'

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
  -c "ALTER DATABASE $DB SET synchronous_commit = off"
"${PSQL[@]}" -d $DB <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_wasm;
SELECT wasm.load_wat('m', '(module (func (export "add") (param i32 i32) (result i32)
  local.get 0 local.get 1 i32.add))');
CREATE FUNCTION plpgsql_add(a int, b int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
  \$\$ BEGIN RETURN a + b; END \$\$;
CREATE TYPE jsonkit_summary AS (kind text, size int, text text);
SELECT count(*) FROM wasm.load('jsonkit', pg_read_binary_file('$GUESTS/jsonkit.wasm'));
SELECT count(*) FROM wasm.load('tenant', pg_read_binary_file('$GUESTS/js_tenant.wasm'));
SELECT count(*) FROM wasm.load('pricing', pg_read_binary_file('$GUESTS/py_pricing.wasm'));
CREATE FUNCTION plpgsql_slugify(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS \$\$
BEGIN
  RETURN trim(both '-' from regexp_replace(translate(lower(t), '$FROM', '$TO'), '[^a-z0-9]+', '-', 'g'));
END \$\$;
CREATE FUNCTION js_add(a int, b int) RETURNS int LANGUAGE javascript IMMUTABLE AS
  \$\$ return a + b; \$\$;
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
CREATE FUNCTION python_add(a int, b int) RETURNS int LANGUAGE python IMMUTABLE AS
  \$\$ return a + b \$\$;
CREATE FUNCTION python_slugify(t text) RETURNS text LANGUAGE python IMMUTABLE AS \$\$
import re
folded = t.lower().translate(str.maketrans('$FROM', '$TO'))
return re.sub('[^a-z0-9]+', '-', folded).strip('-')
\$\$;
SELECT count(*) FROM wasm.load('trg', pg_read_binary_file('$GUESTS/triggers.wasm'));
CREATE FUNCTION js_derive_names() RETURNS trigger LANGUAGE javascript AS \$\$
  NEW.full_name = ((NEW.first_name || '').trim() + ' ' + (NEW.last_name || '').trim()).trim();
  NEW.slug = NEW.full_name.toLowerCase().replace(/[^\\p{L}\\p{N}]+/gu, '-').replace(/^-+|-+\$/g, '');
  return NEW;
\$\$;
CREATE FUNCTION plpgsql_derive_names() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  NEW.full_name := btrim(btrim(coalesce(NEW.first_name, '')) || ' ' || btrim(coalesce(NEW.last_name, '')));
  NEW.slug := btrim(lower(regexp_replace(NEW.full_name, '[^[:alnum:]]+', '-', 'g')), '-');
  RETURN NEW;
END \$\$;
CREATE TABLE p_wasm (id int, first_name text, last_name text, full_name text, slug text);
CREATE TABLE p_plpgsql (LIKE p_wasm);
CREATE TABLE p_js (LIKE p_wasm);
CREATE TRIGGER derive BEFORE INSERT ON p_js FOR EACH ROW EXECUTE FUNCTION js_derive_names();
CREATE TRIGGER derive BEFORE INSERT ON p_wasm FOR EACH ROW EXECUTE FUNCTION trg_derive_names();
CREATE TRIGGER derive BEFORE INSERT ON p_plpgsql FOR EACH ROW EXECUTE FUNCTION plpgsql_derive_names();
SQL
plpython=no
if "${PSQL[@]}" -d $DB -c "CREATE EXTENSION plpython3u" 2>/dev/null; then
  plpython=yes
  "${PSQL[@]}" -d $DB <<SQL
CREATE FUNCTION py_slugify(t text) RETURNS text LANGUAGE plpython3u IMMUTABLE AS \$\$
import re
folded = t.lower().translate(str.maketrans('$FROM', '$TO'))
return re.sub('[^a-z0-9]+', '-', folded).strip('-')
\$\$;
SQL
fi
