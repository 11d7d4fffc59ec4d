#!/usr/bin/python3
"""make_golden_elmo.py - PyTorch 1.13 reference numbers for tests/test_elmo.c.

Writes, beside this script:

  elmo_mix.safetensors     the scalar mix of Peters et al. (2018), eq. 1 (AllenNLP's ScalarMix
                           without layer norm): gamma * sum_k softmax(s)_k h_k on layers
                           (K=3, N=6, D=4); out, and the gradients of sum(out * dout) for s,
                           gamma and the layers ("grad.<name>")
  elmo_tiny.safetensors    a whole ELMo model file as seqlm writes it: two 2-layer LSTM language
                           models (V=8, E=H=5) from torch modules, tensors "forward.*" and
                           "backward.*" with word_language_model's names, metadata seqlm.kind,
                           seqlm.elmo.config, seqlm.vocab
  elmo_tiny_layers.safetensors  the layers torch computes for two sentences: "sentence.N" of
                           shape (L+1, n, 2H), the forward LM reading </s> w1 .. wn and the
                           backward LM </s> wn .. w1 from zero states; "ids.N" the word ids

Run with the interpreter that has torch 1.13:

    /usr/bin/python3 tests/golden/make_golden_elmo.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, tensors, metadata=None):
    path = os.path.join(HERE, name)
    size = write_safetensors(path, tensors, metadata)
    print("wrote %s (%d tensors, %d bytes)" % (path, len(tensors), size))


def golden_mix():
    torch.manual_seed(5)
    K, N, D = 3, 6, 4
    layers = torch.randn(K, N, D, requires_grad=True)
    s = torch.randn(K, requires_grad=True)
    gamma = torch.tensor([1.3], requires_grad=True)
    dout = torch.randn(N, D)
    w = torch.softmax(s, 0)
    out = gamma * (w[:, None, None] * layers).sum(0)
    (out * dout).sum().backward()
    write("elmo_mix.safetensors", {
        "layers": layers, "s": s, "gamma": gamma, "dout": dout, "out": out,
        "grad.s": s.grad, "grad.gamma": gamma.grad, "grad.layers": layers.grad,
    })


class LM(torch.nn.Module):
    """word_language_model's RNNModel (LSTM, untied), one nn.LSTM per layer so that every
    layer's output can be read."""

    def __init__(self, V, H, L):
        super().__init__()
        self.encoder = torch.nn.Embedding(V, H)
        self.layers = torch.nn.ModuleList([torch.nn.LSTM(H, H) for _ in range(L)])
        self.decoder = torch.nn.Linear(H, V)

    def tensors(self, prefix):
        t = {prefix + "encoder.weight": self.encoder.weight}
        for l, lstm in enumerate(self.layers):
            for what in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                t["%srnn.%s_l%d" % (prefix, what, l)] = getattr(lstm, what + "_l0")
        t[prefix + "decoder.weight"] = self.decoder.weight
        t[prefix + "decoder.bias"] = self.decoder.bias
        return t

    def layer_outputs(self, ids):
        """ids (T,) -> list of L+1 tensors (T, H): the embeddings, then each layer's output."""
        x = self.encoder(ids)
        outs = [x]
        for lstm in self.layers:
            x, _ = lstm(x[:, None, :])
            x = x[:, 0, :]
            outs.append(x)
        return outs


def golden_tiny():
    torch.manual_seed(7)
    V, H, L = 8, 5, 2
    words = ["the", "cat", "sat", "on", "mat"]
    fwd, bwd = LM(V, H, L), LM(V, H, L)
    tensors = {}
    tensors.update(fwd.tensors("forward."))
    tensors.update(bwd.tensors("backward."))
    config = {"arch": "lstm", "layers": L, "hidden": H, "embedding": H, "context": 4,
              "dropout": 0, "tie_weights": False, "direct": False, "unit": "word"}
    vocab = "".join("%s\t%d\n" % (w, c) for w, c in
                    [("<unk>", 0), ("<s>", 0), ("</s>", 9)] + [(w, 9 - i) for i, w in
                                                             enumerate(words)])
    write("elmo_tiny.safetensors", tensors, {
        "seqlm.kind": "elmo", "seqlm.elmo.config": json.dumps(config), "seqlm.vocab": vocab})

    EOS = 2
    sentences = [[3, 4, 5, 6, 3, 7], [4, 0, 5]]  # 0 = <unk>
    out = {}
    with torch.no_grad():
        for n, s in enumerate(sentences):
            ids = torch.tensor(s)
            f = fwd.layer_outputs(torch.tensor([EOS] + s))
            b = bwd.layer_outputs(torch.tensor([EOS] + s[::-1]))
            layers = []
            for k in range(L + 1):
                fk = f[k][1:]                   # token t after reading w1 .. wt
                bk = b[k][1:].flip(0)           # token t after reading wn .. wt
                layers.append(torch.cat([fk, bk], 1))
            out["sentence.%d" % n] = torch.stack(layers)
            out["ids.%d" % n] = ids.float()
    write("elmo_tiny_layers.safetensors", out)


if __name__ == "__main__":
    golden_mix()
    golden_tiny()
