#!/usr/bin/env python3
"""Expected ids for models/tokenizer.cpp's GGUF-style tokenizers, from Hugging Face `tokenizers`
(an independent implementation).

  * tests/data/tokenizer/gguf_cases.json (committed, small): the tiny byte-level vocabulary of
    tests/data/tokenizer/tokenizer.json given as GGUF-style data (tokens, token_type, merges), with
    ids for the pre-tokenizers "gpt2", "smollm" (\\p{N} isolated, then ByteLevel) and "llama-bpe"
    (LLaMA 3's Split regex, then ByteLevel), and special tokens in the text.
  * tests/data/tokenizer/hf-smollm/, hf-llama3/ (committed, small): the same vocabulary as Hugging
    Face tokenizer.json + tokenizer_config.json in SmolLM2's and LLaMA 3's shapes (pre-tokenizer,
    added tokens, LLaMA 3's BOS post-processor, bos/eos tokens, chat template), with ids from
    `tokenizers` (add_special_tokens=True) and the chat prompt jinja2 renders, in hf_cases.json.
  * With a SmolLM2 GGUF (argument 1, e.g. SmolLM2-135M-Instruct.Q4_1.gguf, from scripts/smollm2):
    tests/data/tokenizer/smollm2_cases.json, ids of its vocabulary; the test loads the vocabulary
    from the GGUF that FERRY_SMOLLM2_GGUF names (scripts/test sets it).
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
    # Only the expected ids are committed; the test reads the vocabulary from the GGUF itself.
    out = {"version": "smollm2-tokenizer-v1", "pre": pre,
           "bos_id": int(one("tokenizer.ggml.bos_token_id")[0]), "eos_id": int(one("tokenizer.ggml.eos_token_id")[0]),
           "cases": cases(tok)}
    import jinja2
    out["chat_rendered"] = jinja2.Template(bytes(one("tokenizer.chat_template")).decode()).render(
        messages=[{"role": "user", "content": "What is 2+2?"}], add_generation_prompt=True)
    with open(os.path.join(DATA, "smollm2_cases.json"), "w") as fo:
        json.dump(out, fo, ensure_ascii=False, separators=(",", ":"))

LLAMA3_CHAT = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
               "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
               "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
               "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
          "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

def hf_dirs():
    import jinja2
    from tokenizers import processors
    tj = json.load(open(os.path.join(DATA, "tokenizer.json")))
    vocab = dict(tj["model"]["vocab"])
    vocab.pop("<|endoftext|>", None)  # an added token below
    tokens = [None] * len(vocab)
    for t, i in vocab.items(): tokens[i] = t
    merges = tj["model"]["merges"]
    shapes = {
        "hf-smollm": ("smollm", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                      {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "chat_template": CHATML}),
        "hf-llama3": ("llama-bpe", ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                      {"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>", "special": True},
                       "chat_template": LLAMA3_CHAT}),
    }
    out = {"version": "hf-tokenizer-v1"}
    for name, (pre, specials, cfg) in shapes.items():
        tok = hf(tokens, merges, pre, specials)
        if name == "hf-llama3":
            bos = specials[0]
            tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))])
        d = os.path.join(DATA, name)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"))
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        bos_text = cfg["bos_token"]
        rendered = jinja2.Template(cfg["chat_template"]).render(
            messages=[{"role": "user", "content": "What is 2+2?"}], add_generation_prompt=True, bos_token=bos_text)
        out[name] = {"cases": [{"text": t, "ids": tok.encode(t, add_special_tokens=True).ids} for t in TEXTS],
                     "chat_rendered": rendered, "chat_ids": tok.encode(rendered, add_special_tokens=False).ids,
                     "bos_id": tok.token_to_id(bos_text), "eos_id": tok.token_to_id(specials[-1] if name == "hf-llama3" else "<|im_end|>")}
    with open(os.path.join(DATA, "hf_cases.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))

tiny()
hf_dirs()
if len(sys.argv) > 1: smollm2(sys.argv[1])
