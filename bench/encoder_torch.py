#!/usr/bin/env python3
"""PyTorch eager BERT beside `ferry bench encoder`, on the very batches ferry measured.

For each chosen point of ferry's encoder.json (its `lengths`: the batch ferry ran), a Hugging Face
BertModel of the same shape (random weights: the values do not change the work) runs the batch
padded to its longest sequence with an attention mask, eager attention (the materialised score
matrix), fp32, torch.no_grad(), on the CPU with --threads threads. Measured as ferry measures:
the median of --repeats timed calls after one unmeasured call, and the peak RSS during a call less
the RSS before it (VmHWM reset through /proc/self/clear_refs, after gc and malloc_trim).

Writes OUT/encoder_torch.csv and .json, and prints one line per point with the ratios
torch / ferry nested and torch / ferry padded (above 1: ferry is faster).

Usage: /usr/bin/python3 bench/encoder_torch.py FERRY_DIR/encoder.json --out DIR
           [--points 128x8,512x8] [--threads 2] [--repeats 3]
--points: max_seqlen x batch_size pairs; every padding fraction ferry ran at them is taken.
"""
import argparse
import csv
import ctypes
import gc
import json
import os
import statistics
import sys
import time


def rss_bytes(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def trim():
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def bert_config(meta_model, transformers):
    m = meta_model
    return transformers.BertConfig(
        vocab_size=m["vocab"], hidden_size=m["hidden"], num_hidden_layers=m["layers"],
        num_attention_heads=m["heads"], intermediate_size=m["ffn"], max_position_embeddings=512,
        hidden_act="gelu", attn_implementation="eager")


def batch_tensors(torch, lengths, vocab):
    longest = max(lengths)
    ids = torch.zeros((len(lengths), longest), dtype=torch.long)
    mask = torch.zeros((len(lengths), longest), dtype=torch.long)
    for b, n in enumerate(lengths):
        # the ids ferry's synthetic prompts use (runtime/bench/measure.h)
        ids[b, :n] = torch.tensor([(1 + 7919 * b + 104729 * t) % vocab for t in range(n)])
        mask[b, :n] = 1
    return ids, mask


def measure(torch, model, ids, mask, repeats):
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)  # unmeasured
        times, peak, known = [], 0, True
        for _ in range(repeats):
            trim()
            before = rss_bytes("VmRSS:")
            known = reset_peak() and known
            t0 = time.perf_counter()
            out = model(input_ids=ids, attention_mask=mask)
            times.append((time.perf_counter() - t0) * 1e3)
            peak = max(peak, rss_bytes("VmHWM:") - before)
            del out
    return statistics.median(times), min(times), max(times), (peak if known else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ferry_json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--points", default="128x8,128x32,512x8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    import torch
    import transformers

    torch.set_num_threads(a.threads)
    with open(a.ferry_json) as f:
        doc = json.load(f)
    if doc["meta"].get("suite") != "encoder":
        sys.exit(f"{a.ferry_json}: not a `ferry bench encoder` results file")
    wanted = set()
    for p in a.points.split(","):
        seq, batch = p.lower().split("x")
        wanted.add((int(seq), int(batch)))
    rows = [r for r in doc["points"] if (r["max_seqlen"], r["batch_size"]) in wanted]
    if not rows:
        sys.exit(f"no point of {a.ferry_json} matches --points {a.points}")

    torch.manual_seed(0)
    model = transformers.BertModel(bert_config(doc["meta"]["model"], transformers), add_pooling_layer=False).eval()
    out_rows = []
    for r in rows:
        ids, mask = batch_tensors(torch, r["lengths"], doc["meta"]["model"]["vocab"])
        med, lo, hi, peak = measure(torch, model, ids, mask, a.repeats)
        row = {
            "max_seqlen": r["max_seqlen"], "batch_size": r["batch_size"], "padding_target": r["padding_target"],
            "padding_fraction": r["padding_fraction"], "real_tokens": r["real_tokens"],
            "torch_ms": med, "torch_ms_min": lo, "torch_ms_max": hi, "torch_peak_bytes": peak,
            "ferry_nested_ms": r["nested_ms"], "ferry_padded_ms": r["padded_ms"],
            "ferry_nested_peak_bytes": r["nested_peak_bytes"], "ferry_padded_peak_bytes": r["padded_peak_bytes"],
            "torch_over_nested": med / r["nested_ms"], "torch_over_padded": med / r["padded_ms"],
        }
        out_rows.append(row)
        print(f"max_seqlen {row['max_seqlen']:4d} batch {row['batch_size']:3d} padding {row['padding_fraction']:.2f}: "
              f"torch {med:9.1f} ms, ferry nested {r['nested_ms']:9.1f} ms ({row['torch_over_nested']:.2f}x), "
              f"ferry padded {r['padded_ms']:9.1f} ms ({row['torch_over_padded']:.2f}x); peak RSS torch "
              f"{(peak or 0) / 2**20:.1f} MiB, ferry nested {(r['nested_peak_bytes'] or 0) / 2**20:.1f} MiB", flush=True)

    os.makedirs(a.out, exist_ok=True)
    meta = {"tool": "bench/encoder_torch.py", "torch": torch.__version__, "transformers": transformers.__version__,
            "threads": a.threads, "repeats": a.repeats, "attention": "eager, padded with a mask", "dtype": "float32",
            "ferry_results": os.path.abspath(a.ferry_json), "ferry_commit": doc["meta"].get("commit"),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with open(os.path.join(a.out, "encoder_torch.json"), "w") as f:
        json.dump({"meta": meta, "points": out_rows}, f, indent=2)
    with open(os.path.join(a.out, "encoder_torch.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out_rows[0].keys()))
        w.writeheader()
        w.writerows(out_rows)


if __name__ == "__main__":
    main()
