#!/usr/bin/python3
"""Golden loss trajectories of a tiny LSTM language model, for tests/test_lm_trajectory.c.

Run with Debian's python3-torch (PyTorch 1.13):  /usr/bin/python3 tests/golden/make_golden_lm.py
Writes tests/golden/lm_traj_<optimizer>.safetensors holding the initial weights under PyTorch's
word_language_model names (encoder.weight, rnn.weight_ih_l0, ..., decoder.weight/bias), the token
stream "data" (T*S+1, B) as F32, and per step the loss and the gradient norm before clipping,
plus the final weights as "final.<name>". Training is truncated BPTT as in word_language_model:
windows of T steps, hidden state carried across windows and detached, cross-entropy (mean),
clip_grad_norm_(1.0), then the optimizer step."""
import os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

V, E, H, L, B, T, S = 12, 5, 6, 2, 3, 4, 6
HERE = os.path.dirname(os.path.abspath(__file__))


def run(opt_name):
    torch.manual_seed(7)
    enc, rnn, dec = nn.Embedding(V, E), nn.LSTM(E, H, L), nn.Linear(H, V)
    modules = {"encoder": enc, "rnn": rnn, "decoder": dec}
    params = [p for m in modules.values() for p in m.parameters()]
    init = {f"{m}.{k}": v.clone() for m, mod in modules.items() for k, v in mod.state_dict().items()}
    data = torch.randint(0, V, (T * S + 1, B))
    opt = torch.optim.SGD(params, lr=0.5) if opt_name == "sgd" else torch.optim.Adam(params, lr=0.01)
    h = (torch.zeros(L, B, H), torch.zeros(L, B, H))
    losses, norms = [], []
    for s in range(S):
        x, y = data[s * T:(s + 1) * T], data[s * T + 1:(s + 1) * T + 1]
        h = tuple(v.detach() for v in h)
        out, h = rnn(enc(x), h)
        loss = F.cross_entropy(dec(out).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(params, 1.0)))
        opt.step()
        losses.append(float(loss))
    out = dict(init)
    out["data"] = data.float()
    out["losses"] = torch.tensor(losses)
    out["norms"] = torch.tensor(norms)
    for m, mod in modules.items():
        for k, v in mod.state_dict().items():
            out[f"final.{m}.{k}"] = v
    write_safetensors(os.path.join(HERE, f"lm_traj_{opt_name}.safetensors"), out)
    print(opt_name, "losses", ["%.5f" % l for l in losses])


for name in ("sgd", "adam"):
    run(name)
