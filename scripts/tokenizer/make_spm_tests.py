#!/usr/bin/env python3
"""Test data for ferry's SentencePiece tokenizer (models/tokenizer.cpp), written with the Python
`sentencepiece` package (Google's own implementation) and the `gguf` package (llama.cpp's writer):

  tests/data/tokenizer/spm/tokenizer.model  a tiny SentencePiece BPE model (byte_fallback, LLaMA 2's
                                            normalizer settings: identity, dummy prefix, extra
                                            whitespace kept), trained on CORPUS below
  tests/data/tokenizer/spm/config.json,     a tiny LLaMA with that vocabulary (random weights), so
    model.safetensors                       the directory is a Hugging Face model `ferry run` loads
  tests/data/tokenizer/spm.gguf             the same model and vocabulary as GGUF, with
                                            tokenizer.ggml.model = "llama" (tokens, scores,
                                            token_type, bos/eos/unk ids, add_bos_token)
  tests/data/tokenizer/spm_cases.json       ids of tricky texts from sentencepiece's encoder

Control pieces (<s>, </s>, <ctl>) written in a text are one token each in ferry; sentencepiece
itself never matches them, so the expected ids split the text at them (longest first) and encode
each piece of text between them on its own, as llama.cpp and Hugging Face's LlamaTokenizer do.
User-defined pieces (<sep>) are matched by sentencepiece itself.
Run: python3 scripts/tokenizer/make_spm_tests.py  (needs sentencepiece, gguf, numpy, safetensors).
"""
import io
import json
import os
import sys

import numpy as np
import sentencepiece as spm
import gguf
from safetensors.numpy import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gguf"))
import make_gguf_tests  # noqa: E402  (llama.cpp's tensor names and Q/K row order, written once)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "tests", "data", "tokenizer")
HF = os.path.join(DATA, "spm")

CORPUS = """\
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun.
A tokenizer turns text into numbers, and the model turns numbers into text again.
SentencePiece treats the input as a sequence of Unicode characters; the space is a symbol too.
When a character is not in the vocabulary, byte fallback writes it as its UTF-8 bytes.
In the morning we drink coffee at the café, and in the evening we read a naïve story.
Her résumé lists Zürich, São Paulo, Kraków and Málaga; the ñandú runs fast.
Numbers: 1, 2, 3, 10, 42, 100, 2024, 3.14159 and 1000000 are all fine.
def add(a, b):
    return a + b
for i in range(10):
    print(i, add(i, i))
東京は日本の首都です。中文也可以。
Hello world! Hello there, how are you? I am fine, thank you.
They'll say we've done it, but it's not done until it's done.
Spaces  and   more   spaces, tabs\tand newlines are part of the text.
The model reads the prompt, then writes the answer one token at a time.
Streaming output must never print half of a character to the terminal.
"""

# User-defined pieces are always one token; control pieces are only ever inserted by the caller.
USER_DEFINED = ["<sep>"]
CONTROL = ["<ctl>"]

TEXTS = [
    "", "Hello world", "Hello", " Hello", "  leading spaces", "multiple   spaces  here ", "trailing space ",
    "tabs\tand\ttab", "new\nlines\n\n", "\n starts with a newline", "numbers 12345 and 3.14159, 1000000",
    "unicode é ü ñandú café naïve", "Zürich São Paulo Kraków", "東京 中文 日本語", "emoji 🤗🚀 ok", "🤗",
    "ÀÉÎ ẞ ß ǅ", "<s>Hello</s>", "a</s>b <s> c", "<ctl>x<ctl><ctl>", "x <sep> y<sep>z", "<sep>",
    "<unk> stays text", "<s", "def add(a, b):\n    return a + b", " ", "   ", "\t",
]


def train():
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.splitlines()), model_writer=model, model_type="bpe",
        vocab_size=420, hard_vocab_limit=False, character_coverage=1.0, byte_fallback=True,
        normalization_rule_name="identity", add_dummy_prefix=True, remove_extra_whitespaces=False,
        split_digits=True, allow_whitespace_only_pieces=True, user_defined_symbols=USER_DEFINED,
        control_symbols=CONTROL, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
        minloglevel=2)
    return model.getvalue()


def token_types(sp):
    types = []
    for i in range(sp.get_piece_size()):
        p = sp.id_to_piece(i)
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i)
                     else 5 if sp.is_unused(i) else 4 if p in USER_DEFINED else 1)
    return types


def encode(sp, controls, text):
    """sentencepiece's ids, with the control pieces written in the text split out first."""
    ids, plain, i = [], 0, 0
    while i < len(text):
        hit = next((c for c in controls if text.startswith(c, i)), None)
        if hit is None:
            i += 1
            continue
        if i > plain:
            ids += sp.encode(text[plain:i])
        ids.append(sp.piece_to_id(hit))
        i += len(hit)
        plain = i
    if plain < len(text):
        ids += sp.encode(text[plain:])
    return ids


def tiny_llama(vocab, rng):
    """A 1-layer LLaMA (tied embeddings) under Hugging Face names, and its config."""
    H, nh, nkv, F = 8, 2, 1, 16
    D = H // nh
    cfg = {"model_type": "llama", "vocab_size": vocab, "hidden_size": H, "num_hidden_layers": 1,
           "num_attention_heads": nh, "num_key_value_heads": nkv, "intermediate_size": F,
           "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": True, "hidden_act": "silu", "torch_dtype": "float32",
           "bos_token_id": 1, "eos_token_id": 2}
    n = lambda *s: rng.normal(0, 0.5, s).astype(np.float32)
    w = {"model.embed_tokens.weight": n(vocab, H), "model.norm.weight": 1 + n(H) * 0.2,
         "model.layers.0.input_layernorm.weight": 1 + n(H) * 0.2,
         "model.layers.0.post_attention_layernorm.weight": 1 + n(H) * 0.2,
         "model.layers.0.self_attn.q_proj.weight": n(nh * D, H), "model.layers.0.self_attn.k_proj.weight": n(nkv * D, H),
         "model.layers.0.self_attn.v_proj.weight": n(nkv * D, H), "model.layers.0.self_attn.o_proj.weight": n(H, nh * D),
         "model.layers.0.mlp.gate_proj.weight": n(F, H), "model.layers.0.mlp.up_proj.weight": n(F, H),
         "model.layers.0.mlp.down_proj.weight": n(H, F)}
    return cfg, w


def write_gguf(path, cfg, w, sp, types):
    wr = gguf.GGUFWriter(path, "llama")
    wr.add_context_length(cfg["max_position_embeddings"])
    wr.add_embedding_length(cfg["hidden_size"])
    wr.add_block_count(cfg["num_hidden_layers"])
    wr.add_feed_forward_length(cfg["intermediate_size"])
    wr.add_head_count(cfg["num_attention_heads"])
    wr.add_head_count_kv(cfg["num_key_value_heads"])
    wr.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    wr.add_rope_freq_base(cfg["rope_theta"])
    n = sp.get_piece_size()
    wr.add_tokenizer_model("llama")
    wr.add_token_list([sp.id_to_piece(i) for i in range(n)])
    wr.add_token_scores([sp.get_score(i) for i in range(n)])
    wr.add_token_types(types)
    wr.add_bos_token_id(sp.bos_id())
    wr.add_eos_token_id(sp.eos_id())
    wr.add_unk_token_id(sp.unk_id())
    wr.add_add_bos_token(True)
    wr.add_add_eos_token(False)
    wr.add_add_space_prefix(True)
    make_gguf_tests.add_llama_tensors(wr, cfg, w)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def main():
    os.makedirs(HF, exist_ok=True)
    model = train()
    with open(os.path.join(HF, "tokenizer.model"), "wb") as f:
        f.write(model)
    sp = spm.SentencePieceProcessor(model_proto=model)
    n = sp.get_piece_size()
    types = token_types(sp)
    controls = sorted((sp.id_to_piece(i) for i in range(n) if types[i] == 3), key=len, reverse=True)
    cases = []
    for t in TEXTS:
        ids = encode(sp, controls, t)
        cases.append({"text": t, "ids": ids, "pieces": [sp.id_to_piece(i) for i in ids]})
    out = {"version": "spm-v1", "vocab_size": n, "bos_id": sp.bos_id(), "eos_id": sp.eos_id(),
           "unk_id": sp.unk_id(), "controls": controls, "user_defined": USER_DEFINED,
           "byte_pieces": sum(1 for x in types if x == 6), "cases": cases}
    with open(os.path.join(DATA, "spm_cases.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
        f.write("\n")

    cfg, w = tiny_llama(n, np.random.default_rng(11))
    with open(os.path.join(HF, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    with open(os.path.join(HF, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "tokenizer_class": "LlamaTokenizer"}, f, indent=1)
    save_file(w, os.path.join(HF, "model.safetensors"))
    write_gguf(os.path.join(DATA, "spm.gguf"), cfg, w, sp, types)


if __name__ == "__main__":
    main()
