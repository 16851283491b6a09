#!/usr/bin/env python3
"""Test data for models/tokenizer_wordpiece.cpp (BERT's WordPiece), from Hugging Face `tokenizers`
(an independent implementation: BertNormalizer + BertPreTokenizer + WordPiece + WordPiece decoder).

  * tests/data/tokenizer/wordpiece/uncased/ and cased/ (committed, small): a WordPiece vocabulary
    of 400 tokens trained by `tokenizers`' WordPieceTrainer on the text below, written both as
    tokenizer.json (with BERT's TemplateProcessing, and BERT's Fixed 128 padding and truncation,
    which ferry must ignore) and as vocab.txt + tokenizer_config.json. The vocab.txt form is
    checked here to encode exactly as the tokenizer.json form.
  * tests/data/tokenizer/wordpiece_cases.json: ids of tricky texts for "uncased" (lowercase,
    strip_accents null = follows lowercase), "cased" (neither) and "cased-strip" (the cased
    vocabulary with strip_accents true), with and without [CLS]/[SEP], pair encodings with type
    ids, and decode(ids) (skip_special_tokens=False).
  * With all-MiniLM-L6-v2's model directory (argument 1, e.g. the output of scripts/minilm):
    tests/data/tokenizer/minilm_cases.json, ids from its tokenizer.json (no_padding,
    no_truncation) for ~30 sentences and a few pairs; the test reads the directory that
    FERRY_MINILM_DIR names.
WordPieceTrainer's result varies from run to run (ties between equally frequent pairs), so the
committed vocabularies are kept and only the cases are recomputed, unless --retrain is given.
Usage: scripts/tokenizer/make_wordpiece_tests.py [--retrain] [MINILM_MODEL_DIR]
"""
import json, os, sys
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "tests", "data", "tokenizer")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

CORPUS = [
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away!",
    "Transformers read tokens: words, word pieces, and punctuation marks (like these).",
    "Question answering needs a question and a context. Where is the answer? In the context.",
    "I'm sure they'll say we've done it, don't you think? It's what they're for.",
    "Running, runner, runs, ran: the runners were running faster than anyone expected.",
    "Unbelievable! Unaffable people playing unplayable games, replaying them again and again.",
    "Café au lait, naïve résumé, Ångström units, façade, jalapeño, über, Zürich, São Paulo.",
    "Numbers: 12345, 3.14159, 1,000,000 and 42 are numbers; 2024-01-15 is a date.",
    "Emails like someone@example.com and URLs like https://example.org/path?x=1 appear too.",
    "中文 文本 的 分词 是 按 字 进行 的 。 日本語 も 漢字 を 使う 。",
    "Ελληνικά γράμματα και Русский текст тоже встречаются в этом корпусе.",
    "BERT uses [CLS] first and [SEP] between sentences; [MASK] hides a word.",
    "Smile 🙂 please",
    "ΟΔΟΣ οδος σας Straße ß ẞ ǅemal ǆ ﬁle Ⅻ ⅻ İstanbul istanbul ¿Qué? ¡Sí! «quotes» — dash … ellipsis",
    "$100 + 50% = #hash & more ~ `tick` ^caret |pipe| CAFÉ NAÏVE ÅNGSTRÖM HELLO Hello QUICK cafe\u0301",
]
TEXTS = [
    "", "   ", "Hello world", "hello, world!", "The QUICK Brown fox.", "running runners unaffable",
    "café naïve Ångström", "CAFÉ NAÏVE ÅNGSTRÖM", "cafe\u0301 decomposed", "résumé façade jalapeño",
    "中文分词是按字进行的", "日本語も漢字を使う。", "mixed中文text", "emoji 🙂 and 🤗 and 🚀!",
    "control\u0000chars\u0007here\u200band\ufffdthere\u00adsoft", "tabs\tand\nnewlines\r\nand\u00a0nbsp\u3000ideo",
    "x" * 101, "é" * 100, "é" * 101, "ab" * 50, "ab" * 50 + "a", "zzqxj unknownword qqq",
    "[CLS] the fox [SEP] the dog [SEP]", "a[MASK]b [PAD][UNK]", "[cls] lowercase is not special",
    "I'm sure they'll say we've done it, don't you think?", "Numbers 12345 and 3.14159, 1,000,000",
    "someone@example.com https://example.org/path?x=1", "Ελληνικά ΟΔΟΣ Русский ТЕКСТ",
    "¿Qué? ¡Sí! «quotes» — dash … ellipsis", "$100 + 50% = #hash & more ~ `tick` ^caret |pipe|",
    "İstanbul ǅ ẞ ß Ⅻ ﬁ", "\U0002B820 \U0002B81F \U0002B920x", "punctuation!!!...???",
]
PAIRS = [
    ("Where is the fox?", "The quick brown fox jumps over the lazy dog."),
    ("", "only the second"),
    ("only the first", ""),
    ("What is [MASK]?", "café au lait"),
]
MINILM_TEXTS = [
    "This is an example sentence", "Each sentence is converted", "Hello, world!",
    "The quick brown fox jumps over the lazy dog.", "Sentence embeddings are useful for semantic search.",
    "I'm sure they'll say we've done it, don't you think?", "Café au lait, naïve résumé, Ångström.",
    "中文分词是按字进行的。", "日本語のテキストも使えます", "Ελληνικά και Русский текст",
    "Emoji 🙂 🤗 🚀 are unknown", "tabs\tand\nnewlines\r\n", "control\u0000chars\u0007here\u200b",
    "Numbers: 12345, 3.14159 and 1,000,000", "someone@example.com visited https://example.org/a?b=c",
    "unaffable unbelievable antidisestablishmentarianism", "x" * 120,
    "[CLS] special [SEP] tokens [MASK] in [PAD] text [UNK]", "UPPER CASE AND lower case",
    "¿Qué tal? ¡Muy bien!", "The year 2024 was a leap year.", "C++ and Rust, Python & Go",
    "A man is playing a guitar.", "A woman is slicing an onion.", "Two dogs are running through a field.",
    "The cat sat on the mat; the dog didn't.", "Machine learning models learn from data",
    "What's the weather like in São Paulo today?", "She said: \"it's fine\" — and left…",
    "İstanbul ǅ ẞ ß ΟΔΟΣ", "",
]
MINILM_PAIRS = [
    ("What is the capital of France?", "Paris is the capital and most populous city of France."),
    ("How many legs does a spider have?", "Spiders have eight legs."),
    ("", "Empty question"),
]


def pipeline(tok, lowercase, strip_accents):
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=strip_accents, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    return tok


def post(tok):
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def train(lowercase):
    tok = pipeline(Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100)), lowercase, None)
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=400, special_tokens=SPECIALS, min_frequency=1))
    return post(tok)


def write_dir(name, tok, lowercase):
    d = os.path.join(DATA, "wordpiece", name)
    os.makedirs(d, exist_ok=True)
    tok.enable_truncation(max_length=128)
    tok.enable_padding(length=128, pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
    tok.save(os.path.join(d, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab)))
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t, _ in vocab)
    cfg = {"do_lower_case": lowercase, "strip_accents": None, "tokenize_chinese_chars": True,
           "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
           "mask_token": "[MASK]", "tokenizer_class": "BertTokenizer"}
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    return d


def from_vocab_txt(d, lowercase, strip_accents):
    """The vocab.txt form, built independently of tokenizer.json, to check it encodes the same."""
    tok = Tokenizer(models.WordPiece.from_file(os.path.join(d, "vocab.txt"), unk_token="[UNK]"))
    tok.add_special_tokens([t for t in SPECIALS if tok.token_to_id(t) is not None])  # BertTokenizer's never_split
    return post(pipeline(tok, lowercase, strip_accents))


def cases(tok, texts, pairs, check=None):
    out = {"cases": [], "pairs": []}
    for t in texts:
        plain, special = tok.encode(t, add_special_tokens=False), tok.encode(t)
        c = {"text": t, "tokens": plain.tokens, "ids": plain.ids, "ids_special": special.ids,
             "decoded": tok.decode(plain.ids, skip_special_tokens=False),
             "decoded_special": tok.decode(special.ids, skip_special_tokens=False)}
        if check:
            assert check.encode(t).ids == special.ids, t
        out["cases"].append(c)
    for a, b in pairs:
        e = tok.encode(a, b)
        out["pairs"].append({"a": a, "b": b, "ids": e.ids, "type_ids": e.type_ids})
        if check:
            assert check.encode(a, b).ids == e.ids, (a, b)
    return out


def tiny(retrain):
    out = {"version": "wordpiece-v1", "variants": {}}
    for name, lowercase in (("uncased", True), ("cased", False)):
        d = os.path.join(DATA, "wordpiece", name)
        if retrain or not os.path.exists(os.path.join(d, "tokenizer.json")):
            d = write_dir(name, train(lowercase), lowercase)
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        tok.no_padding()
        tok.no_truncation()
        v = cases(tok, TEXTS, PAIRS, from_vocab_txt(d, lowercase, None))
        v.update({"dir": name, "lowercase": lowercase, "strip_accents": None, "vocab_size": tok.get_vocab_size()})
        out["variants"][name] = v
        if name == "cased":  # the cased vocabulary with strip_accents true
            tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                        strip_accents=True, lowercase=False)
            v = cases(tok, TEXTS, PAIRS, from_vocab_txt(d, False, True))
            v.update({"dir": name, "lowercase": False, "strip_accents": True, "vocab_size": tok.get_vocab_size()})
            out["variants"]["cased-strip"] = v
    with open(os.path.join(DATA, "wordpiece_cases.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


def minilm(model_dir):
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    out = {"version": "minilm-v1", "vocab_size": tok.get_vocab_size()}
    out.update(cases(tok, MINILM_TEXTS, MINILM_PAIRS, from_vocab_txt(model_dir, True, None)))
    with open(os.path.join(DATA, "minilm_cases.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    retrain = "--retrain" in args
    args = [a for a in args if a != "--retrain"]
    tiny(retrain)
    if args:
        minilm(args[0])
