#!/usr/bin/env python3
"""Plots of a `ferry bench encoder` results file (the padding study).

Writes, as PNG and SVG, into --out (default: the directory of encoder.json):
  encoder_seqlen_<L>   speedup of nested over padded (left) and activation memory saved in percent
                       (right) against batch size, one line per padding fraction, for max length L
  encoder_combined     the same two rows for every max length side by side (the README's plot)
The dashed lines are the issue's goal at 50% padding: 1.8x faster, 40% of the memory saved.

Usage: /usr/bin/python3 bench/encoder_plots.py DIR/encoder.json [--out DIR]
Needs matplotlib (Agg backend: no display).
"""
import argparse
import json
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

GOAL_SPEEDUP = 1.8
GOAL_SAVED_PCT = 40.0


def series(points, seqlen, metric):
    """{padding_target: [(batch, value)]} for one max length, sorted by batch."""
    out = defaultdict(list)
    for p in points:
        if p["max_seqlen"] == seqlen and p.get(metric) is not None:
            out[p["padding_target"]].append((p["batch_size"], p[metric]))
    return {k: sorted(v) for k, v in sorted(out.items())}


def draw(ax, points, seqlen, metric, ylabel, goal, title=True):
    batches = set()
    for target, xy in series(points, seqlen, metric).items():
        ax.plot([x for x, _ in xy], [y for _, y in xy], marker="o", label=f"{target:.0%} padding")
        batches.update(x for x, _ in xy)
    ax.axhline(goal, color="gray", linestyle="--", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(batches))
    ax.set_xticklabels([str(b) for b in sorted(batches)])
    ax.minorticks_off()
    ax.set_xlabel("batch size")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(f"max length {seqlen}")
    ax.grid(True, alpha=0.3)


def save(fig, out, name):
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out, f"{name}.{ext}"), dpi=110, bbox_inches="tight")
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--out")
    a = ap.parse_args()
    with open(a.results) as f:
        doc = json.load(f)
    points = doc["points"]
    out = a.out or os.path.dirname(os.path.abspath(a.results))
    os.makedirs(out, exist_ok=True)
    seqlens = sorted({p["max_seqlen"] for p in points})
    meta = doc["meta"]
    where = f"{meta['model']['name']}, {meta['knobs']['device']}, {meta['knobs']['threads']} threads, {meta['commit']}"
    rows = [("speedup", "nested speedup over padded (x)", GOAL_SPEEDUP),
            ("memory_saved_pct", "activation memory saved (%)", GOAL_SAVED_PCT)]
    for L in seqlens:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
        for ax, (metric, label, goal) in zip(axes, rows):
            draw(ax, points, L, metric, label, goal)
        axes[0].legend(fontsize=8)
        fig.suptitle(f"nested flash vs padded masked attention: {where}", fontsize=9)
        save(fig, out, f"encoder_seqlen_{L}")
    fig, axes = plt.subplots(2, len(seqlens), figsize=(4.2 * len(seqlens), 7), squeeze=False, layout="constrained")
    for c, L in enumerate(seqlens):
        for r, (metric, label, goal) in enumerate(rows):
            draw(axes[r][c], points, L, metric, label, goal, title=r == 0)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"nested flash vs padded masked attention: {where}", fontsize=9)
    save(fig, out, "encoder_combined")
    print(f"plots -> {out}/encoder_combined.png and encoder_seqlen_<L>.png for L in {seqlens}")


if __name__ == "__main__":
    main()
