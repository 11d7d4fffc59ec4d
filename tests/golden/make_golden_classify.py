#!/usr/bin/python3
"""make_golden_classify.py - golden numbers for seqlm's sentence classifier, from PyTorch 1.13.

The model of ../shared/bench/torch_tasks.py's Classifier, without dropout: embedding (V, E) ->
1- or 2-layer bidirectional LSTM over packed sequences (pack_padded_sequence, enforce_sorted=
False, so the backward direction never sees padding) -> pooling over the real time steps ->
linear to C classes -> mean cross-entropy. For each pooling writes
tests/golden/classify_<pool>[_l2].safetensors holding:

    embedding.weight, rnn.weight_ih_l0, ... (the state_dict, seqlm's names), output.weight/bias
    ids (T, B) seq-first, padded with random ids   lengths (B)   targets (B)
    logits (B, C)   loss (1)   grad.<every parameter>

Pools: max (max over real steps: padded outputs are -inf), mean (sum over real steps / length),
last (h_n: the forward direction's state after the last real token, the backward direction's
state after the first). Integers are stored as F32 (exact).

Run:  /usr/bin/python3 tests/golden/make_golden_classify.py   (writes next to this script)
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

V, E, H, C, T, B = 9, 4, 3, 3, 6, 4
LENGTHS = [6, 2, 4, 1]  # unsorted, one full-length row, one single token


def make(pool, layers):
    torch.manual_seed(7 + layers)
    emb = nn.Embedding(V, E)
    lstm = nn.LSTM(E, H, num_layers=layers, bidirectional=True)
    out = nn.Linear(2 * H, C)
    ids = torch.randint(0, V, (T, B))
    lengths = torch.tensor(LENGTHS)
    targets = torch.tensor([2, 0, 1, 2])
    x = emb(ids)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    y, (hn, _) = lstm(packed)
    if pool == "last":
        pooled = torch.cat([hn[-2], hn[-1]], dim=1)
    else:
        pad = float("-inf") if pool == "max" else 0.0
        y, _ = pad_packed_sequence(y, padding_value=pad, total_length=T)
        if pool == "max":
            pooled = y.max(dim=0).values
        else:
            pooled = y.sum(dim=0) / lengths.unsqueeze(1).float()
    logits = out(pooled)
    loss = F.cross_entropy(logits, targets)
    loss.backward()
    t = {"embedding.weight": emb.weight}
    for k, v in lstm.state_dict().items():
        t["rnn." + k] = v
    t["output.weight"] = out.weight
    t["output.bias"] = out.bias
    params = list(t.items())
    t["ids"] = ids.float()
    t["lengths"] = lengths.float()
    t["targets"] = targets.float()
    t["logits"] = logits
    t["loss"] = loss.reshape(1)
    grads = {"embedding.weight": emb.weight.grad, "output.weight": out.weight.grad,
             "output.bias": out.bias.grad}
    for k, p in lstm.named_parameters():
        grads["rnn." + k] = p.grad
    for name, _ in params:
        t["grad." + name] = grads[name]
    suffix = "" if layers == 1 else "_l2"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "classify_%s%s.safetensors" % (pool, suffix))
    write_safetensors(path, t)
    print(path, "loss", loss.item())


for pool in ("max", "mean", "last"):
    make(pool, 1)
make("max", 2)
