#!/usr/bin/env python3
"""Plots of a `ferry pressure` results.json (docs/pressure.md).

Writes, as PNG and SVG, into --out (default: the directory of results.json):
  throughput_vs_budget  decode (and prefill) tokens/s against the budget, one line per policy
                        (the best prefetch depth / stream count at each budget; bars: min..max)
  fraction_vs_budget    achieved fraction of the probed bound against the budget, per policy
  timeline              one decode step per policy at its lowest budget: a lane per stream
                        (compute, copy 1, ...), a bar per prefetch / compute / evict, labelled by layer

Usage: /usr/bin/python3 tools/plot_results.py DIR/results.json [--out DIR]
Needs matplotlib (Agg backend: no display).
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402  (after the backend is chosen)
import matplotlib.pyplot as plt  # noqa: E402

KIND_COLORS = {"prefetch": "#4C72B0", "compute": "#DD8452", "evict": "#C44E52", "other": "#8C8C8C"}


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if "points" not in doc or "meta" not in doc:
        sys.exit(f"{path}: not a ferry pressure results.json (no 'meta' / 'points')")
    return doc


def budget_percent(p):
    if p.get("budget_bytes") and p.get("model_bytes"):
        return 100.0 * p["budget_bytes"] / p["model_bytes"]
    return None


def best_per_budget(points, policy, batch, metric):
    """{budget %: point} with the highest median `metric` over depths / stream counts."""
    best = {}
    for p in points:
        if p.get("error") or p["policy"] != policy or p["batch"] != batch or p.get(metric) is None:
            continue
        x = budget_percent(p)
        if x is None:
            continue
        if x not in best or p[metric] > best[x][metric]:
            best[x] = p
    return dict(sorted(best.items()))


def line_plot(ax, points, policies, batch, metric, ylabel):
    drawn = False
    for policy in policies:
        best = best_per_budget(points, policy, batch, metric)
        if not best:
            continue
        xs = list(best)
        ys = [best[x][metric] for x in xs]
        lo = [max(0.0, y - (best[x].get(metric + "_min") if best[x].get(metric + "_min") is not None else y))
              for x, y in zip(xs, ys)]
        hi = [max(0.0, (best[x].get(metric + "_max") if best[x].get(metric + "_max") is not None else y) - y)
              for x, y in zip(xs, ys)]
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=policy)
        drawn = True
    ax.set_xlabel("budget (% of the model's weight bytes)")
    ax.set_ylabel(ylabel)
    ax.invert_xaxis()  # pressure grows to the right
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    return drawn


def save(fig, out, name):
    paths = []
    for ext in ("png", "svg"):
        path = os.path.join(out, f"{name}.{ext}")
        fig.savefig(path, dpi=120, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def title(meta, what):
    m = meta.get("model", {})
    mach = meta.get("machine", {})
    return f"{what}: {m.get('name', '?')} on {mach.get('device_name', '?')} (commit {meta.get('commit', '?')})"


def plot_throughput(doc, out):
    points, meta = doc["points"], doc["meta"]
    policies = list(dict.fromkeys(p["policy"] for p in points))
    batches = sorted({p["batch"] for p in points})
    fig, axes = plt.subplots(len(batches), 2, figsize=(12, 4.2 * len(batches)), squeeze=False)
    for row, batch in enumerate(batches):
        line_plot(axes[row][0], points, policies, batch, "decode_tokens_per_s", f"decode tokens/s (batch {batch})")
        line_plot(axes[row][1], points, policies, batch, "prefill_tokens_per_s", f"prefill tokens/s (batch {batch})")
    fig.suptitle(title(meta, "throughput vs budget"))
    return save(fig, out, "throughput_vs_budget")


def plot_fraction(doc, out):
    points, meta = doc["points"], doc["meta"]
    policies = list(dict.fromkeys(p["policy"] for p in points))
    batches = sorted({p["batch"] for p in points})
    fig, axes = plt.subplots(1, len(batches), figsize=(6.5 * len(batches), 4.5), squeeze=False)
    for col, batch in enumerate(batches):
        ax = axes[0][col]
        line_plot(ax, points, policies, batch, "bound_fraction", f"fraction of the bound (batch {batch})")
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    fig.suptitle(title(meta, "achieved fraction of the probed bound"))
    return save(fig, out, "fraction_vs_budget")


def plot_timeline(doc, out):
    timelines = doc.get("timelines") or {}
    meta = doc["meta"]
    names = list(timelines)
    fig, axes = plt.subplots(max(1, len(names)), 1, figsize=(13, 2.2 + 1.1 * max(1, len(names)) * 1.6), squeeze=False)
    if not names:
        axes[0][0].text(0.5, 0.5, "no timeline recorded", ha="center", va="center")
    for i, name in enumerate(names):
        ax = axes[i][0]
        tl = timelines[name]
        recs = tl.get("records", [])
        lanes = sorted({r["stream"] for r in recs})
        lane_y = {s: n for n, s in enumerate(lanes)}
        span = max([r["end_us"] for r in recs] + [1.0]) / 1000.0
        for r in recs:
            start = r["begin_us"] / 1000.0
            width = max(1e-4, (r["end_us"] - r["begin_us"]) / 1000.0)
            y = lane_y[r["stream"]]
            ax.broken_barh([(start, width)], (y - 0.4, 0.8), facecolors=KIND_COLORS.get(r["kind"], "#8C8C8C"),
                           edgecolor="white", linewidth=0.5)
            if width >= 0.012 * span:  # no labels on slivers
                label = str(r["layer"]) if r.get("layer", -1) >= 0 else r["name"][:6]
                ax.text(start + width / 2, y, label, ha="center", va="center", fontsize=6, clip_on=True)
        ax.set_yticks(range(len(lanes)))
        ax.set_yticklabels([next((r["lane"] for r in recs if r["stream"] == s), str(s)) for s in lanes])
        ax.invert_yaxis()
        ax.set_xlabel("ms from the step's start")
        ax.set_title(f"{name} @ {tl.get('budget')} (depth {tl.get('prefetch_depth')}, {tl.get('streams')} streams, "
                     f"batch {tl.get('batch')}), step {tl.get('step')}", fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
    handles = [matplotlib.patches.Patch(color=c, label=k) for k, c in KIND_COLORS.items()]
    axes[0][0].legend(handles=handles, loc="upper right", fontsize=7, ncol=4)
    fig.suptitle(title(meta, "one decode step per policy at its lowest budget"))
    fig.tight_layout()
    return save(fig, out, "timeline")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="results.json written by `ferry pressure`")
    ap.add_argument("--out", help="output directory (default: the directory of results.json)")
    args = ap.parse_args()
    doc = load(args.results)
    out = args.out or os.path.dirname(os.path.abspath(args.results))
    os.makedirs(out, exist_ok=True)
    written = plot_throughput(doc, out) + plot_fraction(doc, out) + plot_timeline(doc, out)
    for p in written:
        print(p)


if __name__ == "__main__":
    main()
