"""Small branching networks in the native format, with random integer weights.

Each builder returns ``(layers, arrays, input)`` for :func:`write_net`. Every conv ends in
3 thresholds (UINT2 out) unless told otherwise, so the datatypes stay small; adds widen
them (UINT2 + UINT2 -> UINT3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml


class Net:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.layers, self.arrays = [], {}

    def conv(self, name, ic, oc, k=3, stride=1, pad=None, input=None, depthwise=False, thr=True):
        shape = (ic, k, k, 1) if depthwise else (oc, k, k, ic)
        self.arrays[f"{name}_w"] = self.rng.integers(-2, 2, size=shape)
        spec = {"name": name, "op": "depthwise" if depthwise else "conv", "weights": f"{name}_w",
                "weight_dtype": "INT2", "stride": stride, "pad": (k // 2) if pad is None else pad}
        if thr:
            self.arrays[f"{name}_t"] = np.sort(self.rng.integers(-6, 7, size=(oc, 3)), axis=1)
            spec |= {"thresholds": f"{name}_t", "out_dtype": "UINT2"}
        if input is not None:
            spec["input"] = input
        self.layers.append(spec)
        return name

    def add(self, name, a, b, **extra):
        self.layers.append({"name": name, "op": "add", "inputs": [a, b], **extra})
        return name

    def threshold(self, name, channels, steps=3, out="UINT2"):
        self.arrays[f"{name}_t"] = np.sort(self.rng.integers(0, 8, size=(channels, steps)), axis=1)
        self.layers.append({"name": name, "op": "threshold", "thresholds": f"{name}_t", "out_dtype": out})
        return name

    def layer(self, **spec):
        self.layers.append(spec)
        return spec["name"]


def residual():
    """stem 3x3 -> residual (fork, 3x3 conv body, add) -> requantise."""
    n = Net(1)
    n.conv("stem", 2, 4)
    n.layer(name="res", op="residual", body=[
        {"name": "body", "op": "conv", "weights": "b_w", "weight_dtype": "INT2", "pad": 1,
         "thresholds": "b_t", "out_dtype": "UINT2"}])
    n.arrays["b_w"] = n.rng.integers(-2, 2, size=(4, 3, 3, 4))
    n.arrays["b_t"] = np.sort(n.rng.integers(-6, 7, size=(4, 3)), axis=1)
    return n, (6, 6, 2)


def downsample():
    """stem -> [3x3 stride 2 -> 3x3] + [1x1 stride 2 shortcut] -> add."""
    n = Net(2)
    stem = n.conv("stem", 2, 4)
    a = n.conv("down", 4, 8, stride=2, input=stem)
    a = n.conv("body", 8, 8, input=a)
    s = n.conv("short", 4, 8, k=1, stride=2, input=stem)
    n.add("sum", a, s)
    return n, (8, 8, 2)


def inverted_residual():
    """MobileNet-v2: stem -> expand 1x1 -> depthwise 3x3 -> project 1x1 -> add(stem)."""
    n = Net(3)
    stem = n.conv("stem", 2, 4)
    e = n.conv("expand", 4, 8, k=1)
    d = n.conv("dw", 8, 8, depthwise=True)
    p = n.conv("project", 8, 4, k=1, input=d)
    n.add("sum", p, stem)
    return n, (6, 6, 2)


def fire():
    """SqueezeNet fire: squeeze 1x1 -> (expand 1x1 | expand 3x3) -> concat."""
    n = Net(4)
    s = n.conv("squeeze", 4, 2, k=1)
    e1 = n.conv("e1", 2, 4, k=1, input=s)
    e3 = n.conv("e3", 2, 4, input=s)
    n.layer(name="cat", op="concat", inputs=[e1, e3])
    return n, (6, 6, 4)


def nested():
    """Two consecutive residual blocks; the second's body holds a residual of its own;
    the last add scales its operands (2*a - b)."""
    n = Net(5)
    stem = n.conv("stem", 2, 4)
    n.layer(name="r1", op="residual", body=[{"name": "r1c", "op": "conv", "weights": "r1c_w",
                                             "weight_dtype": "INT2", "pad": 1}])
    n.arrays["r1c_w"] = n.rng.integers(-1, 2, size=(4, 3, 3, 4))
    q = n.threshold("q1", 4)                       # requantise the wide sum to UINT2
    a = n.conv("outer", 4, 4, input=q)
    n.layer(name="inner", op="residual", input=a, body=[
        {"name": "inc", "op": "conv", "weights": "inc_w", "weight_dtype": "INT2", "pad": 1,
         "thresholds": "inc_t", "out_dtype": "UINT2"}])
    n.arrays["inc_w"] = n.rng.integers(-2, 2, size=(4, 3, 3, 4))
    n.arrays["inc_t"] = np.sort(n.rng.integers(-6, 7, size=(4, 3)), axis=1)
    i = n.threshold("q2", 4, out="UINT2")
    n.add("r2", i, q, scale_a=2, scale_b=-1)
    del stem
    return n, (6, 6, 2)


def pool_branch():
    """A branch holding a max-pool: (3x3 conv -> 2x2 pool) | (2x2 pool -> 1x1 conv) -> concat."""
    n = Net(6)
    stem = n.conv("stem", 2, 4)
    a = n.conv("ca", 4, 4, input=stem)
    a = n.layer(name="pa", op="maxpool", kernel=2, input=a)
    b = n.layer(name="pb", op="maxpool", kernel=2, input=stem)
    b = n.conv("cb", 4, 2, k=1, input=b)
    n.layer(name="cat", op="concat", inputs=[a, b])
    return n, (8, 8, 2)


NETS = {"residual": residual, "downsample": downsample, "inverted_residual": inverted_residual,
        "fire": fire, "nested": nested, "pool_branch": pool_branch}


def write_net(tmp_path: Path, which: str) -> Path:
    net, shape = NETS[which]()
    np.savez(tmp_path / f"{which}.npz", **net.arrays)
    spec = {"name": which, "input": {"shape": list(shape), "dtype": "UINT2"}, "arrays": f"{which}.npz",
            "layers": net.layers}
    path = tmp_path / f"{which}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
