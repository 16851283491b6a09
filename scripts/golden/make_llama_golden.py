#!/usr/bin/python3
"""Makes the LLaMA-family golden data in tests/data/llama/: tiny random checkpoints written by
Hugging Face transformers' own classes (LlamaForCausalLM, MistralForCausalLM, GraniteForCausalLM),
with the prompt logits and greedy continuations computed by those same classes in float64, so the
reference shares no code with ferry.

Run with the system python (Debian's python3-torch) after
    /usr/bin/python3 -m pip install --break-system-packages transformers==4.45.2
(the last release line that runs on torch 1.13):
    /usr/bin/python3 scripts/golden/make_llama_golden.py [--out tests/data/llama]

Each case directory holds what save_pretrained writes (config.json, model.safetensors; the tied
cases have no lm_head.weight), prompts and greedy ids in golden.json and the float32 logits of every
prompt token, prompts concatenated in order, in logits.npy. Greedy continuations recompute the
whole sequence at each step (no KV cache). The weights come from torch.Generator(seed) with larger
scales than the models' init, so every parameter matters; the script takes the first seed for which
every greedy choice beats the runner-up by MIN_MARGIN and each continuation has MIN_DISTINCT tokens,
so a float32 implementation agrees on the tokens and a position or cache bug cannot hide.
"""
import argparse
import json
import os

import numpy as np
import torch
import transformers
from transformers import (GraniteConfig, GraniteForCausalLM, LlamaConfig, LlamaForCausalLM,
                          MistralConfig, MistralForCausalLM)

VERSION = "llama-golden-v1"
PROMPTS = [[3], [5, 9, 3, 22, 11], [40, 2, 2, 17, 60, 33, 8, 1, 0, 66, 12, 30, 7]]
N_NEW = 6
MIN_MARGIN = 0.03
MIN_DISTINCT = 3

COMMON = dict(vocab_size=71, num_hidden_layers=2, max_position_embeddings=64, rms_norm_eps=1e-5,
              hidden_act="silu", bos_token_id=1, eos_token_id=2)

# name: (config class, model class, config kwargs, stored dtype)
CASES = {
    # GQA ratio 5 (5 query heads, 1 KV head), odd head count, untied head.
    "llama-gqa5-untied": (LlamaConfig, LlamaForCausalLM,
                          dict(hidden_size=40, num_attention_heads=5, num_key_value_heads=1,
                               intermediate_size=56, tie_word_embeddings=False, rope_theta=10000.0), torch.float32),
    # GQA ratio 3, head dim 16, tied head, attention biases, LLaMA 3 rope scaling.
    "llama3-gqa3-tied-bias": (LlamaConfig, LlamaForCausalLM,
                              dict(hidden_size=48, num_attention_heads=3, num_key_value_heads=1,
                                   intermediate_size=64, tie_word_embeddings=True, attention_bias=True,
                                   rope_theta=500000.0,
                                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
                              torch.float32),
    # Mistral: no sliding window, explicit head_dim (12 != 48 / 6), GQA ratio 3, rope_theta 1e6.
    "mistral-gqa3": (MistralConfig, MistralForCausalLM,
                     dict(hidden_size=48, num_attention_heads=6, num_key_value_heads=2, head_dim=12,
                          intermediate_size=72, tie_word_embeddings=False, sliding_window=None,
                          rope_theta=1000000.0), torch.float32),
    # Granite: the four multipliers, GQA ratio 2, untied head (tied, the scaled embedding of the last token
    # dominates and every continuation repeats it).
    "granite-gqa2": (GraniteConfig, GraniteForCausalLM,
                     dict(hidden_size=32, num_attention_heads=4, num_key_value_heads=2, intermediate_size=48,
                          tie_word_embeddings=False, rope_theta=10000.0, embedding_multiplier=2.0,
                          residual_multiplier=0.7, attention_multiplier=0.2, logits_scaling=2.0), torch.float32),
    # A BF16 checkpoint (linear rope scaling, MHA): the reference runs on the stored bf16 values.
    "llama-bf16": (LlamaConfig, LlamaForCausalLM,
                   dict(hidden_size=32, num_attention_heads=2, num_key_value_heads=2, intermediate_size=40,
                        tie_word_embeddings=False, rope_theta=10000.0,
                        rope_scaling={"rope_type": "linear", "factor": 2.0}), torch.bfloat16),
}


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64))


def forward(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].double()


def greedy(model, prompt):
    ids, out, margin = list(prompt), [], float("inf")
    for _ in range(N_NEW):
        last = forward(model, ids)[-1]
        top = torch.topk(last, 2).values
        margin = min(margin, float(top[0] - top[1]))
        t = int(torch.argmax(last))
        out.append(t)
        ids.append(t)
    return out, margin


def make_case(out_dir, name, cfg_cls, model_cls, kwargs, dtype):
    for seed in range(1, 200):
        torch.manual_seed(seed)
        cfg = cfg_cls(**COMMON, **kwargs, torch_dtype=str(dtype).replace("torch.", ""))
        model = model_cls(cfg).to(torch.float32)
        randomize(model, seed)
        stored = model.to(dtype)
        ref = model_cls(cfg).double()  # the float64 reference on the stored values
        ref.load_state_dict({k: v.double() for k, v in stored.state_dict().items()})
        ref.eval()
        gens, margins = zip(*(greedy(ref, p) for p in PROMPTS))
        if min(margins) >= MIN_MARGIN and all(len(set(g)) >= MIN_DISTINCT for g in gens):
            break
    else:
        raise SystemExit(f"{name}: no seed gives well separated greedy choices")
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    stored.save_pretrained(d, safe_serialization=True)
    gen_cfg = os.path.join(d, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)
    logits = torch.cat([forward(ref, p) for p in PROMPTS]).float().numpy()
    np.save(os.path.join(d, "logits.npy"), logits)
    with open(os.path.join(d, "golden.json"), "w") as f:
        json.dump({"version": VERSION, "transformers": transformers.__version__, "torch": torch.__version__,
                   "seed": seed, "min_margin": min(margins), "prompts": PROMPTS, "n": N_NEW,
                   "generated": list(gens)}, f, indent=1)
    print(f"{name}: seed {seed}, min margin {min(margins):.3f}, generated {list(gens)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "llama"))
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    args = ap.parse_args()
    for name, (cfg_cls, model_cls, kwargs, dtype) in CASES.items():
        if args.cases and name not in args.cases:
            continue
        make_case(args.out, name, cfg_cls, model_cls, kwargs, dtype)


if __name__ == "__main__":
    main()
