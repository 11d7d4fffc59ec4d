#!/usr/bin/python3
"""make_golden_rnn.py - golden numbers for seqlm's recurrent layers, from PyTorch 1.13.

For every configuration (cell x layers x directions, and some with variable lengths) builds
torch's nn.RNN / nn.LSTM / nn.GRU with a fixed seed, runs random x, h0 (and c0) through it,
takes the loss

    loss = sum(y * R) + sum(hT * S) (+ sum(cT * U) for LSTM)

with fixed random R, S, U, backpropagates, and writes one safetensors file
tests/golden/rnn_<cell>_l<L>[_bi][_len].safetensors holding:

    rnn.weight_ih_l0, ... (the state_dict, prefixed "rnn.")   x (T, B, I)   h0, hT (L*D, B, H)
    c0, cT, U (LSTM)   y (T, B, D*H)   R, S   lengths (B, as F32; only _len files)
    grad.<every tensor above that is an input or weight>: grad.rnn.weight_ih_l0, grad.x, ...

With lengths the input goes through pack_padded_sequence(enforce_sorted=False) and the output
back through pad_packed_sequence(total_length=T): y is 0 at padded positions, hT holds each
sequence's state after its last valid step, and x holds random numbers at padded positions
(that torch never reads) so that the C test shows padding cannot change a result.

Safetensors is written by hand (8-byte little-endian header length, JSON header, raw
little-endian float32), since the safetensors package is not installed here.

Run:  /usr/bin/python3 tests/golden/make_golden_rnn.py   (writes next to this script)
"""
import os
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

I, H, T, B = 5, 4, 6, 3
LENGTHS = [6, 2, 4]  # unsorted on purpose, one full-length row

MODULES = {
    "tanh": lambda L, bi: nn.RNN(I, H, L, nonlinearity="tanh", bidirectional=bi),
    "relu": lambda L, bi: nn.RNN(I, H, L, nonlinearity="relu", bidirectional=bi),
    "lstm": lambda L, bi: nn.LSTM(I, H, L, bidirectional=bi),
    "gru": lambda L, bi: nn.GRU(I, H, L, bidirectional=bi),
}

CONFIGS = [(cell, L, bi, False) for cell in MODULES for L in (1, 2) for bi in (False, True)]
CONFIGS += [("lstm", 1, True, True), ("lstm", 2, True, True), ("lstm", 1, False, True),
            ("gru", 2, True, True), ("tanh", 2, True, True), ("relu", 1, True, True)]


def make(cell, L, bi, with_lengths, seed):
    torch.manual_seed(seed)
    D = 2 if bi else 1
    rnn = MODULES[cell](L, bi)
    lstm = cell == "lstm"
    x = torch.randn(T, B, I, requires_grad=True)
    h0 = (0.5 * torch.randn(L * D, B, H)).requires_grad_()
    c0 = (0.5 * torch.randn(L * D, B, H)).requires_grad_()
    R, S, U = torch.randn(T, B, D * H), torch.randn(L * D, B, H), torch.randn(L * D, B, H)
    state = (h0, c0) if lstm else h0

    if with_lengths:
        lengths = torch.tensor(LENGTHS)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, hn = rnn(packed, state)
        y, _ = pad_packed_sequence(out, total_length=T)
    else:
        y, hn = rnn(x, state)
    hT, cT = hn if lstm else (hn, None)
    loss = (y * R).sum() + (hT * S).sum()
    if lstm:
        loss = loss + (cT * U).sum()
    loss.backward()

    tensors = {}
    for k, v in rnn.state_dict().items():
        tensors["rnn." + k] = v
    tensors.update({"x": x, "h0": h0, "y": y, "hT": hT, "R": R, "S": S})
    if lstm:
        tensors.update({"c0": c0, "cT": cT, "U": U})
    if with_lengths:
        tensors["lengths"] = torch.tensor(LENGTHS, dtype=torch.float32)
    for k, v in rnn.named_parameters():
        tensors["grad.rnn." + k] = v.grad
    tensors["grad.x"] = x.grad
    tensors["grad.h0"] = h0.grad
    if lstm:
        tensors["grad.c0"] = c0.grad
    tensors["loss"] = loss.detach().reshape(1)

    name = "rnn_%s_l%d%s%s" % (cell, L, "_bi" if bi else "", "_len" if with_lengths else "")
    meta = {"cell": cell, "layers": str(L), "bidirectional": str(int(bi)),
            "lengths": str(int(with_lengths)), "torch": torch.__version__}
    here = os.path.dirname(os.path.abspath(__file__))
    write_safetensors(os.path.join(here, name + ".safetensors"), tensors, meta)
    print("%-22s loss %.6f" % (name, loss.item()))


if __name__ == "__main__":
    for n, (cell, L, bi, with_lengths) in enumerate(CONFIGS):
        make(cell, L, bi, with_lengths, 1000 + n)
