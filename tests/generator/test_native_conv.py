"""Native description ops of native_conv: conv, depthwise, maxpool, global_pool, residual
(the 1-D ops and the pools of native_pool: test_native_pool.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from bitsmith.generator.errors import ModelError
from bitsmith.generator.frontend import native_conv
from bitsmith.generator.frontend.native import load_native, native_ops
from bitsmith.generator.frontend.native_conv import parse_conv
from bitsmith.generator.ir.branch import Add, Fork
from bitsmith.generator.ir.conv import Conv, GlobalAccPool, MaxPool
from bitsmith.generator.passes import run_pipeline
from bitsmith.generator.passes.fold import Fold
from qonnx.core.datatype import DataType
from bitsmith.sim.golden import run_graph, run_node


def write(tmp_path: Path, layers, arrays, input_=None) -> Path:
    np.savez(tmp_path / "w.npz", **arrays)
    spec = {"name": "net", "input": input_ or {"shape": [6, 6, 3], "dtype": "UINT2"}, "arrays": "w.npz",
            "layers": layers}
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def ops_of(module) -> set[str]:
    """The native ops whose parsers ``module`` declares."""
    return {op for op, spec in native_ops().items() if spec.parse.__module__ == module.__name__}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_ops_are_registered():
    assert ops_of(native_conv) == {"conv", "depthwise", "maxpool", "global_pool", "residual", "conv1d",
                                   "depthwise1d", "maxpool1d"}
    assert {"fork", "add", "concat"} <= set(native_ops())


def test_full_network_loads_folds_and_runs(tmp_path, rng):
    arrays = {
        "c0_w": rng.integers(-2, 2, size=(4, 3, 3, 3)),
        "c0_t": np.sort(rng.integers(-6, 6, size=(4, 3)), axis=1),
        "dw_w": rng.integers(-2, 2, size=(4, 3, 3)),                  # (C, KH, KW), OHWI
        "dw_t": np.sort(rng.integers(-3, 3, size=(4, 3)), axis=1),
        "pt_w": rng.integers(-2, 2, size=(4, 4, 1, 1)),               # OIHW 1x1
        "pt_t": np.sort(rng.integers(-3, 3, size=(1, 3)), axis=1),
    }
    layers = [
        {"name": "c0", "op": "conv", "weights": "c0_w", "weight_dtype": "INT2", "pad": 1,
         "thresholds": "c0_t", "out_dtype": "UINT2", "pe": 2, "simd": 3},
        {"name": "r0", "op": "residual", "pe": 2, "body": [
            {"name": "dw", "op": "depthwise", "weights": "dw_w", "weight_dtype": "INT2", "pad": [1, 1],
             "thresholds": "dw_t", "out_dtype": "UINT2"},
            {"name": "pt", "op": "conv", "weights": "pt_w", "weight_layout": "OIHW", "weight_dtype": "INT2",
             "thresholds": "pt_t", "out_dtype": "UINT2", "pe": 1, "simd": 4}]},
        {"name": "p0", "op": "maxpool", "kernel": 2},
        {"name": "gp", "op": "global_pool", "pe": 4},
    ]
    graph = load_native(write(tmp_path, layers, arrays))
    c0, fork, dw, pt, r0, p0, gp = graph.nodes
    assert isinstance(c0, Conv) and c0.padding == (1, 1, 1, 1) and c0.out_shape == (6, 6, 4)
    # the residual is an ordinary subgraph: fork, body layers, add (body output, block input)
    assert isinstance(fork, Fork) and fork.name == "r0_fork" and fork.inputs == ("c0",) and fork.pe == 2
    assert dw.depthwise and dw.inputs == ("r0_fork",) and pt.inputs == ("dw",)
    assert isinstance(r0, Add) and r0.inputs == ("pt", "r0_fork") and (r0.scale_a, r0.scale_b) == (1, 1)
    assert r0.out_dtype.name == "UINT3" and p0.inputs == ("r0",)
    np.testing.assert_array_equal(pt.weights, arrays["pt_w"].transpose(0, 2, 3, 1))
    assert isinstance(p0, MaxPool) and p0.stride == (2, 2) and p0.out_shape == (3, 3, 4)
    assert isinstance(gp, GlobalAccPool) and gp.out_shape == (1, 1, 4)
    graph = run_pipeline(graph, (Fold(),))
    x = rng.integers(0, 4, size=(2, 6, 6, 3))
    y = run_graph(graph, x)
    assert y.shape == (2, 1, 1, 4)


@pytest.mark.parametrize("spec, msg", [
    ({"kernel": [2, 3]}, "weights have kernel (3, 3) but kernel is (2, 3)"),
    ({"pad": [1, 2, 3]}, "pad must be an integer, [H, W] or [top, left, bottom, right] of non-negative "
                         "integers, not [1, 2, 3]"),
    ({"pad": 3}, "padding (3, 3, 3, 3) must be smaller than the kernel (3, 3) on each side"),
    ({"stride": 0}, "stride must be an integer >= 1 or [H, W] of them, not 0"),
    ({"stride": "x"}, "stride must be an integer >= 1 or [H, W] of them, not 'x'"),
    ({"weight_layout": "NCHW"}, "weight_layout must be one of OHWI, OIHW, not 'NCHW'"),
    ({"simd": 2}, "SIMD=2 does not divide KH*KW*in_channels=27"),
    ({"weight_dtype": "INTX"}, "weight_dtype must be an integer datatype (BIPOLAR, BINARY, TERNARY, "
                               "INT2..INT32, UINT1..UINT32), not 'INTX'"),
    ({"weight_dtype": "BIPOLAR"}, "weights[0, 0, 0, 1] is 0, outside BIPOLAR (-1 or +1)"),
    ({"weights": "nope"}, "array 'nope' is not in w.npz (has: c_w)"),
])
def test_conv_errors_name_file_and_layer(tmp_path, rng, spec, msg):
    layer = {"name": "c", "op": "conv", "weights": "c_w", "weight_dtype": "INT2"} | spec
    path = write(tmp_path, [layer], {"c_w": rng.integers(-2, 2, size=(4, 3, 3, 3))})
    with pytest.raises(ModelError, match=f"^{re.escape('net.yaml: layer ' + repr('c') + ': ' + msg)}$"):
        load_native(path)


def test_bipolar_padding_is_rejected(tmp_path, rng):
    layer = {"name": "c", "op": "conv", "weights": "c_w", "weight_dtype": "BIPOLAR", "pad": 1}
    path = write(tmp_path, [layer], {"c_w": rng.choice([-1, 1], size=(2, 3, 3, 3))},
                 input_={"shape": [4, 4, 3], "dtype": "BIPOLAR"})
    with pytest.raises(ModelError, match=r"^net\.yaml: layer 'c': zero padding needs an input datatype "
                                         r"that contains 0, not BIPOLAR"):
        load_native(path)


def test_other_op_errors(tmp_path, rng):
    cases = [
        ({"name": "p", "op": "maxpool"}, "net.yaml: layer 'p': kernel is required"),
        ({"name": "p", "op": "maxpool", "kernel": 7}, "net.yaml: layer 'p': kernel (7, 7) is larger "
                                                        "than the padded input (6, 6)"),
        ({"name": "g", "op": "global_pool", "pe": 2}, "net.yaml: layer 'g': PE=2 does not divide channels=3"),
        ({"name": "d", "op": "depthwise", "weights": "c_w", "weight_dtype": "INT2"},
         "net.yaml: layer 'd': depthwise weights must have shape (3, 3, 3, 1) for 3 input channels, "
         "not (4, 3, 3, 3)"),
        ({"name": "r", "op": "residual", "body": []},
         "net.yaml: layer 'r': body must be a non-empty list of layers"),
        ({"name": "r", "op": "residual", "body": [{"name": "p", "op": "maxpool", "kernel": 2}]},
         "net.yaml: layer 'r': the body gives shape (3, 3, 3), the add needs the input shape (6, 6, 3)"),
        ({"name": "r", "op": "residual", "body": [{"name": "x", "op": "fft"}]},
         "net.yaml: layer 'r': body layer 'x': unknown op 'fft' (supported: add, avgpool, avgpool1d, concat, conv, "
         "conv1d, dense, depthwise, depthwise1d, fork, global_pool, hashed_dense, maxpool, maxpool1d, "),
    ]
    arrays = {"c_w": rng.integers(-2, 2, size=(4, 3, 3, 3))}
    for layer, msg in cases:
        with pytest.raises(ModelError, match=f"^{re.escape(msg)}"):
            load_native(write(tmp_path, [layer], arrays))


def test_parse_conv_takes_a_plain_dict_of_arrays(rng):
    w = rng.integers(-1, 2, size=(2, 1, 3, 2))
    node = parse_conv({"name": "c", "weights": "w", "weight_dtype": "TERNARY", "pad": [0, 1], "pe": 2,
                       "simd": 2}, (4, 5, 2), DataType["INT3"], {"w": w}, "here")
    assert node.kernel == (1, 3) and node.padding == (0, 1, 0, 1) and node.out_shape == (4, 5, 2)
    x = rng.integers(-4, 4, size=(1, 4, 5, 2))
    assert run_node(node, x).shape == (1, 4, 5, 2)
