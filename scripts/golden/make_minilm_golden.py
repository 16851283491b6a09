#!/usr/bin/env python3
"""Reference embeddings of sentence-transformers' all-MiniLM-L6-v2 for ferry's real-model test
(tests/runtime/minilm_test.cpp), computed once by an independent implementation and committed:
token ids from Hugging Face `tokenizers`, the forward pass by `transformers`' BertModel in fp32
(PyTorch), mean pooling over the tokens and L2 normalization as the model's modules.json says.

usage: /usr/bin/python3 scripts/golden/make_minilm_golden.py MODEL_DIR  (scripts/minilm prints it)
writes tests/data/minilm/golden.json
"""
import json
import os
import sys

import torch
from tokenizers import Tokenizer
from transformers import BertModel

SENTENCES = [
    "A man is playing a guitar.",
    "A man is playing the guitar on stage.",
    "A woman is slicing an onion.",
    "Someone is cutting vegetables in the kitchen.",
    "The stock market fell sharply today.",
    "Paris is the capital of France.",
]
# (i, j, k): sentence i is closer to j than to k.
ORDER = [[0, 1, 2], [2, 3, 0], [3, 2, 4], [1, 0, 5]]


def main():
    model_dir = sys.argv[1]
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    model = BertModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
    ids, emb = [], []
    with torch.no_grad():
        for s in SENTENCES:
            e = tok.encode(s)
            ids.append(e.ids)
            out = model(input_ids=torch.tensor([e.ids])).last_hidden_state[0].to(torch.float64)
            v = out.mean(dim=0)
            emb.append((v / v.norm()).tolist())
    out = {"version": "minilm-golden-v1", "torch": torch.__version__, "sentences": SENTENCES, "ids": ids,
           "embeddings": emb, "closer": ORDER}
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "tests", "data", "minilm", "golden.json")
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
