#!/usr/bin/env python3
"""Prints the README's table from `ferry pressure` results: for each policy at one budget, decode
tokens/s, the streamed bytes per generated token that came from RAM and from disk, the process's
peak RSS, and the fraction of the single bound.
Usage: bench/tier_table.py RESULTS.json [BUDGET=25%]"""
import json
import sys


def gib(x):
    return "-" if x is None else f"{x / 2**30:.2f} GiB"


def main():
    path = sys.argv[1]
    budget = sys.argv[2] if len(sys.argv) > 2 else "25%"
    points = json.load(open(path))["points"]
    print("| policy | decode tok/s | from RAM / token | from disk / token | peak RSS | fraction of the bound |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for p in points:
        if p["budget"] != budget or p.get("error"):
            continue
        frac = p.get("bound_fraction")
        print(f"| {p['policy']} | {p['decode_tokens_per_s']:.3g} | {gib(p.get('ram_bytes_per_token'))} | "
              f"{gib(p.get('disk_bytes_per_token'))} | {gib(p.get('peak_rss_bytes'))} | "
              f"{'-' if frac is None else f'{frac:.2f}'} |")


if __name__ == "__main__":
    main()
