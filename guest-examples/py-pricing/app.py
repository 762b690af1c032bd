"""A tenant's pricing and text rules in Python, built into a WebAssembly
component by componentize-py (SPEC §10). The world is wit/pricing.wit;
kebab-case WIT names are snake_case here, records are dataclasses."""

import json
import re

import wit_world
from componentize_py_types import Err
from wit_world import Tier
from wit_world.imports import host

KEYWORDS = {
    "billing": ("invoice", "refund", "charge", "payment"),
    "bug": ("error", "crash", "broken", "fails"),
    "praise": ("love", "great", "thanks", "awesome"),
}

# Latin letters with diacritics folded to plain ones (as the JavaScript
# and Rust guests do).
FOLD = str.maketrans("àáâãäåāçćčèéêëēėìíîïīñńòóôõöøōśšùúûüūýÿźżž",
                     "aaaaaaaccceeeeeeiiiiinnooooooossuuuuuyyzzz")

# (minimum units, discount rate)
TIERS = ((1, 0.0), (100, 0.1), (1000, 0.2))


CALLS = 0


class WitWorld(wit_world.WitWorld):
    def classify(self, text: str) -> str:
        words = text.lower()
        # stdout goes to the server log, never to the client
        print(f"classify: {len(words)} characters: {text}")
        for label, keys in KEYWORDS.items():
            if any(k in words for k in keys):
                return label
        return "other"

    def price(self, amount: float, units: int) -> float:
        if amount < 0:
            raise Err(f"negative amount {amount}")
        rate = max(r for (m, r) in TIERS if units >= m) if units >= 1 else 0.0
        return round(amount * units * (1 - rate), 2)

    def tiers(self, unit_price: float) -> list[Tier]:
        return [Tier(m, r, round(unit_price * (1 - r), 2)) for (m, r) in TIERS]

    def total(self, at: Tier, units: int) -> float:
        return round(at.unit_price * units, 2)

    def checksum(self, data: bytes) -> int:
        h = 14695981039346656037  # FNV-1a, 64 bits
        for b in data:
            h = ((h ^ b) * 1099511628211) % (1 << 64)
        return h

    def slugify(self, text: str) -> str:
        return re.sub("[^a-z0-9]+", "-", text.lower().translate(FOLD)).strip("-")

    def words(self, text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    def customer_discount(self, customer: int) -> float:
        # pg_wasm's host API: SQL as the calling role, rows as JSON
        rows = json.loads(host.query(
            "SELECT tier FROM customers WHERE id = $1", json.dumps([customer])))
        if not rows:
            raise Err(f"no customer {customer}")
        tier = rows[0]["tier"]
        host.log(host.Level.NOTICE, f"customer {customer} is {tier}")
        return {"gold": 0.2, "silver": 0.1}.get(tier, 0.0)

    def check_customer(self, event: str) -> str | None:
        row = json.loads(event)["new"]
        tier = (row.get("tier") or "").strip().lower()
        if tier not in ("gold", "silver", "bronze"):
            return json.dumps({"error": f"unknown tier {row.get('tier')!r} for customer {row['id']}"})
        if tier == row["tier"]:
            return None
        return json.dumps({"new": {"tier": tier}})

    def calls(self) -> int:
        global CALLS
        CALLS += 1
        return CALLS

    def spin(self, n: int) -> int:
        i = 0
        while True:
            i = (i + n) % 1000003


# Warm-up. componentize-py snapshots the interpreter after importing this
# module, once, at build time. Running the text rules here leaves their
# compiled regular expressions in `re`'s cache and their bytecode
# specialized in the snapshot, so a fresh instance (one per statement) does
# not compile them again (docs/components.md has the figures). Only pure
# calls belong here: what they leave in globals is in every instance.
WitWorld().slugify("Crème Brûlée, Déjà Vu № 7")
WitWorld().words("warm up")
