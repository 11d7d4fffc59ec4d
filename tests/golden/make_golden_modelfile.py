#!/usr/bin/python3
"""make_golden_modelfile.py - safetensors files written on the PyTorch side, for test_modelfile.

Writes, next to this script:

  modelfile_torch.safetensors  the state_dict of PyTorch's word_language_model layout
      (encoder = nn.Embedding(10, 3), rnn = nn.LSTM(3, 4, num_layers=2), decoder = nn.Linear(4,
      10)) plus tensors in F16, BF16, F64, I32 and I64 and a 0-d scalar. The header lists the
      tensors in state_dict order but the data is laid out in reverse order, and "__metadata__"
      comes last, so a reader that trusts the order of the header instead of data_offsets fails.
      The metadata key "seqlm.test.samples" holds, as a JSON string, a few values of every
      tensor converted to float ({name: [[flat index, value], ...]}), which the C test compares
      with what it reads; "format" is "pt" as Hugging Face's writer puts it.
  modelfile_tied.safetensors  a model with tied weights (decoder.weight is encoder.weight,
      nn.Embedding(10, 4), nn.LSTM(4, 4), nn.Linear(4, 10)), tensors sorted by name the way
      the safetensors library lays them out; the C test loads it into a registry where
      decoder.weight is an alias.

The safetensors format is written by safetensors_io.py (by hand, so that the script needs only
torch (1.13 here), not the safetensors package). Run it with /usr/bin/python3 (the interpreter with
torch): /usr/bin/python3 tests/golden/make_golden_modelfile.py
"""
import json
import math
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

def samples(tensors):
    """A few values of each tensor as floats: first, middle and last element."""
    out = OrderedDict()
    for name, t in tensors.items():
        flat = t.detach().reshape(-1).to(torch.float32)
        n = flat.numel()
        picks = sorted({0, n // 2, n - 1})
        vals = []
        for i in picks:
            v = float(flat[i])
            # JSON has no infinities; the C test knows these by name.
            vals.append([i, v if math.isfinite(v) else repr(v)])
        out[name] = vals
    return json.dumps(out)


class WordLM(nn.Module):
    def __init__(self, V, E, H, L, tie=False):
        super().__init__()
        self.encoder = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, H, num_layers=L)
        self.decoder = nn.Linear(H, V)
        if tie:
            self.decoder.weight = self.encoder.weight


def main():
    torch.manual_seed(0)
    model = WordLM(10, 3, 4, 2)
    tensors = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    tensors["extra.f16"] = torch.tensor(
        [[1.0, -2.5, 65504.0, 2.0**-14], [2.0**-24, math.inf, -0.0, 1.0 / 3.0]],
        dtype=torch.float16,
    )
    tensors["extra.bf16"] = torch.tensor(
        [1.0, -3.140625, 1e30, -math.inf, 2.0**-130], dtype=torch.bfloat16
    )
    tensors["extra.f64"] = torch.tensor([[0.1, -1e-3], [3.0, 1e-40]], dtype=torch.float64)
    tensors["extra.i32"] = torch.tensor([1, -2, 16777216], dtype=torch.int32)
    tensors["extra.i64"] = torch.tensor([0, -5, 2**40, -(2**62)], dtype=torch.int64)
    tensors["extra.scalar"] = torch.tensor(2.5)
    meta = OrderedDict()
    meta["format"] = "pt"
    meta["seqlm.test.samples"] = samples(tensors)
    meta["note"] = "written by tests/golden/make_golden_modelfile.py"
    write_safetensors(
        os.path.join(HERE, "modelfile_torch.safetensors"),
        tensors,
        meta,
        data_order=list(reversed(tensors)),
        metadata_last=True,
        keep_dtype=True,
    )

    torch.manual_seed(1)
    tied = WordLM(10, 4, 4, 1, tie=True)
    sd = tied.state_dict()
    assert sd["decoder.weight"].data_ptr() == sd["encoder.weight"].data_ptr()
    tensors = OrderedDict((k, sd[k].detach().clone()) for k in sorted(sd))
    meta = OrderedDict([("format", "pt"), ("seqlm.test.samples", samples(tensors))])
    write_safetensors(
        os.path.join(HERE, "modelfile_tied.safetensors"), tensors, meta, keep_dtype=True
    )
    print("wrote modelfile_torch.safetensors and modelfile_tied.safetensors")


if __name__ == "__main__":
    main()
