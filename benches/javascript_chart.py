#!/usr/bin/env python3
"""Draws docs/img/javascript.png: LANGUAGE javascript beside the other
ways to write the same function. Left, slugify per row (components.sh's
CSV, microseconds); right, one call per statement as a ratio to PL/pgSQL's
tps (oltp.sh's CSV, medians per mode). Needs matplotlib.

    python3 benches/javascript_chart.py components.csv oltp.csv [png]
    (docs/img/javascript.png: benches/results/components-slugify-javascript-2026-12-06.csv
     and oltp-javascript-2026-12-06.csv)
"""
import statistics
import sys
from collections import defaultdict

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

per_row = {}
with open(sys.argv[1]) as f:
    for line in f:
        name, value = line.rstrip("\n").rsplit(",", 1)
        if name.startswith("  per row, "):
            per_row[name[len("  per row, "):]] = float(value)

runs = defaultdict(list)
with open(sys.argv[2]) as f:
    next(f)
    for line in f:
        case, mode, tps = line.strip().split(",")
        if tps:
            runs[(case, mode)].append(float(tps))
tps = {k: statistics.median(v) for k, v in runs.items()}
out = sys.argv[3] if len(sys.argv) > 3 else "docs/img/javascript.png"

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
ROW = ["PL/Python", "PL/pgSQL", "Rust core module", "LANGUAGE javascript", "Python component",
       "JavaScript component"]
names = [n for n in ROW if n in per_row]
colors = ["#d62728" if n == "LANGUAGE javascript" else "#7f7f7f" for n in names]
left.barh(names, [per_row[n] for n in names], color=colors)
left.set_xscale("log")
left.set_xticks([1, 2, 5, 10, 20, 50, 100])
left.set_xticklabels(["1", "2", "5", "10", "20", "50", "100"])
left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
left.set_xlabel("µs per row (log scale), slugify over 100 000 rows")
left.invert_yaxis()
for i, n in enumerate(names):
    left.text(per_row[n] * 1.05, i, f"{per_row[n]:.1f}", va="center", fontsize=8)

MODES = [m for m in ["1c-simple", "1c-prepared", "1c-new-conn"] if any(k[1] == m for k in tps)]
CASES = [
    ("add/javascript", "add/plpgsql", "a + b"),
    ("slugify/javascript", "slugify/plpgsql", "slugify"),
    ("insert/javascript-trigger", "insert/plpgsql-trigger", "INSERT + BEFORE ROW trigger"),
    ("slugify/js-component", "slugify/plpgsql", "slugify, JavaScript component"),
]
width = 0.8 / len(MODES)
for j, mode in enumerate(MODES):
    ratios = [tps.get((c, mode), 0) / tps[(b, mode)] if tps.get((b, mode)) else 0 for c, b, _ in CASES]
    right.bar([i + j * width for i in range(len(CASES))], ratios, width, label=mode)
right.axhline(1.0, color="black", linewidth=0.8)
right.axhline(0.8, color="black", linewidth=0.8, linestyle=":")
right.set_xticks([i + width * (len(MODES) - 1) / 2 for i in range(len(CASES))])
right.set_xticklabels([label for _, _, label in CASES], fontsize=8, rotation=10)
right.set_ylabel("tps / PL/pgSQL's (one call per statement)")
right.legend(fontsize=8)
fig.suptitle("LANGUAGE javascript (QuickJS-ng in the Wasm sandbox), 2 cores, PostgreSQL 15")
fig.tight_layout()
fig.savefig(out, dpi=110)
print(f"wrote {out}")
