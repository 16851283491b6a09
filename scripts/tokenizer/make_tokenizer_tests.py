#!/usr/bin/env python3
"""Expected ids for models/tokenizer.cpp's GGUF-style tokenizers, from Hugging Face `tokenizers`
(an independent implementation).

  * tests/data/tokenizer/gguf_cases.json (committed, small): the tiny byte-level vocabulary of
    tests/data/tokenizer/tokenizer.json given as GGUF-style data (tokens, token_type, merges), with
    ids for the pre-tokenizers "gpt2", "smollm" (\\p{N} isolated, then ByteLevel) and "llama-bpe"
    (LLaMA 3's Split regex, then ByteLevel), and special tokens in the text.
  * With a SmolLM2 GGUF (argument 1, e.g. SmolLM2-135M-Instruct.Q4_1.gguf): /tmp/smollm2_tokenizer.json
    with its vocabulary and ids; the test reads it from FERRY_SMOLLM2_TOKENIZER_JSON.
"""
import json, os, sys
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, Regex, AddedToken

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "tests", "data", "tokenizer")
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
TEXTS = ["", "Hello world", "  leading spaces", "multiple   spaces  here ", "tabs\tand\nnewlines\n\n\r\n end",
         "numbers 12345 and 3.14159, 1000000", "I'm sure they'll say we've DONE IT'S", "unicode é ü 中文 ñandú",
         "emoji 🤗🚀 ok", "trailing newline\n", " \n \n  x", "<|im_start|>user\nhi<|im_end|>\n",
         "a<|endoftext|>b <|im_start|> c", "x = f(a, b) + 42;\n    return x", "ÀÉÎ ẞ ß ǅ", "don't 'S 'LL"]

def hf(tokens, merges, pre, specials):
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges]))
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre == "gpt2":
        tok.pre_tokenizer = bl
    elif pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), bl])
    elif pre == "llama-bpe":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok

def cases(tok):
    return [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in TEXTS]

def tiny():
    tj = json.load(open(os.path.join(DATA, "tokenizer.json")))
    vocab = tj["model"]["vocab"]
    tokens = [None] * (max(vocab.values()) + 1)
    for t, i in vocab.items(): tokens[i] = t
    tokens += ["<|im_start|>", "<|im_end|>"]
    types = [1] * len(tokens)
    for i, t in enumerate(tokens):
        if t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"): types[i] = 3
    merges = tj["model"]["merges"]
    specials = [t for i, t in enumerate(tokens) if types[i] == 3]
    out = {"version": "gguf-tokenizer-v1", "tokens": tokens, "token_type": types, "merges": merges,
           "bos_id": tokens.index("<|im_start|>"), "eos_id": tokens.index("<|im_end|>"), "pre": {}}
    for pre in ("gpt2", "smollm", "llama-bpe"):
        out["pre"][pre] = cases(hf(tokens, merges, pre, specials))
    with open(os.path.join(DATA, "gguf_cases.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))

def smollm2(path):
    from gguf import GGUFReader
    r = GGUFReader(path)
    f = r.fields
    strs = lambda k: [bytes(f[k].parts[i]).decode() for i in f[k].data]
    one = lambda k: f[k].parts[f[k].data[0]]
    tokens, merges = strs("tokenizer.ggml.tokens"), strs("tokenizer.ggml.merges")
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    pre = bytes(one("tokenizer.ggml.pre")).decode()
    specials = [t for i, t in enumerate(tokens) if types[i] in (3, 4)]
    tok = hf(tokens, merges, pre, specials)
    out = {"model": "gpt2", "pre": pre, "tokens": tokens, "token_type": types, "merges": merges,
           "bos_id": int(one("tokenizer.ggml.bos_token_id")[0]), "eos_id": int(one("tokenizer.ggml.eos_token_id")[0]),
           "chat_template": bytes(one("tokenizer.chat_template")).decode(), "cases": cases(tok)}
    import jinja2
    out["chat_rendered"] = jinja2.Template(out["chat_template"]).render(
        messages=[{"role": "user", "content": "What is 2+2?"}], add_generation_prompt=True)
    with open("/tmp/smollm2_tokenizer.json", "w") as fo:
        json.dump(out, fo, ensure_ascii=False)

tiny()
if len(sys.argv) > 1: smollm2(sys.argv[1])
