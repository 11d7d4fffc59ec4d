#!/usr/bin/python3
"""make_golden_optim.py - golden numbers for tests/test_optim.c from PyTorch 1.13.

Writes tests/golden/optim_torch.safetensors (run with a Python that has torch 1.13, e.g.
/usr/bin/python3 tests/golden/make_golden_optim.py). The file is plain safetensors, written by
hand: an 8-byte little-endian header length, a JSON header, then raw little-endian float32.

  init                 (N,)      the parameters before the first step
  grads                (T, N)    the gradient given at each step
  <cfg>/lr             (T,)      the learning rate of each step
  <cfg>/params         (T, N)    the parameters after each step (torch.optim, foreach=False)
  <cfg>/state/<name>   final optimiser state (torch's names; mu_product as shape (1,))
  clip/<i>/grads, clip/<i>/clipped, clip/<i>/norm   clip_grad_norm_ cases
  sched/<name>/lr      the rate at epochs 0, 1, ... (sched/plateau/loss: the losses reported)

__metadata__ (strings): "configs" a JSON list of config names; each config's settings as JSON
with seqlm_optim_config's field names; "clip" a JSON list of max_norm values; "sched/<name>"
the schedule settings with seqlm_schedule's field names; "defaults" torch's defaults per kind.
Every learning rate used is a short decimal, the value the C side reads back from a float.
"""
import inspect
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

assert torch.__version__.startswith("1.13"), torch.__version__

N, T = 50, 20
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_torch.safetensors")

CONFIGS = [
    ("sgd_plain", {"kind": "sgd", "lr": 0.1}),
    ("sgd_momentum", {"kind": "sgd", "lr": 0.05, "momentum": 0.9}),
    ("sgd_nesterov_wd", {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": 1,
                         "weight_decay": 0.01}),
    ("sgd_dampening", {"kind": "sgd", "lr": 0.1, "momentum": 0.8, "dampening": 0.3,
                       "weight_decay": 0.001}),
    ("sgd_wd", {"kind": "sgd", "lr": 0.1, "weight_decay": 0.02}),
    ("sgd_nesterov", {"kind": "sgd", "lr": 0.02, "momentum": 0.95, "nesterov": 1}),
    ("adagrad_default", {"kind": "adagrad"}),
    ("adagrad_decay_wd", {"kind": "adagrad", "lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.05,
                          "initial_accumulator": 0.1, "eps": 1e-6}),
    ("rmsprop_default", {"kind": "rmsprop"}),
    ("rmsprop_momentum", {"kind": "rmsprop", "lr": 0.01, "momentum": 0.5, "alpha": 0.9}),
    ("rmsprop_centered_momentum_wd", {"kind": "rmsprop", "lr": 0.005, "centered": 1,
                                      "momentum": 0.9, "weight_decay": 0.01, "alpha": 0.95}),
    ("rmsprop_centered", {"kind": "rmsprop", "lr": 0.01, "centered": 1, "eps": 1e-6}),
    ("rmsprop_wd", {"kind": "rmsprop", "lr": 0.01, "weight_decay": 0.05}),
    ("rmsprop_centered_wd", {"kind": "rmsprop", "lr": 0.01, "centered": 1, "weight_decay": 0.05}),
    ("rmsprop_momentum_wd", {"kind": "rmsprop", "lr": 0.01, "momentum": 0.7,
                             "weight_decay": 0.05}),
    ("rmsprop_centered_momentum", {"kind": "rmsprop", "lr": 0.003, "centered": 1,
                                   "momentum": 0.8}),
    ("adam_default", {"kind": "adam"}),
    ("adam_amsgrad", {"kind": "adam", "lr": 0.01, "amsgrad": 1}),
    ("adam_wd_betas", {"kind": "adam", "lr": 0.01, "weight_decay": 0.1, "beta1": 0.8,
                       "beta2": 0.99, "eps": 1e-6}),
    ("adam_amsgrad_wd", {"kind": "adam", "lr": 0.005, "amsgrad": 1, "weight_decay": 0.05}),
    ("adamw_default", {"kind": "adamw"}),
    ("adamw_no_wd", {"kind": "adamw", "lr": 0.01, "weight_decay": 0.0}),
    ("adamw_amsgrad_wd", {"kind": "adamw", "lr": 0.01, "weight_decay": 0.1, "amsgrad": 1}),
    ("nadam_default", {"kind": "nadam"}),
    ("nadam_wd", {"kind": "nadam", "lr": 0.01, "weight_decay": 0.01, "momentum_decay": 0.01,
                  "beta1": 0.85}),
]
# Between them the configs reach every combination of settings the C kernels specialise on.
# Configs whose rate changes between steps, as a schedule would (short decimals only).
VARYING_LR = {
    "sgd_momentum": [0.05] * 5 + [0.02] * 5 + [0.01] * 5 + [0.005] * 5,
    "adam_amsgrad": [round(0.01 - 0.0005 * t, 6) for t in range(T)],
    "nadam_wd": [0.01] * 10 + [0.003] * 10,
    "adagrad_decay_wd": [0.1] * 7 + [0.07] * 13,
}

# seqlm field -> (torch class, torch keyword)
CLASSES = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
           "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "nadam": torch.optim.NAdam}


def torch_kwargs(cfg):
    kind = cfg["kind"]
    kw = {}
    simple = {"lr": "lr", "weight_decay": "weight_decay", "eps": "eps"}
    per_kind = {
        "sgd": {"momentum": "momentum", "dampening": "dampening", "nesterov": "nesterov"},
        "adagrad": {"lr_decay": "lr_decay", "initial_accumulator": "initial_accumulator_value"},
        "rmsprop": {"alpha": "alpha", "momentum": "momentum", "centered": "centered"},
        "adam": {"amsgrad": "amsgrad"},
        "adamw": {"amsgrad": "amsgrad"},
        "nadam": {"momentum_decay": "momentum_decay"},
    }[kind]
    for k, v in cfg.items():
        if k == "kind" or k in ("beta1", "beta2"):
            continue
        name = simple.get(k) or per_kind[k]
        kw[name] = bool(v) if name in ("nesterov", "centered", "amsgrad") else v
    if "beta1" in cfg or "beta2" in cfg:
        kw["betas"] = (cfg.get("beta1", 0.9), cfg.get("beta2", 0.999))
    if kind != "sgd" or "lr" in cfg:
        kw.setdefault("lr", cfg.get("lr"))
    if kw.get("lr") is None:
        del kw["lr"]
    if "foreach" in inspect.signature(CLASSES[kind]).parameters:
        kw["foreach"] = False  # the single-tensor path, whose rounding the C code follows
    return kw


def torch_defaults():
    """torch's defaults in seqlm_optim_config's names (SGD has no default lr)."""
    out = {}
    for kind, cls in CLASSES.items():
        sig = inspect.signature(cls).parameters
        d = {}
        for name, p in sig.items():
            v = p.default
            if v is inspect.Parameter.empty or name in ("params", "maximize", "foreach",
                                                        "capturable", "differentiable", "fused"):
                continue
            if name == "betas":
                d["beta1"], d["beta2"] = v
            elif name == "initial_accumulator_value":
                d["initial_accumulator"] = v
            elif name == "lr" and not isinstance(v, float):
                continue  # sgd: required
            else:
                d[name] = float(v) if not isinstance(v, bool) else int(v)
        out[kind] = d
    return out


def check_short_decimal(x):
    # the C side reads a float back as its shortest decimal; that must be the value torch used
    s = np.format_float_positional(np.float32(x), unique=True, trim="-")
    assert float(s) == x, (x, s)


def run_config(name, cfg, init, grads):
    lrs = VARYING_LR.get(name, [cfg.get("lr", 0.1)] * T)
    if cfg["kind"] != "sgd" and "lr" not in cfg:
        lrs = [CLASSES[cfg["kind"]]([torch.zeros(1, requires_grad=True)]).defaults["lr"]] * T
    for x in lrs:
        check_short_decimal(x)
    p = torch.tensor(init.copy(), requires_grad=True)
    opt = CLASSES[cfg["kind"]]([p], **torch_kwargs(cfg))
    after = np.zeros((T, N), np.float32)
    for t in range(T):
        for group in opt.param_groups:
            group["lr"] = lrs[t]
        p.grad = torch.tensor(grads[t].copy())
        opt.step()
        after[t] = p.detach().numpy()
    state = {}
    for k, v in opt.state[p].items():
        if k == "step":
            assert float(v) == T
            continue
        if v is None:  # sgd without momentum keeps a None buffer
            continue
        state[k] = v.detach().numpy().astype(np.float32).reshape(-1)
    return np.array(lrs, np.float32), after, state


def schedules():
    out, meta = {}, {}

    def opt_for(lr):
        return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)

    o = opt_for(0.1)
    s = torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)
    lrs = []
    for _ in range(12):
        lrs.append(s.get_last_lr()[0])
        o.step()
        s.step()
    out["sched/step/lr"] = lrs
    meta["sched/step"] = {"kind": "step", "base_lr": 0.1, "step_size": 3, "gamma": 0.5}

    o = opt_for(0.1)
    s = torch.optim.lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=10)
    lrs = []
    for _ in range(15):
        lrs.append(s.get_last_lr()[0])
        o.step()
        s.step()
    out["sched/linear/lr"] = lrs
    meta["sched/linear"] = {"kind": "linear", "base_lr": 0.1, "min_ratio": 0.1, "total": 10}

    o = opt_for(0.1)
    s = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001)
    lrs = []
    for _ in range(11):  # beyond T_max torch's rate rises again; ours stays at the floor
        lrs.append(s.get_last_lr()[0])
        o.step()
        s.step()
    out["sched/cosine/lr"] = lrs
    meta["sched/cosine"] = {"kind": "cosine", "base_lr": 0.1, "min_ratio": 0.01, "total": 10}

    # Losses with improvements just above and just below the relative threshold (1e-4).
    losses = [5.0, 4.0, 3.5, 3.6, 3.4998, 3.4999, 3.5, 3.0, 2.9998, 2.99985, 3.1, 2.5, 2.6,
              2.7, 2.49976, 2.8, 2.9, 3.0, 3.1, 2.0]
    o = opt_for(0.1)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode="min", factor=0.25, patience=2,
                                                   threshold=1e-4)
    lrs = []
    for loss in losses:
        o.step()
        s.step(loss)
        lrs.append(o.param_groups[0]["lr"])
    out["sched/plateau/lr"] = lrs
    out["sched/plateau/loss"] = losses
    meta["sched/plateau"] = {"kind": "plateau", "base_lr": 0.1, "factor": 4.0, "patience": 2,
                             "threshold": 1e-4}
    return {k: np.array(v, np.float32) for k, v in out.items()}, meta


def clip_cases(rng):
    out, norms = {}, []
    cases = [(rng.standard_normal(10) * 3, 1.0),        # clipped hard
             (rng.standard_normal(37) * 0.01, 1.0),     # left alone
             (rng.standard_normal(1000), 5.0),          # clipped
             (rng.standard_normal(1000) * 1e-3, 0.5),   # left alone
             (np.zeros(8), 1.0)]                        # zero norm
    for i, (g, max_norm) in enumerate(cases):
        g = g.astype(np.float32)
        p = torch.zeros(len(g), requires_grad=True)
        p.grad = torch.tensor(g.copy())
        norm = torch.nn.utils.clip_grad_norm_([p], max_norm)
        out[f"clip/{i}/grads"] = g
        out[f"clip/{i}/clipped"] = p.grad.numpy().copy()
        out[f"clip/{i}/norm"] = np.array([float(norm)], np.float32)
        norms.append(max_norm)
    return out, norms


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(20240613)
    init = rng.standard_normal(N).astype(np.float32)
    init[3], init[4], init[5] = 10.0, -7.5, 1e-3  # a few large and small values
    scales = [1, 0.1, 5, 0.01, 2, 0.5, 3, 0.05, 1, 1, 0.2, 4, 0.02, 1.5, 0.3, 2.5, 0.7, 0.08, 1,
              6]
    grads = np.stack([rng.standard_normal(N) * s for s in scales]).astype(np.float32)
    grads[:, 0] = 0.0           # a parameter that never gets a gradient
    grads[::3, 1] = 0.0         # one that sometimes does not
    grads[:, 2] *= 1e-6         # tiny gradients, where eps matters

    tensors = {"init": init, "grads": grads}
    meta = {"configs": json.dumps([n for n, _ in CONFIGS])}
    for name, cfg in CONFIGS:
        lrs, after, state = run_config(name, cfg, init, grads)
        tensors[f"{name}/lr"] = lrs
        tensors[f"{name}/params"] = after
        for k, v in state.items():
            tensors[f"{name}/state/{k}"] = v
        meta[name] = json.dumps(cfg)
    clip, norms = clip_cases(rng)
    tensors.update(clip)
    meta["clip"] = json.dumps(norms)
    sched, sched_meta = schedules()
    tensors.update(sched)
    for k, v in sched_meta.items():
        meta[k] = json.dumps(v)
    meta["defaults"] = json.dumps(torch_defaults())
    write_safetensors(OUT, tensors, meta, metadata_last=True)
    print(f"wrote {OUT}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
