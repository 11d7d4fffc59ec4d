#!/usr/bin/python3
"""make_golden_layers.py - PyTorch 1.13 reference numbers for tests/test_nn_layers.c.

Writes, beside this script, small safetensors files (8-byte little-endian header length, JSON
header, raw little-endian float32 data; written by hand, no safetensors package needed) holding
inputs, parameters, outputs, losses and gradients of:

  layers_linear.safetensors     nn.Linear(7, 6) forward, and backward of sum(y * dy)
  layers_embedding.safetensors  nn.Embedding(10, 4) with repeated ids, backward of sum(out * dout)
  layers_xent.safetensors       F.cross_entropy(ignore_index=-100) with ignored and huge rows
  layers_window.safetensors     the Bengio et al. (2003) model written out by hand, with direct
  layers_window_nodirect.safetensors   connections and without: loss and every gradient

Integer ids and targets are stored as F32 (exact for these small values). Gradients are stored
as "grad.<name>". Run with the interpreter that has torch 1.13:

    /usr/bin/python3 tests/golden/make_golden_layers.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors as write_f32  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def write_safetensors(path, tensors):
    """tensors: dict name -> torch tensor; everything is written as little-endian F32."""
    size = write_f32(path, tensors)
    print("wrote %s (%d tensors, %d bytes)" % (path, len(tensors), size))


def golden_linear():
    torch.manual_seed(1)
    lin = torch.nn.Linear(7, 6)
    x = torch.randn(5, 7, requires_grad=True)
    dy = torch.randn(5, 6)
    y = lin(x)
    (y * dy).sum().backward()
    write_safetensors(
        os.path.join(HERE, "layers_linear.safetensors"),
        {
            "x": x,
            "weight": lin.weight,
            "bias": lin.bias,
            "dy": dy,
            "y": y,
            "grad.weight": lin.weight.grad,
            "grad.bias": lin.bias.grad,
            "grad.x": x.grad,
        },
    )


def golden_embedding():
    torch.manual_seed(2)
    emb = torch.nn.Embedding(10, 4)
    ids = torch.tensor([3, 1, 3, 0, 9, 3, 1, 7, 7, 2, 3, 5, 0, 9, 3])
    dout = torch.randn(len(ids), 4)
    out = emb(ids)
    (out * dout).sum().backward()
    write_safetensors(
        os.path.join(HERE, "layers_embedding.safetensors"),
        {"ids": ids, "weight": emb.weight, "dout": dout, "out": out, "grad.weight": emb.weight.grad},
    )


def golden_xent():
    torch.manual_seed(3)
    N, V = 8, 12
    logits = 3 * torch.randn(N, V)
    logits[5] += 1e4  # huge but equal shift: softmax unchanged, naive exp overflows
    logits[6, 2] = 1e4  # one huge logit: that class has probability 1
    logits.requires_grad_(True)
    targets = torch.tensor([4, -100, 0, 11, 7, 3, 2, -100])
    loss = F.cross_entropy(logits, targets, ignore_index=-100)
    loss.backward()
    write_safetensors(
        os.path.join(HERE, "layers_xent.safetensors"),
        {
            "logits": logits,
            "targets": targets,
            "loss": loss.reshape(1),
            "grad.logits": logits.grad,
        },
    )


def golden_window(direct, filename):
    """x = [C(w_{t-n}) .. C(w_{t-1})], a = tanh(d + H x), y = b + U a (+ W x), mean CE."""
    torch.manual_seed(4 + direct)
    V, E, n, Hd, N = 50, 8, 3, 16, 20
    emb = torch.nn.Embedding(V, E)
    hidden = torch.nn.Linear(n * E, Hd)
    output = torch.nn.Linear(Hd, V)
    skip = torch.nn.Linear(n * E, V, bias=False)
    context = torch.randint(0, V, (N, n))
    context[1] = torch.tensor([7, 7, 7])  # repeated ids within and across rows
    context[2] = torch.tensor([7, 3, 7])
    targets = torch.randint(0, V, (N,))
    targets[4] = -100
    targets[11] = -100

    x = emb(context).reshape(N, n * E)
    a = torch.tanh(hidden(x))
    y = output(a)
    if direct:
        y = y + skip(x)
    loss = F.cross_entropy(y, targets, ignore_index=-100)
    loss.backward()

    named = {
        "embedding.weight": emb.weight,
        "hidden.weight": hidden.weight,
        "hidden.bias": hidden.bias,
        "output.weight": output.weight,
        "output.bias": output.bias,
    }
    if direct:
        named["direct.weight"] = skip.weight
    tensors = {"context": context, "targets": targets, "loss": loss.reshape(1)}
    for k, v in named.items():
        tensors[k] = v
        tensors["grad." + k] = v.grad
    write_safetensors(os.path.join(HERE, filename), tensors)


if __name__ == "__main__":
    assert torch.__version__.startswith("1.13"), torch.__version__
    golden_linear()
    golden_embedding()
    golden_xent()
    golden_window(1, "layers_window.safetensors")
    golden_window(0, "layers_window_nodirect.safetensors")
