#!/usr/bin/env python3
"""Draws docs/img/coldstart.png from target/bench/coldstart.csv (written by
benches/coldstart.sh). Needs matplotlib (pip install matplotlib).

    python3 benches/chart.py [csv] [png]
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src = sys.argv[1] if len(sys.argv) > 1 else "target/bench/coldstart.csv"
out = sys.argv[2] if len(sys.argv) > 2 else "docs/img/coldstart.png"
# "name,value" lines; names contain commas, the value is the last field.
rows = {}
for line in open(src):
    name, value = line.rstrip("\n").rsplit(",", 1)
    rows[name] = float(value)


def pick(prefix):
    return next(v for k, v in rows.items() if k.startswith(prefix))


fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 4.2))

labels = ["jsonkit\n(100 KB)", "generated\n(1.1 MB)"]
stored = [pick("first call jsonkit, artifact"), pick("first call big, artifact")]
compiled = [pick("first call jsonkit, compiled"), pick("first call big, compiled")]
x = range(len(labels))
ax1.bar([i - 0.2 for i in x], compiled, 0.4, label="compiled in the backend", color="#c44e52")
ax1.bar([i + 0.2 for i in x], stored, 0.4, label="stored artifact mapped", color="#4c72b0")
ax1.set_yscale("log")
ax1.set_xticks(list(x), labels)
ax1.set_ylabel("ms (log scale)")
ax1.set_title("First call in a new connection")
for i, (c, s) in enumerate(zip(compiled, stored)):
    ax1.text(i - 0.2, c, f"{c:.0f}", ha="center", va="bottom", fontsize=8)
    ax1.text(i + 0.2, s, f"{s:.1f}", ha="center", va="bottom", fontsize=8)
ax1.legend(fontsize=8)

serial = rows[next(k for k in rows if k.endswith("rows, serial") and not k.startswith("upper"))]
par_key = next(k for k in rows if "workers launched" in k)
parallel = rows[par_key]
cserial = pick("upper() ")
cparallel = rows[next(k for k in rows if k.startswith("upper()") and "workers" in k)]
vals = [serial, parallel, cserial, cparallel]
ax2.bar(["wasm\nserial", "wasm\n2 workers", "upper()\nserial", "upper()\n2 workers"], vals,
        color=["#8c8c8c", "#4c72b0", "#8c8c8c", "#55a868"])
ax2.set_ylabel("ms")
ax2.set_title(par_key.split(",")[0] + ": jk_normalize_name vs upper()")
for i, v in enumerate(vals):
    ax2.text(i, v, f"{v:.0f} ms", ha="center", va="bottom", fontsize=8)

mem = [pick("RSS MB, 20 modules, compiled"), pick("RSS MB, 20 modules, artifacts"),
       pick("PSS MB, 20 modules, compiled"), pick("PSS MB, 20 modules, artifacts")]
ax3.bar(["RSS\ncompiled", "RSS\nmapped", "PSS\ncompiled", "PSS\nmapped"], mem,
        color=["#c44e52", "#4c72b0", "#c44e52", "#4c72b0"])
ax3.set_ylabel("MB")
ax3.set_title("Backend after 20 modules (2 backends)")
for i, v in enumerate(mem):
    ax3.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)

fig.tight_layout()
fig.savefig(out, dpi=110)
print(f"wrote {out}")
