#!/usr/bin/env python3
"""Placement-policy benchmark on the CPU backend (issue: ferry core).

Runs the same prompts through `ferry run` with each policy at budgets 100%, 50%, 25% on a random
model of the chosen preset's shape stored as a checkpoint on disk, and the same checkpoint through
PyTorch on the CPU (scripts/torch_gpt2.py, resident) for a side-by-side ratio. Prints a table and
writes CSV + JSON with the machine, the commit and every knob.

Usage: /usr/bin/python3 bench/policy_bench.py --ferry build/tools/ferry --out bench/results
                                               [--model gpt2-large] [--n 16] [--batch 4] [--prompt-len 32]
"""
import argparse
import csv
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "ram_bytes": mem,
            "os": platform.platform()}


def commit():
    try:
        return sh(["git", "-C", os.path.join(HERE, ".."), "rev-parse", "--short=12", "HEAD"]).stdout.strip()
    except Exception:
        return "unknown"


def run_ferry(args, ckpt, prompts_file, policy, budget, n, depth, streams, pack_dir):
    cmd = [args.ferry, "run", "-q", "-m", ckpt, "--prompt-file", prompts_file, "--ids", "--json", "-n", str(n),
           "--policy", policy, "--prefetch-depth", str(depth), "--streams", str(streams), "--pack-dir", pack_dir]
    if budget != "100%":
        cmd += ["--budget", budget]
    t0 = time.time()
    out = sh(cmd).stdout
    wall = time.time() - t0
    j = json.loads(out)
    return j, wall


def run_torch(ckpt, prompts, n, threads):
    import torch
    from torch_gpt2 import GPT2, load_hf_dir
    torch.set_num_threads(threads)
    t0 = time.time()
    config, tensors = load_hf_dir(ckpt)
    model = GPT2(config, tensors)
    load_s = time.time() - t0
    prefill_s = decode_s = 0.0
    generated = []
    with torch.no_grad():
        for p in prompts:  # one sequence at a time: the reference has no nested batching
            t0 = time.time()
            logits, past = model.forward(torch.tensor(p, dtype=torch.long))
            prefill_s += time.time() - t0
            out = []
            t0 = time.time()
            for i in range(n):
                t = int(torch.argmax(logits[-1]))
                out.append(t)
                if i + 1 < n:
                    logits, past = model.forward(torch.tensor([t]), past)
            decode_s += time.time() - t0
            generated.append(out)
    ptoks = sum(len(p) for p in prompts)
    return {"load_s": load_s, "prefill_s": prefill_s, "decode_s": decode_s,
            "prefill_tokens_per_s": ptoks / prefill_s,
            "decode_tokens_per_s": len(prompts) * (n - 1) / decode_s if n > 1 else 0.0,
            "generated": generated, "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferry", required=True, help="path to the ferry binary")
    ap.add_argument("--out", required=True, help="directory for the CSV/JSON results")
    ap.add_argument("--model", default="gpt2-large", help="preset whose shape (and random weights) to use")
    ap.add_argument("--workdir", default="/tmp/ferry-bench", help="where the checkpoint is exported")
    ap.add_argument("--n", type=int, default=16, help="tokens generated per sequence")
    ap.add_argument("--batch", type=int, default=4, help="number of prompts (one nested batch)")
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--streams", type=int, default=2)
    ap.add_argument("--budgets", default="100%,50%,25%")
    ap.add_argument("--policies", default="resident,um,um-prefetch,stream,auto")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.workdir, exist_ok=True)
    ckpt = os.path.join(args.workdir, args.model)
    if not os.path.exists(os.path.join(ckpt, "model.safetensors")):
        print(f"exporting {args.model} to {ckpt} ...", file=sys.stderr)
        sh([args.ferry, "export", "-q", "-m", args.model, "--out", ckpt])
    prompts = [[(17 * b + 31 * t + 5) % 50000 for t in range(args.prompt_len - 3 * b)] for b in range(args.batch)]
    prompts_file = os.path.join(args.workdir, "prompts.txt")
    with open(prompts_file, "w") as f:
        for p in prompts:
            f.write(" ".join(map(str, p)) + "\n")

    rows = []
    reference_tokens = None
    for budget in args.budgets.split(","):
        for policy in args.policies.split(","):
            if policy == "resident" and budget != "100%":
                continue
            print(f"ferry {policy} at {budget} ...", file=sys.stderr)
            j, wall = run_ferry(args, ckpt, prompts_file, policy, budget, args.n, args.depth, args.streams,
                                args.workdir)
            st = j["stats"]
            toks = [s["generated_ids"] for s in j["sequences"]]
            if reference_tokens is None:
                reference_tokens = toks
            rows.append({"engine": "ferry", "policy": policy, "plan": j["plan"]["summary"], "budget": budget,
                         "budget_bytes": st["budget_bytes"], "prefill_tokens_per_s": st["prefill_tokens_per_s"],
                         "decode_tokens_per_s": st["decode_tokens_per_s"], "bytes_h2d": st["bytes_h2d"],
                         "bytes_d2h": st["bytes_d2h"], "peak_resident_bytes": st["peak_resident_bytes"],
                         "model_bytes": st["model_bytes"], "load_s": st["load_s"], "wall_s": wall,
                         "same_tokens_as_first_run": toks == reference_tokens})
    if not args.no_torch:
        print("pytorch resident ...", file=sys.stderr)
        t = run_torch(ckpt, prompts, args.n, os.cpu_count())
        rows.append({"engine": "pytorch " + t["torch"], "policy": "resident", "plan": "eager, fp32, per sequence",
                     "budget": "100%", "budget_bytes": "", "prefill_tokens_per_s": t["prefill_tokens_per_s"],
                     "decode_tokens_per_s": t["decode_tokens_per_s"], "bytes_h2d": "", "bytes_d2h": "",
                     "peak_resident_bytes": "", "model_bytes": "", "load_s": t["load_s"], "wall_s": "",
                     "same_tokens_as_first_run": t["generated"] == reference_tokens})

    base = next(r for r in rows if r["engine"] == "ferry" and r["policy"] == "resident")
    torch_row = next((r for r in rows if r["engine"].startswith("pytorch")), None)
    for r in rows:
        r["decode_vs_ferry_resident"] = r["decode_tokens_per_s"] / base["decode_tokens_per_s"]
        if torch_row:
            r["decode_vs_pytorch"] = r["decode_tokens_per_s"] / torch_row["decode_tokens_per_s"]
            r["prefill_vs_pytorch"] = r["prefill_tokens_per_s"] / torch_row["prefill_tokens_per_s"]

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    meta = {"benchmark": "policy_bench", "model": args.model, "checkpoint": ckpt, "machine": machine(),
            "commit": commit(), "date": stamp, "knobs": {"n": args.n, "batch": args.batch,
            "prompt_len": args.prompt_len, "prefetch_depth": args.depth, "streams": args.streams,
            "budgets": args.budgets, "policies": args.policies, "device": "cpu"},
            "prompt_tokens": sum(len(p) for p in prompts)}
    name = f"policy-bench-cpu-{args.model}"
    with open(os.path.join(args.out, name + ".json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    with open(os.path.join(args.out, name + ".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) + ["decode_vs_pytorch", "prefill_vs_pytorch"],
                           extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    hdr = f"{'engine':<22}{'policy':<13}{'budget':>7}{'prefill tok/s':>15}{'decode tok/s':>14}{'moved h2d':>12}{'peak':>11}{'vs torch':>10}"
    print(f"# {args.model} on {meta['machine']['cpu']} ({meta['machine']['cores']} cores), commit {meta['commit']}")
    print(hdr)
    for r in rows:
        gib = lambda b: f"{b / 2**30:.2f} GiB" if isinstance(b, int) else "-"
        vs = f"{r.get('decode_vs_pytorch', 0):.2f}x" if torch_row else "-"
        print(f"{r['engine'][:21]:<22}{r['policy']:<13}{r['budget']:>7}{r['prefill_tokens_per_s']:>15.1f}"
              f"{r['decode_tokens_per_s']:>14.2f}{gib(r['bytes_h2d']):>12}{gib(r['peak_resident_bytes']):>11}{vs:>10}")


if __name__ == "__main__":
    main()
