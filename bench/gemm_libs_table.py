#!/usr/bin/env python3
"""Summarises bench/record-gemm-libs' raw.csv: per shape and T, each library's median GFLOP/s over
the rounds (the median of each round's median) and its ratio to OpenBLAS (pthreads); then each
library's geometric mean ratio over all shapes. Usage: gemm_libs_table.py RAW_CSV"""
import csv
import math
import statistics
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1])))
libs = list(dict.fromkeys(r["lib"] for r in rows))
cells = defaultdict(list)
keys = []
for r in rows:
    key = (r["shape"], r["layout"], int(r["T"]), int(r["K"]), int(r["N"]))
    if key not in keys:
        keys.append(key)
    cells[(key, r["lib"])].append(float(r["gflops_median"]))
base = libs[0]
print(f"GFLOP/s (median over rounds; GEMM + an OpenMP pass over the output), ratio to {base}")
print(f"{'shape':24} {'T':>4} " + " ".join(f"{lib:>22}" for lib in libs))
logs = defaultdict(list)
for key in keys:
    b = statistics.median(cells[(key, base)])
    parts = []
    for lib in libs:
        g = statistics.median(cells[(key, lib)])
        logs[lib].append(math.log(g / b))
        parts.append(f"{g:12.1f} ({g / b:5.2f}x)")
    print(f"{key[0]:24} {key[2]:>4} " + " ".join(f"{p:>22}" for p in parts))
print("geometric mean ratio: " + ", ".join(f"{lib} {math.exp(sum(v) / len(v)):.2f}x" for lib, v in logs.items()))
