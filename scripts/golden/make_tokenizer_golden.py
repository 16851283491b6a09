#!/usr/bin/python3
"""Makes the tokenizer test data in tests/data/tokenizer/: a small byte-level BPE vocabulary and the
expected token ids of a set of test strings, from an encoder written here independently of
ferry's C++ one (models/tokenizer.cpp).

Run with the system python (it needs the `regex` module, Debian package python3-regex):
    /usr/bin/python3 scripts/golden/make_tokenizer_golden.py [--out tests/data/tokenizer]

Written from the algorithm description of GPT-2's tokenizer (Radford et al. 2019, "Language Models
are Unsupervised Multitask Learners", section 2.2) and of BPE (Sennrich et al. 2016, "Neural
Machine Translation of Rare Words with Subword Units", section 3.2):
  * byte level: text is UTF-8 bytes; every byte is shown as one printable Unicode character (the
    printable bytes '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF stand for themselves, the others are
    given the code points 256, 257, ... in byte order), so vocabulary entries are plain strings;
  * pre-tokenisation: the text is cut into words by the pattern below, and merges never cross
    a word boundary;
  * training: start from single bytes and repeatedly merge the most frequent adjacent pair
    (counted over the words, weighted by word frequency); each merge gets the next rank;
  * encoding a word: repeatedly merge every occurrence of the adjacent pair with the lowest rank,
    until no adjacent pair has a rank.

Outputs (all small):
  vocab.json      {"token": id}, the classic GPT-2 file (non-ASCII written as UTF-8)
  merges.txt      "#version: 0.2" then one merge "a b" a line, in rank order
  tokenizer.json  the same as a Hugging Face tokenizer.json, model.type "BPE" (ASCII-escaped JSON)
  cases.json      {"version", "vocab_size", "cases": [{"text", "ids"}]}
"""
import argparse
import collections
import json
import os

import regex

VERSION = "tokenizer-v1"
NUM_MERGES = 300
END_OF_TEXT = "<|endoftext|>"

# GPT-2's pre-tokenisation pattern (section 2.2 of the paper describes why; this is its regex).
PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

# The training text: English with contractions, numbers, punctuation and whitespace runs,
# accented Latin, Greek, CJK and emoji, so merges exist for every kind of word.
CORPUS = """
The quick brown fox jumps over the lazy dog. The dog didn't care; it's the fox's problem, isn't it?
I'm sure they'll say we've done what we'd planned: they're here, and that's that.
In 2023 there were 1,234,567 visitors; in 2024, 2,345,678. Pi is 3.14159, e is 2.71828.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 100 1000 42 42 42 and 3.5% of $19.99 (plus 7% tax).
Punctuation!!! Really?! Yes... (maybe) [brackets] {braces} <angles> "quotes" 'single' -- dashes --
    indented line with four spaces
\tand a tab, then  two  spaces   three   spaces.
Trailing spaces here   
Line one
Line two

Paragraph after a blank line.
Café, naïve, résumé, façade, déjà vu, Ångström, Zürich, São Paulo, crème brûlée, piñata.
Der schnelle braune Fuchs springt über den faulen Hund. Le café est très bon à Montréal.
Καλημέρα κόσμε! Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. Ελλάδα, Αθήνα.
東京タワーは東京にあります。日本語の文章です。中文字符和汉字。北京欢迎你。
Emoji: 😀 😃 😄 👍 👍🏽 🎉 ❤️ 🚀🚀🚀 🇫🇷 and more 😀😀.
the the the the and and and of of of to to to in in is is it it that that was was for for
The end of the text is near; the end is here. The END. the end.
"""

# Test strings: every alternative of the pattern, its edges, and text unseen in training.
CASES = [
    "",
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say we've done what we'd planned: they're here, and that's that.",
    "don't DON'T 's 't 're 've 'm 'll 'd 'x '' ''s",
    "rock'n'roll O'Neil's dog's",
    "It'S upper-case 'S is not a contraction",
    "!'s ?'ll",
    "12345 3.14159 1,000,000 2024-01-31 0.5%",
    "abc123def 456ghi",
    "a  b   c    d",
    "a \tb\t c",
    "trailing   ",
    "   leading",
    "\n\nnew lines\n\n\n",
    "\r\n windows \r\n",
    "tabs\t\t\there",
    " ",
    "  ",
    "\t",
    "no-break\u00a0space and\u3000ideographic space",
    "Café naïve résumé Ångström Zürich",
    "e\u0301 combining acute (not precomposed)",
    "Καλημέρα κόσμε! Αθήνα",
    "東京タワーは東京にあります。",
    "中文字符和汉字",
    "😀 👍🏽 🎉 ❤️ 🇫🇷 👨\u200d👩\u200d👧",
    "Привет, мир! Ω≈ç√∫ ½ ² Ⅻ ١٢٣",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "<|endoftext|>",
    "The end. THE END. the end",
    "((( ))) ... ,,, !!!??? --- ___ ***",
    "x" * 40,
    "mixed\u2028separators\u2029here\u0085too",
]


def bytes_to_unicode():
    """The byte -> printable character table of byte-level BPE (see the module docstring)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_CHAR = bytes_to_unicode()


def words_of(text):
    return [w for w in PATTERN.findall(text)]


def symbols_of(word):
    return tuple(BYTE_CHAR[b] for b in word.encode("utf-8"))


def merge_pair(symbols, pair):
    out = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(pair[0] + pair[1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def train(text, num_merges):
    """BPE training: repeatedly merge the most frequent adjacent pair (ties: the smallest pair)."""
    freq = collections.Counter(symbols_of(w) for w in words_of(text))
    merges = []
    for _ in range(num_merges):
        pairs = collections.Counter()
        for syms, n in freq.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        new_freq = collections.Counter()
        for syms, n in freq.items():
            new_freq[merge_pair(syms, best)] += n
        freq = new_freq
    return merges


def build_vocab(merges):
    """Ids: the 256 byte characters in the order of the table's printable-first listing (so ids
    are not byte values), then each new merge result in rank order, then <|endoftext|>."""
    order = sorted(range(256), key=lambda b: (ord(BYTE_CHAR[b]) >= 256, b))
    vocab = {}
    for b in order:
        vocab[BYTE_CHAR[b]] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    vocab[END_OF_TEXT] = len(vocab)
    return vocab


def encode(text, vocab, ranks):
    """Independent reference encoder: pattern words, then lowest-rank-first merging per word."""
    ids = []
    for word in words_of(text):
        syms = symbols_of(word)
        while len(syms) > 1:
            candidates = [(ranks[p], p) for p in zip(syms, syms[1:]) if p in ranks]
            if not candidates:
                break
            syms = merge_pair(syms, min(candidates)[1])
        ids.extend(vocab[s] for s in syms)
    return ids


def decode(ids, vocab):
    char_byte = {c: b for b, c in BYTE_CHAR.items()}
    inv = {i: t for t, i in vocab.items()}
    return bytes(char_byte[c] for i in ids for c in inv[i]).decode("utf-8")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "data", "tokenizer"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    merges = train(CORPUS, NUM_MERGES)
    vocab = build_vocab(merges)
    ranks = {p: r for r, p in enumerate(merges)}

    with open(os.path.join(args.out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(args.out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": vocab[END_OF_TEXT], "content": END_OF_TEXT, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="ascii") as f:
        json.dump(tok, f, ensure_ascii=True, indent=1)

    cases = []
    for text in CASES:
        ids = encode(text, vocab, ranks)
        assert decode(ids, vocab) == text, text
        cases.append({"text": text, "ids": ids})
    with open(os.path.join(args.out, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"version": VERSION, "vocab_size": len(vocab), "num_merges": len(merges), "cases": cases}, f,
                  ensure_ascii=False, indent=1)
    print(f"{args.out}: {len(vocab)} tokens, {len(merges)} merges, {len(cases)} cases")


if __name__ == "__main__":
    main()
