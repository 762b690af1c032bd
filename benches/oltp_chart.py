#!/usr/bin/env python3
"""Draws docs/img/oltp.png from benches/oltp.sh's results: one call per
statement, wasm against PL/pgSQL (median over the rounds of the tps ratio) and the components'
time per statement (and LANGUAGE python's), for a run of an earlier build ("before") and of this
one ("after"). Needs matplotlib (pip install matplotlib).

    python3 benches/oltp_chart.py before.csv after.csv [png] [before-label] [after-label]
    (docs/img/oltp.png: benches/results/oltp-before-1f18263.csv and oltp-after.csv;
     docs/img/oltp-statement-costs.png: oltp-before-6cdfea4.csv and
     oltp-after-statement-costs.csv; docs/img/oltp-pool-reset.png:
     oltp-before-pool-reset.csv and oltp-after-pool-reset.csv;
     docs/img/oltp-reset-in-background.png: the -inline and the -bg rows of
     oltp-reset-in-background.csv, each with its suffix taken off the mode:
       f=benches/results/oltp-reset-in-background.csv
       for m in inline bg; do (echo case,mode,tps; grep -- "-$m," $f | sed "s/-$m,/,/") > $m.csv; done
       python3 benches/oltp_chart.py inline.csv bg.csv docs/img/oltp-reset-in-background.png \
         "reset in the statement (default)" "pg_wasm.reset_in_background = on"
     (that setting is now pg_wasm.reset_slots = thread; -inline is immediately);
     docs/img/oltp-reset-after-reply.png: the same with
     oltp-reset-after-reply.csv, suffixes immediately and after_reply, labels
       "reset_slots = immediately (the former default)" "reset_slots = after_reply (default)")
    docs/img/oltp-recycle.png: oltp-2026-12-07-first-call.csv and
      oltp-2026-12-07-recycle.csv, labels "a new instance every statement
      (6f2d14b)" "instances reset in place and kept"
    docs/img/oltp-paired.png: oltp-2026-12-07-recycle.csv and
      oltp-2026-12-07-paired.csv, labels "kept instances, 3 rounds
      (b224797)" "same build, 5 rounds (this run)"
    docs/img/oltp-text-order.png: oltp-2026-12-07-paired.csv and
      oltp-2026-12-07-text-order.csv, labels "afternoon: code as the
      compiler placed it (b224797)" "night: first-call code linked together
      (this build)"

Without component rows in the CSVs the components' panel is left out.

Each CSV is target/bench/oltp.csv ("case,mode,tps" lines) of one run.
"""
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rounds(path):
    """Each (case, mode)'s tps, one a round, in the CSV's (round) order."""
    runs = defaultdict(list)
    with open(path) as f:
        next(f)
        for line in f:
            case, mode, tps = line.strip().split(",")
            runs[(case, mode)].append(float(tps) if tps else 0.0)
    return runs


def medians(runs):
    return {k: statistics.median([t for t in v if t > 0]) for k, v in runs.items() if any(v)}


def paired_ratio(runs, case, base, mode):
    """The median over the rounds of case's tps / base's in the same round
    (as benches/oltp.sh prints it)."""
    pairs = zip(runs.get((case, mode), []), runs.get((base, mode), []))
    ratios = [t / b for t, b in pairs if b > 0 and t > 0]
    return statistics.median(ratios) if ratios else None


before_runs, after_runs = rounds(sys.argv[1]), rounds(sys.argv[2])
before, after = medians(before_runs), medians(after_runs)
out = sys.argv[3] if len(sys.argv) > 3 else "docs/img/oltp.png"
before_label = sys.argv[4] if len(sys.argv) > 4 else "before (per-statement set-up)"
after_label = sys.argv[5] if len(sys.argv) > 5 else "after (pooled instances, functions resolved once)"
MODES = ["1c-simple", "1c-prepared", "2c-prepared", "1c-new-conn"]
# Only the modes the runs have (OLTP_MODES may have picked some).
MODES = [m for m in MODES if any(k[1] == m for k in after)]
CORE = [
    ("add/wasm", "add/plpgsql", "add (WAT)"),
    ("slugify/wasm-rust", "slugify/plpgsql", "slugify (Rust)"),
    ("insert/wasm-trigger", "insert/plpgsql-trigger", "INSERT + trigger (Rust)"),
]
COMPONENTS = [
    ("slugify/js-component", "JavaScript\ncomponent"),
    ("slugify/py-component", "Python\ncomponent"),
    ("slugify/python", "LANGUAGE\npython"),
]

with_components = any(case == c for c, _ in COMPONENTS for (case, _) in after)
with_core = any(case == c for c, _, _ in CORE for (case, _) in after)
if with_components and with_core:
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 1.4]})
elif with_core:
    fig, ax0 = plt.subplots(1, 1, figsize=(9, 5))
    axes = [ax0]
else:
    # Only the interpreters' cases were run (OLTP_CASES).
    fig, ax0 = plt.subplots(1, 1, figsize=(6, 5))
    axes = [None, ax0]
    CORE = []
ax = axes[0]
width, step = 0.11, 0.26
ticks, tick_labels = [], []
for i, (case, base, label) in enumerate(CORE):
    for j, mode in enumerate(MODES):
        x = i * 1.25 + (j - (len(MODES) - 1) / 2) * step
        ticks.append(x)
        tick_labels.append(mode)
        for k, (runs, colour) in enumerate([(before_runs, "#bbbbbb"), (after_runs, "#3b7dd8")]):
            r = paired_ratio(runs, case, base, mode)
            if r:
                ax.bar(x + (k - 0.5) * width, r, width, color=colour)
    ax.text(i * 1.25, -0.3, label, ha="center", transform=ax.get_xaxis_transform())
if with_core:
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(0.9, color="black", linewidth=0.6, linestyle=":")
    ax.set_xticks(ticks, tick_labels, rotation=60, fontsize=7)
    ax.set_ylabel("tps ÷ PL/pgSQL's in the same round (median)")
    ax.set_title("One call per statement: wasm core modules vs PL/pgSQL")
    ax.set_ylim(0, 1.25)
ax = axes[0] if with_core else axes[1]
ax.bar(0, 0, color="#bbbbbb", label=before_label)
ax.bar(0, 0, color="#3b7dd8", label=after_label)
ax.legend(loc="upper left" if with_core else "upper right", fontsize=8, ncol=2 if with_core else 1)

for i, (case, label) in enumerate(COMPONENTS if with_components else []):
    ax = axes[1]
    for k, (runs, colour) in enumerate([(before, "#bbbbbb"), (after, "#3b7dd8")]):
        t = runs.get((case, "1c-prepared"))
        if t:
            ax.bar(i + (k - 0.5) * 0.35, 1000.0 / t, 0.35, color=colour)
if with_components:
    ax = axes[1]
    ax.set_xticks(range(len(COMPONENTS)), [c[1] for c in COMPONENTS], fontsize=8)
    ax.set_ylabel("ms per statement (1 client, prepared)")
    ax.set_title("Interpreters: slugify")
fig.tight_layout()
fig.savefig(out, dpi=110)
print(f"wrote {out}")
