#!/usr/bin/python3
"""Makes the BERT golden data in tests/data/bert/: tiny random checkpoints written by Hugging Face
transformers' own classes (BertModel, BertForMaskedLM, BertForSequenceClassification,
BertForTokenClassification, BertForQuestionAnswering), with their outputs computed by those same
classes in float64, so the reference shares no code with ferry.

Run with the system python (Debian's python3-torch) after
    /usr/bin/python3 -m pip install --break-system-packages transformers==4.45.2
    /usr/bin/python3 scripts/golden/make_bert_golden.py [--out tests/data/bert]

Every case has an odd hidden size (45) and head count (3), 2 layers, and weights drawn with larger
scales than BERT's init so that every parameter matters. Each sequence of the batch is run on its
own, unpadded (a nested batch has no padding), and the outputs are concatenated in input order:
  hidden.npy  [total_tokens, 45]  last hidden state of every token (every case)
  pooled.npy  [sequences, 45]     BertModel's pooler output (case "model")
  head.npy    the case's head: masked_lm [total, vocab], sequence_classification [sequences, 3],
              token_classification [total, 5], question_answering [total, 2] (start | end)
golden.json holds the ids, token types and the version.
"""
import argparse
import json
import os

import numpy as np
import torch
import transformers
from transformers import (BertConfig, BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
                          BertForTokenClassification, BertModel)

VERSION = "bert-golden-v1"
SEED = 7
# Three sequences: lengths 5, 1 and 9; the third is a pair (token types 0 then 1).
IDS = [[2, 17, 40, 88, 3], [5], [2, 9, 61, 33, 3, 70, 12, 95, 3]]
TYPES = [[0] * 5, [0], [0, 0, 0, 0, 0, 1, 1, 1, 1]]

CASES = {
    "model": (BertModel, {}),
    "masked_lm": (BertForMaskedLM, {}),
    "sequence_classification": (BertForSequenceClassification, {"id2label": {0: "neg", 1: "neu", 2: "pos"}}),
    "token_classification": (BertForTokenClassification,
                             {"id2label": {i: l for i, l in enumerate(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])}}),
    "question_answering": (BertForQuestionAnswering, {}),
}


def config(extra):
    return BertConfig(vocab_size=97, hidden_size=45, num_hidden_layers=2, num_attention_heads=3,
                      intermediate_size=71, max_position_embeddings=40, type_vocab_size=2,
                      hidden_act="gelu", layer_norm_eps=1e-12, **extra)


def randomize(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=gen))


def run(model, name):
    hidden, pooled, head = [], [], []
    for ids, types in zip(IDS, TYPES):
        i = torch.tensor([ids])
        t = torch.tensor([types])
        if name == "model":
            out = model(input_ids=i, token_type_ids=t)
            hidden.append(out.last_hidden_state[0])
            pooled.append(out.pooler_output)  # [1, H]: pooled.npy is [sequences, H]
            continue
        out = model(input_ids=i, token_type_ids=t, output_hidden_states=True)
        hidden.append(out.hidden_states[-1][0])
        if name == "question_answering":
            head.append(torch.stack([out.start_logits[0], out.end_logits[0]], dim=1))
        elif name == "sequence_classification":
            head.append(out.logits[0][None, :])
        else:
            head.append(out.logits[0])
    as32 = lambda xs: torch.cat(xs).to(torch.float32).numpy()
    return as32(hidden), (as32(pooled) if pooled else None), (as32(head) if head else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "bert"))
    args = ap.parse_args()
    for name, (cls, extra) in CASES.items():
        gen = torch.Generator().manual_seed(SEED)
        model = cls(config(extra)).eval()
        randomize(model, gen)
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        model.save_pretrained(d, safe_serialization=True)  # float32 weights, as ferry reads them
        model = model.double()
        with torch.no_grad():
            hidden, pooled, head = run(model, name)
        np.save(os.path.join(d, "hidden.npy"), hidden)
        if pooled is not None:
            np.save(os.path.join(d, "pooled.npy"), pooled)
        if head is not None:
            np.save(os.path.join(d, "head.npy"), head)
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump({"version": VERSION, "transformers": transformers.__version__, "torch": torch.__version__,
                       "ids": IDS, "types": TYPES}, f, indent=1)
        print(name, hidden.shape, None if head is None else head.shape)


if __name__ == "__main__":
    main()
