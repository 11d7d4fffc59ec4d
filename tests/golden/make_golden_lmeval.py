#!/usr/bin/python3
"""Golden perplexities of tiny PyTorch RNN language models, for tests/test_lm.c and
tests/cli_eval.sh.

Run with Debian's python3-torch (PyTorch 1.13):  /usr/bin/python3 tests/golden/make_golden_lmeval.py
Writes into tests/golden:
  lmeval_text.txt                a small text (with words outside the vocabulary)
  lmeval_lstm.safetensors        embedding -> 2-layer LSTM -> linear (../shared/bench/torch_lm.py's
                                 RNNLM, PyTorch's default initialisation so that the predictions
                                 are far from uniform)
  lmeval_gru_tied.safetensors    embedding -> 1-layer GRU -> linear tied to the embedding
Each model file is a seqlm language model: word_language_model's tensor names plus the metadata
"seqlm.config" and "seqlm.vocab" that seqlm_lm_load reads, and the reference figures as
"golden.tokens" and "golden.nll.b<B>" (total NLL in nats of lmeval_text.txt with batch B and
bptt 4) computed by torch under the protocol of ../shared/BENCHMARKS.md: the stream is </s>
then each line's tokens and </s>; every id after the first is a target; columns as
torch_lm.py's batchify (ceil(n/B) targets each, the last column padded); the state carried
across windows."""
import json, math, os, sys
from collections import Counter
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BPTT = 4

TRAIN = """the cat sat on the mat
the dog sat on the log
a cat and a dog ran
the mat was on the log
a dog saw the cat
the cat saw a dog on the mat"""

TEXT = """the cat sat on the log
a dog ran on the mat and the cat saw it
the bird sat
on the mat the dog sat and the cat ran
"""


# seqlm's vocabulary order: <unk>, <s>, </s>, then by descending count (ties: first seen).
counts = Counter()
order = []
for line in TRAIN.split("\n"):
    for w in line.split():
        if w not in counts:
            order.append(w)
        counts[w] += 1
words = sorted((w for w in order if counts[w] >= 2), key=lambda w: (-counts[w], order.index(w)))
itos = ["<unk>", "<s>", "</s>"] + words
stoi = {w: i for i, w in enumerate(itos)}
UNK, EOS = 0, 2
vocab_text = "<unk>\t%d\n<s>\t0\n</s>\t%d\n" % (
    sum(c for w, c in counts.items() if c < 2), len(TRAIN.split("\n"))) + "".join(
    "%s\t%d\n" % (w, counts[w]) for w in words)
V = len(itos)

stream = [EOS]
for line in TEXT.splitlines():
    stream += [stoi.get(w, UNK) for w in line.split()] + [EOS]
stream = torch.tensor(stream)
n = len(stream) - 1


def batchify(stream, ncols):  # torch_lm.py's
    x, y = stream[:-1], stream[1:]
    steps = -(-len(y) // ncols)
    pad = steps * ncols - len(y)
    x = torch.cat([x, x.new_zeros(pad)])
    y = torch.cat([y, y.new_full((pad,), -1)])
    return x.view(ncols, steps).t().contiguous(), y.view(ncols, steps).t().contiguous()


class RNNLM(nn.Module):
    def __init__(self, kind, E, H, L, tied):
        super().__init__()
        self.kind, self.L, self.H = kind, L, H
        self.encoder = nn.Embedding(V, E)
        self.rnn = getattr(nn, kind)(E, H, L)
        self.decoder = nn.Linear(H, V)
        if tied:
            self.decoder.weight = self.encoder.weight

    def forward(self, x, h):
        out, h = self.rnn(self.encoder(x), h)
        return self.decoder(out), h

    def init_hidden(self, B):
        z = lambda: torch.zeros(self.L, B, self.H)  # noqa: E731
        return (z(), z()) if self.kind == "LSTM" else z()


def evaluate(model, B):
    x, y = batchify(stream, B)
    h, nll, cnt = model.init_hidden(B), 0.0, 0
    with torch.no_grad():
        for i in range(0, x.size(0), BPTT):
            out, h = model(x[i:i + BPTT], h)
            yy = y[i:i + BPTT].reshape(-1)
            nll += F.cross_entropy(out.view(-1, V).double(), yy, ignore_index=-1, reduction="sum").item()
            cnt += int((yy >= 0).sum())
    assert cnt == n
    return nll


def make(name, kind, E, H, L, tied, seed):
    torch.manual_seed(seed)
    model = RNNLM(kind, E, H, L, tied)
    config = {"arch": kind.lower(), "layers": L, "hidden": H, "embedding": E, "context": 4,
              "dropout": 0, "tie_weights": tied, "direct": False, "unit": "word"}
    meta = {"seqlm.config": json.dumps(config), "seqlm.vocab": vocab_text, "golden.tokens": str(n)}
    for B in (1, 3):
        nll = evaluate(model, B)
        meta["golden.nll.b%d" % B] = repr(nll)
        print("%s: batch %d: %d tokens, nll %.6f, perplexity %.4f" % (name, B, n, nll, math.exp(nll / n)))
    write_safetensors(os.path.join(HERE, name), model.state_dict(), meta)


with open(os.path.join(HERE, "lmeval_text.txt"), "w") as f:
    f.write(TEXT)
make("lmeval_lstm.safetensors", "LSTM", 5, 6, 2, False, 11)
make("lmeval_gru_tied.safetensors", "GRU", 6, 6, 1, True, 12)
