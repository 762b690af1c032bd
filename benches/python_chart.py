#!/usr/bin/env python3
"""Draws docs/img/python.png from benches/python.sh's results: LANGUAGE
python against PL/Python and PL/pgSQL, as ratios to PL/Python (per row:
time; per statement: throughput) and the first call, CREATE FUNCTION and
memory side by side. Needs matplotlib (pip install matplotlib).

    python3 benches/python_chart.py target/bench/python.csv [png]

The CSV is "measure,language,value,unit" lines of one run (a measure may
hold commas: the last three fields are split off).
"""
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LANGS = ["python", "plpython", "plpgsql"]
LABELS = {"python": "LANGUAGE python", "plpython": "PL/Python", "plpgsql": "PL/pgSQL"}
COLORS = {"python": "#3572A5", "plpython": "#f0a030", "plpgsql": "#777777"}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "target/bench/python.csv"
    png = sys.argv[2] if len(sys.argv) > 2 else "docs/img/python.png"
    values = defaultdict(dict)
    units = {}
    with open(src) as f:
        next(f)
        for line in f:
            measure, lang, value, unit = line.strip().rsplit(",", 3)
            values[measure][lang] = float(value)
            units[measure] = unit

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))

    # Per row and per statement, relative to PL/Python (above 1: better).
    ax = axes[0]
    measures = [m for m in values if m.startswith("per row") or m.startswith("per statement")]
    x = range(len(measures))
    width = 0.27
    for k, lang in enumerate(LANGS):
        ratios = []
        for m in measures:
            base, v = values[m].get("plpython"), values[m].get(lang)
            if not base or not v:
                ratios.append(0)
            elif units[m] == "tps":
                ratios.append(v / base)
            else:
                ratios.append(base / v)
        ax.bar([i + (k - 1) * width for i in x], ratios, width, label=LABELS[lang],
               color=COLORS[lang])
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_xticks(list(x))
    ax.set_xticklabels([m.replace("per statement, ", "stmt ").replace("per row, ", "row ")
                        for m in measures], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("speed relative to PL/Python (higher is faster)")
    ax.set_title("per row (time) and per statement (tps)")
    ax.legend(fontsize=8)

    # First call in a new connection and CREATE FUNCTION, in ms.
    ax = axes[1]
    ms = ["first call in a new connection", "CREATE FUNCTION"]
    for k, lang in enumerate(["python", "plpython"]):
        ax.bar([i + (k - 0.5) * 0.4 for i in range(len(ms))],
               [values[m].get(lang, 0) for m in ms], 0.4, label=LABELS[lang],
               color=COLORS[lang])
    ax.set_xticks(range(len(ms)))
    ax.set_xticklabels(["first call,\nnew connection", "CREATE FUNCTION"], fontsize=9)
    ax.set_ylabel("ms (lower is better)")
    ax.set_title("starting")
    ax.legend(fontsize=8)

    # Private memory after one call.
    ax = axes[2]
    m = "private memory after one call"
    ax.bar([LABELS[lang] for lang in ["python", "plpython"]],
           [values[m].get(lang, 0) for lang in ["python", "plpython"]],
           color=[COLORS["python"], COLORS["plpython"]])
    ax.set_ylabel("MB a backend adds (lower is better)")
    ax.set_title("private memory after one call")

    fig.suptitle("LANGUAGE python against PL/Python (benches/python.sh, medians, one run)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
