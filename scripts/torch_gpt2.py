"""An independent PyTorch implementation of GPT-2 (Radford et al. 2019; the Hugging Face GPT2LMHeadModel
architecture: pre-LN blocks, causal self-attention, gelu_new, tied LM head) that loads a Hugging Face
GPT-2 directory (config.json + model.safetensors or sharded). Used by the golden-data script and
by the benchmarks as the side-by-side reference. Needs only torch and numpy (Debian packages).
"""
import json
import math
import os
import struct

import numpy as np
import torch

_NP_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "F64": np.float64, "I64": np.int64,
              "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    """Returns {name: torch.Tensor (float32)} of the floating tensors in one safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = np.asarray(data[begin:end])
        dt = info["dtype"]
        if dt == "BF16":
            t = torch.from_numpy(raw.view(np.int16).astype(np.int32) << 16).view(torch.float32)
        elif dt in ("F32", "F16", "F64"):
            t = torch.from_numpy(raw.view(_NP_DTYPES[dt]).astype(np.float32))
        else:
            continue  # masks and other buffers are not weights
        out[name.removeprefix("transformer.")] = t.reshape(info["shape"])
    return out


def load_hf_dir(path):
    """(config dict, {name: float32 tensor}) of a Hugging Face GPT-2 directory."""
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(path, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        for fn in files:
            tensors.update(read_safetensors(os.path.join(path, fn)))
    else:
        tensors = read_safetensors(os.path.join(path, "model.safetensors"))
    return config, tensors


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2(torch.nn.Module):
    """GPT-2 with an optional KV cache. Weights keep the HF Conv1D orientation: y = x @ W + b."""

    def __init__(self, config, tensors, dtype=torch.float32):
        super().__init__()
        self.H = config["n_embd"]
        self.L = config["n_layer"]
        self.nh = config["n_head"]
        self.eps = config.get("layer_norm_epsilon", 1e-5)
        act = config.get("activation_function", "gelu_new")
        self.act = gelu_new if act in ("gelu_new", "gelu_pytorch_tanh") else torch.nn.functional.gelu
        self.w = {k: v.to(dtype) for k, v in tensors.items()}
        self.head = self.w.get("lm_head.weight", self.w["wte.weight"])

    def ln(self, x, name):
        return torch.nn.functional.layer_norm(x, (self.H,), self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def forward(self, ids, past=None):
        """ids: [T] of one sequence; past: list of (k, v) [nh, t, D] per layer or None.
        Returns logits [T, V] and the new cache."""
        T = ids.shape[0]
        start = 0 if past is None else past[0][0].shape[1]
        x = self.w["wte.weight"][ids] + self.w["wpe.weight"][start:start + T]
        D = self.H // self.nh
        new_past = []
        for l in range(self.L):
            p = f"h.{l}."
            a = self.ln(x, p + "ln_1")
            qkv = a @ self.w[p + "attn.c_attn.weight"] + self.w[p + "attn.c_attn.bias"]
            q, k, v = qkv.split(self.H, dim=1)
            q = q.view(T, self.nh, D).transpose(0, 1)
            k = k.view(T, self.nh, D).transpose(0, 1)
            v = v.view(T, self.nh, D).transpose(0, 1)
            if past is not None:
                k = torch.cat([past[l][0], k], dim=1)
                v = torch.cat([past[l][1], v], dim=1)
            new_past.append((k, v))
            S = k.shape[1]
            att = (q @ k.transpose(1, 2)) / math.sqrt(D)
            mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
            att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(0, 1).reshape(T, self.H)
            x = x + (y @ self.w[p + "attn.c_proj.weight"] + self.w[p + "attn.c_proj.bias"])
            m = self.ln(x, p + "ln_2")
            m = self.act(m @ self.w[p + "mlp.c_fc.weight"] + self.w[p + "mlp.c_fc.bias"])
            x = x + (m @ self.w[p + "mlp.c_proj.weight"] + self.w[p + "mlp.c_proj.bias"])
        x = self.ln(x, "ln_f")
        return x @ self.head.T, new_past

    @torch.no_grad()
    def greedy(self, prompt, n, use_cache=True):
        """n greedy tokens after `prompt` (list of ids). Without the cache, every step recomputes."""
        ids = torch.tensor(prompt, dtype=torch.long)
        out = []
        if not use_cache:
            for _ in range(n):
                logits, _ = self.forward(ids)
                t = int(torch.argmax(logits[-1]))
                out.append(t)
                ids = torch.cat([ids, torch.tensor([t])])
            return out
        logits, past = self.forward(ids)
        for i in range(n):
            t = int(torch.argmax(logits[-1]))
            out.append(t)
            if i + 1 < n:
                logits, past = self.forward(torch.tensor([t]), past)
        return out
