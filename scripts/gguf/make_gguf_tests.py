"""Writes ferry's GGUF test data (tests/data/gguf/) with the PyPI `gguf` package (llama.cpp's own
writer) and an independent numpy LLaMA (llama_ref.py):
  tiny.gguf + tiny-hf/      one tiny LLaMA (GQA 6:2 heads, untied) as GGUF (F32, Q/K rows permuted as
                            llama.cpp's converter does) and as a Hugging Face directory
  golden.json               greedy continuations and logits.npy the prompt logits, from llama_ref
  quants.gguf, quants.json  one tensor per quant type, and gguf.quants.dequantize's values
  bad-*.gguf                malformed files, one defect each
  types.gguf                one metadata key of every GGUF value type (nested arrays too) and a
                            custom alignment of 64 before its one tensor
Run: python3 scripts/gguf/make_gguf_tests.py  (deterministic)."""
import json
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
import llama_ref  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "gguf")


def hf_tensors(cfg, rng, std):
    H, nh, nkv, F, V = (cfg[k] for k in ("hidden_size", "num_attention_heads", "num_key_value_heads",
                                         "intermediate_size", "vocab_size"))
    D = H // nh
    w = {"model.embed_tokens.weight": rng.normal(0, 1.0, (V, H)),
         "model.norm.weight": 1 + rng.normal(0, 0.1, H)}
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = rng.normal(0, std, (V, H))
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, H)
        w[p + "self_attn.q_proj.weight"] = rng.normal(0, std, (nh * D, H))
        w[p + "self_attn.k_proj.weight"] = rng.normal(0, std, (nkv * D, H))
        w[p + "self_attn.v_proj.weight"] = rng.normal(0, std, (nkv * D, H))
        w[p + "self_attn.o_proj.weight"] = rng.normal(0, std, (H, nh * D))
        w[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, H)
        w[p + "mlp.gate_proj.weight"] = rng.normal(0, std, (F, H))
        w[p + "mlp.up_proj.weight"] = rng.normal(0, std, (F, H))
        w[p + "mlp.down_proj.weight"] = rng.normal(0, std, (H, F))
    return {k: v.astype(np.float32) for k, v in w.items()}


def permute(w, n_head):  # llama.cpp convert_hf_to_gguf.py's reordering of Q and K rows
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGUF_NAMES = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
              "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
              "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
              "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
              "mlp.down_proj.weight": "ffn_down.weight"}


def add_llama_tensors(wr, cfg, w, shape_bug=None):
    """Adds Hugging Face LLaMA tensors `w` to GGUF writer `wr` under llama.cpp's names, Q and K rows
    permuted as its converter does (shared with scripts/tokenizer/make_spm_tests.py)."""
    for name, t in w.items():
        if name == "model.embed_tokens.weight": g = "token_embd.weight"
        elif name == "model.norm.weight": g = "output_norm.weight"
        elif name == "lm_head.weight": g = "output.weight"
        else:
            parts = name.split(".")
            g = f"blk.{parts[2]}." + GGUF_NAMES[".".join(parts[3:])]
        if name.endswith("q_proj.weight"): t = permute(t, cfg["num_attention_heads"])
        if name.endswith("k_proj.weight"): t = permute(t, cfg["num_key_value_heads"])
        if shape_bug and name == shape_bug: t = t[:-1]
        wr.add_tensor(g, np.ascontiguousarray(t))


def write_gguf(path, cfg, w, tokens=None, arch="llama", skip_key=None, string_key=None, shape_bug=None):
    wr = gguf.GGUFWriter(path, arch)
    kv = {"context_length": cfg["max_position_embeddings"], "embedding_length": cfg["hidden_size"],
          "block_count": cfg["num_hidden_layers"], "feed_forward_length": cfg["intermediate_size"],
          "attention.head_count": cfg["num_attention_heads"], "attention.head_count_kv": cfg["num_key_value_heads"]}
    for k, v in kv.items():
        if k == skip_key:
            continue
        if k == string_key:
            wr.add_string(f"{arch}.{k}", str(v))
        else:
            wr.add_uint32(f"{arch}.{k}", v)
    wr.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", cfg["rms_norm_eps"])
    wr.add_float32(f"{arch}.rope.freq_base", cfg["rope_theta"])
    if tokens is not None:
        wr.add_tokenizer_model("gpt2")
        wr.add_token_list(tokens)
    add_llama_tensors(wr, cfg, w, shape_bug)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def write_types(path):
    wr = gguf.GGUFWriter(path, "llama")
    wr.add_custom_alignment(64)
    wr.add_uint8("t.u8", 200); wr.add_int8("t.i8", -100); wr.add_uint16("t.u16", 60000); wr.add_int16("t.i16", -30000)
    wr.add_uint32("t.u32", 4000000000); wr.add_int32("t.i32", -2000000000); wr.add_float32("t.f32", 1.5)
    wr.add_uint64("t.u64", 2**63 + 5); wr.add_int64("t.i64", -2**62); wr.add_float64("t.f64", -2.25)
    wr.add_bool("t.bool", True); wr.add_string("t.str", "h\u00e9llo")
    wr.add_array("t.arr", [1, 2, 3]); wr.add_array("t.strs", ["a", "bc"]); wr.add_array("t.nested", [[1, 2], [3]])
    wr.add_tensor("x", np.arange(96, dtype=np.float32).reshape(3, 32))
    wr.write_header_to_file(); wr.write_kv_data_to_file(); wr.write_tensors_to_file(); wr.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    write_types(os.path.join(OUT, "types.gguf"))
    cfg = {"model_type": "llama", "vocab_size": 67, "hidden_size": 48, "num_hidden_layers": 2,
           "num_attention_heads": 6, "num_key_value_heads": 2, "intermediate_size": 40,
           "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": False, "hidden_act": "silu", "torch_dtype": "float32"}
    w = hf_tensors(cfg, np.random.default_rng(7), 0.3)
    write_gguf(os.path.join(OUT, "tiny.gguf"), cfg, w)
    hf = os.path.join(OUT, "tiny-hf")
    os.makedirs(hf, exist_ok=True)
    with open(os.path.join(hf, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    save_file(w, os.path.join(hf, "model.safetensors"))

    prompts = [[1], [5, 9, 3, 22, 11], [40, 2, 2, 17, 60, 33, 8, 1, 0, 66, 12, 30]]
    w64 = {k: v.astype(np.float64) for k, v in w.items()}
    logits = np.concatenate([llama_ref.forward(w64, cfg, np.array(p)) for p in prompts]).astype(np.float32)
    np.save(os.path.join(OUT, "logits.npy"), logits)
    greedy = [llama_ref.greedy(w64, cfg, p, 6) for p in prompts]
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump({"prompts": prompts, "generated": greedy, "n": 6}, f)

    # One [4, 256] tensor per type: quantized by the gguf package where it can, else random blocks
    # with finite scales; expected values from gguf.quants.dequantize.
    rng = np.random.default_rng(3)
    data = rng.normal(0, 1, (4, 256)).astype(np.float32)
    wr = gguf.GGUFWriter(os.path.join(OUT, "quants.gguf"), "llama")
    expected = {}
    for qt in [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q4_K, Q.Q6_K]:
        try:
            raw = gguf.quants.quantize(data, qt)
            how = "quantize"
        except Exception:
            block, size = gguf.GGML_QUANT_SIZES[qt]
            raw = rng.integers(0, 256, (4, 256 // block * size), dtype=np.uint8)
            half = np.float16(0.01).view(np.uint16)
            for r in range(4):
                for b in range(256 // block):
                    o = b * size
                    if qt == Q.Q4_K:
                        raw[r, o:o + 2] = np.frombuffer(struct.pack("<H", half), np.uint8)
                        raw[r, o + 2:o + 4] = np.frombuffer(struct.pack("<H", half), np.uint8)
                    if qt == Q.Q6_K:
                        raw[r, o + size - 2:o + size] = np.frombuffer(struct.pack("<H", half), np.uint8)
            how = "random blocks"
        deq = gguf.quants.dequantize(raw, qt).astype(np.float32).reshape(-1)
        wr.add_tensor(f"q.{qt.name}", raw, raw_dtype=qt)
        expected[qt.name] = {"how": how, "values": [float(x) for x in deq]}
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    with open(os.path.join(OUT, "quants.json"), "w") as f:
        json.dump(expected, f)

    micro = dict(cfg, vocab_size=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                 num_key_value_heads=1, intermediate_size=8, max_position_embeddings=16)
    mw = hf_tensors(micro, np.random.default_rng(1), 0.3)
    toks = [f"t{i}" for i in range(8)]
    write_gguf(os.path.join(OUT, "micro.gguf"), micro, mw, tokens=toks)
    write_gguf(os.path.join(OUT, "bad-arch.gguf"), micro, mw, arch="falcon")
    write_gguf(os.path.join(OUT, "bad-missing-key.gguf"), micro, mw, skip_key="block_count")
    write_gguf(os.path.join(OUT, "bad-key-type.gguf"), micro, mw, string_key="embedding_length")
    write_gguf(os.path.join(OUT, "bad-shape.gguf"), micro, mw, shape_bug="model.layers.0.mlp.up_proj.weight")
    write_gguf(os.path.join(OUT, "bad-vocab.gguf"), micro, mw, tokens=toks[:7])
    wr = gguf.GGUFWriter(os.path.join(OUT, "bad-type.gguf"), "llama")
    wr.add_tensor("blk.0.attn_q.weight", np.zeros((8, 66), np.uint8), raw_dtype=Q.IQ2_XXS)
    wr.write_header_to_file(); wr.write_kv_data_to_file(); wr.write_tensors_to_file(); wr.close()


if __name__ == "__main__":
    main()
