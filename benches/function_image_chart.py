#!/usr/bin/env python3
"""Draws docs/img/oltp-function-image.png from a benches/oltp.sh CSV that ran
each mode with and without pg_wasm.function_images (OLTP_MODES="1c-prepared
1c-prepared-noimage 2c-prepared 2c-prepared-noimage"): for each JavaScript
and Python case, its tps as a ratio to PL/pgSQL's in the same round and mode
(median over the rounds), off against on. Needs matplotlib.

    python3 benches/function_image_chart.py results.csv [png]
    (docs/img/oltp-function-image.png: benches/results/oltp-2026-12-07-function-image-ab.csv)
"""
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CASES = [
    ("add/javascript", "add/plpgsql", "a + b\nJavaScript"),
    ("add/python", "add/plpgsql", "a + b\nPython"),
    ("slugify/javascript", "slugify/plpgsql", "slugify\nJavaScript"),
    ("slugify/python", "slugify/plpgsql", "slugify\nPython"),
    ("insert/javascript-trigger", "insert/plpgsql-trigger", "INSERT + trigger\nJavaScript"),
]


def main():
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else "docs/img/oltp-function-image.png"
    runs = defaultdict(list)  # (case, mode) -> tps in round order
    with open(src) as f:
        next(f)
        for line in f:
            case, mode, tps = line.strip().split(",")
            if tps:
                runs[(case, mode)].append(float(tps))

    def ratio(case, base, mode):
        pairs = zip(runs[(case, mode)], runs[(base, mode)])
        return statistics.median(a / b for a, b in pairs if b > 0)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, mode, title in [
        (axes[0], "1c-prepared", "1 client, prepared"),
        (axes[1], "2c-prepared", "2 clients, prepared"),
    ]:
        xs = range(len(CASES))
        off = [ratio(c, b, mode + "-noimage") for c, b, _ in CASES]
        on = [ratio(c, b, mode) for c, b, _ in CASES]
        ax.bar([x - 0.2 for x in xs], off, 0.4, color="#bbbbbb", label="function_images = off (loads the function)")
        ax.bar([x + 0.2 for x in xs], on, 0.4, color="#3a7dda", label="an image per function (default)")
        for x, v in zip(xs, on):
            ax.text(x + 0.2, v + 0.01, f"{v:.2f}", ha="center", fontsize=8)
        for x, v in zip(xs, off):
            ax.text(x - 0.2, v + 0.01, f"{v:.2f}", ha="center", fontsize=8, color="#666666")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([label for _, _, label in CASES], fontsize=8)
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_title(title)
    axes[0].set_ylabel("tps ÷ PL/pgSQL's (median of paired rounds)")
    axes[1].legend(fontsize=8, loc="upper right")
    fig.suptitle("One call per statement (pgbench): JavaScript and Python with and without function images")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print("wrote", out)


if __name__ == "__main__":
    main()
