#!/usr/bin/python3
"""Writes the golden files that tie flowmatch's networks to cfm_ref.py.

Run with Debian's interpreter (torch 1.13), from anywhere:

    /usr/bin/python3 scripts/make-unet-golden.py

For the reference UNet (1x28x28, defaults), the reference MLP (toy2d: d=2,
4 x 256) and a multi-head self-attention block (torch.nn.MultiheadAttention),
it writes tests/nn/golden/<name>_reference.json holding:

  parameters   every parameter's name, shape and a recipe for its values
               (no weights are stored, so the files stay small);
  x, t         a small input batch (batch 2 for the UNet);
  output_float32, output_float64
               the reference's output for those weights in float32 and in
               float64 (net.double());
  seed0_init   for the cfm_ref networks: after torch.manual_seed(0) and
               construction, each parameter's sum and first values, which
               checks that our construction order is the reference's.

Recipe: parameter number `stream` (its index in named_parameters()) gets
element i = float32(offset + scale * u) with
    u = (splitmix64(stream * 2**32 + i) >> 40) / 2**24 - 0.5,
splitmix64(z) = mix(z + 0x9E3779B97F4A7C15) as in SplitMix64. The C++ test
(tests/nn/golden.h) computes the same values.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, "/work/shared/bench")
import cfm_ref  # noqa: E402

OUT_DIR = os.path.join(REPO, "tests", "nn", "golden")


def splitmix64(z):
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def recipe_values(stream, numel, offset, scale):
    i = np.arange(numel, dtype=np.uint64)
    bits = splitmix64((np.uint64(stream) << np.uint64(32)) + i) >> np.uint64(40)
    u = bits.astype(np.float64) / float(1 << 24) - 0.5
    return (offset + scale * u).astype(np.float32)


def recipe_for(name, p):
    """Gains near 1 for GroupNorm weights, small biases, unit-variance weights."""
    if p.dim() == 1:
        return (1.0, 0.5) if name.endswith(".weight") else (0.0, 0.2)
    fan_in = p.numel() // p.shape[0]
    return 0.0, 2.0 * math.sqrt(3.0 / fan_in)


def fill(named):
    """Fills (name, tensor) pairs by the recipe; returns their JSON records."""
    records = []
    with torch.no_grad():
        for stream, (name, p) in enumerate(named):
            offset, scale = recipe_for(name, p)
            values = recipe_values(stream, p.numel(), offset, scale)
            p.copy_(torch.from_numpy(values).reshape(p.shape))
            records.append(dict(name=name, shape=list(p.shape), stream=stream,
                                offset=offset, scale=scale))
    return records


def floats(t):
    return [float(v) for v in t.detach().double().reshape(-1)]


def seed0_init(build):
    torch.manual_seed(0)
    net = build()
    return [dict(name=n, sum=float(p.double().sum()), head=floats(p.reshape(-1)[:3]))
            for n, p in net.named_parameters()]


def outputs(net, x, t):
    with torch.no_grad():
        out32 = net(x, t)
        net64 = net.double()
        out64 = net64(x.double(), t.double())
        net.float()
    return floats(out32), floats(out64)


def write(name, record):
    path = os.path.join(OUT_DIR, name + "_reference.json")
    with open(path, "w") as f:
        json.dump(record, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def network_golden(build, model, data_shape, x, t):
    net = build()
    record = dict(source="scripts/make-unet-golden.py from cfm_ref.py",
                  model=model, data_shape=data_shape,
                  parameter_count=sum(p.numel() for p in net.parameters()),
                  parameters=fill(list(net.named_parameters())),
                  x_shape=list(x.shape), x=floats(x), t=floats(t))
    record["output_float32"], record["output_float64"] = outputs(net, x, t)
    record["seed0_init"] = seed0_init(build)
    return record


class AttentionRef(nn.Module):
    """GroupNorm, then torch's MultiheadAttention over H*W positions, plus x."""

    def __init__(self, channels, heads, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.mha = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x):
        b, c, h, w = x.shape
        seq = self.norm(x).reshape(b, c, h * w).transpose(1, 2)
        out, _ = self.mha(seq, seq, seq, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


def attention_golden(gen):
    c, heads, groups = 16, 2, 4
    net = AttentionRef(c, heads, groups)
    # Our block's parameters, filled by the recipe, then loaded into the MHA.
    ours = [("norm.weight", torch.empty(c)), ("norm.bias", torch.empty(c)),
            ("qkv.weight", torch.empty(3 * c, c, 1, 1)), ("qkv.bias", torch.empty(3 * c)),
            ("proj.weight", torch.empty(c, c, 1, 1)), ("proj.bias", torch.empty(c))]
    records = fill(ours)
    p = dict(ours)
    with torch.no_grad():
        net.norm.weight.copy_(p["norm.weight"])
        net.norm.bias.copy_(p["norm.bias"])
        net.mha.in_proj_weight.copy_(p["qkv.weight"].reshape(3 * c, c))
        net.mha.in_proj_bias.copy_(p["qkv.bias"])
        net.mha.out_proj.weight.copy_(p["proj.weight"].reshape(c, c))
        net.mha.out_proj.bias.copy_(p["proj.bias"])
    x = torch.randn(2, c, 4, 4, generator=gen)
    with torch.no_grad():
        out32 = floats(net(x))
        out64 = floats(net.double()(x.double()))
    return dict(source="scripts/make-unet-golden.py, torch.nn.MultiheadAttention",
                channels=c, num_heads=heads, groups=groups, parameters=records,
                x_shape=list(x.shape), x=floats(x), output_float32=out32,
                output_float64=out64)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    gen = torch.Generator().manual_seed(20240601)

    x = torch.randn(2, 1, 28, 28, generator=gen)
    t = torch.tensor([0.05, 0.7])
    write("unet", network_golden(cfm_ref.UNet, {"type": "unet"}, [1, 28, 28], x, t))

    x = torch.randn(5, 2, generator=gen)
    t = torch.tensor([0.0, 0.25, 0.5, 0.9, 1.0])
    write("mlp", network_golden(lambda: cfm_ref.MLP(2, 256, 4),
                                {"type": "mlp", "hidden": 256, "depth": 4}, [2], x, t))

    write("attention", attention_golden(gen))


if __name__ == "__main__":
    main()
