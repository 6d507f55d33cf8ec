"""Native description: avgpool, avgpool1d, upsample, padded/ceil maxpool, the 1-D conv ops, [L, C] inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bitsmith.generator.errors import ModelError
from bitsmith.generator.frontend.native import load_native
from bitsmith.generator.frontend import native_pool
from bitsmith.generator.ir.conv import Conv, MaxPool
from bitsmith.generator.ir.pool import AvgPool
from bitsmith.generator.ir.resize import Upsample
from bitsmith.generator.passes import run_pipeline
from bitsmith.generator.passes.fold import Fold
from bitsmith.sim.golden import run_graph
from test_native_conv import ops_of, write          # this folder is on sys.path under pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_ops_are_registered():
    assert ops_of(native_pool) == {"avgpool", "avgpool1d", "upsample"}


def test_image_network(tmp_path, rng):
    layers = [
        {"name": "p0", "op": "maxpool", "kernel": 3, "stride": 2, "pad": 1},                # ResNet stem pool
        {"name": "p1", "op": "maxpool", "kernel": 2, "ceil_mode": True},
        {"name": "u0", "op": "upsample", "scale": [2, 3], "pe": 3},
        {"name": "a0", "op": "avgpool", "kernel": 2, "pad": [1, 0], "count_include_pad": True},
        {"name": "a1", "op": "avgpool", "kernel": [1, 2], "stride": 1, "shift": 1, "rounding": "round",
         "trunc_dtype": "UINT4", "narrow": True},
    ]
    graph = load_native(write(tmp_path, layers, {}))
    p0, p1, u0, a0, a1 = graph.nodes
    assert isinstance(p0, MaxPool) and p0.padding == (1, 1, 1, 1) and p0.out_shape == (3, 3, 3)
    assert p1.ceil_mode and p1.out_shape == (2, 2, 3) and p1.padding == (0, 0, 1, 1)
    assert isinstance(u0, Upsample) and u0.out_shape == (4, 6, 3) and u0.pe == 3
    assert isinstance(a0, AvgPool) and a0.padding == (1, 0, 1, 0) and a0.out_shape == (3, 3, 3)
    assert a0.out_dtype.name == "UINT4"                       # 4 * [0, 3]
    assert a1.rounding == "ROUND" and a1.trunc_dtype.name == "UINT4" and a1.narrow
    graph = run_pipeline(graph, (Fold(),))
    assert run_graph(graph, rng.integers(0, 4, size=(2, 6, 6, 3))).shape == (2, 3, 2, 3)


def test_sequence_network(tmp_path, rng):
    arrays = {"k0_w": rng.integers(-2, 2, size=(4, 3, 5)),       # PyTorch Conv1d (OC, IC, K)
              "k1_w": rng.integers(-2, 2, size=(4, 3)),          # depthwise (C, K)
              "k0_t": np.sort(rng.integers(-6, 6, size=(4, 3)), axis=1)}
    layers = [
        {"name": "k0", "op": "conv1d", "weights": "k0_w", "weight_layout": "OIW", "weight_dtype": "INT2",
         "pad": 2, "thresholds": "k0_t", "out_dtype": "UINT2", "simd": 15, "pe": 2},
        {"name": "k1", "op": "depthwise1d", "weights": "k1_w", "weight_dtype": "INT2", "pad": [1, 1]},
        {"name": "m0", "op": "maxpool1d", "kernel": 2},
        {"name": "a0", "op": "avgpool1d", "kernel": 3, "stride": 1, "pad": [1, 1]},
        {"name": "u0", "op": "upsample", "scale": [2, 1]},
    ]
    graph = load_native(write(tmp_path, layers, arrays, input_={"shape": [12, 3], "dtype": "UINT2"}))
    assert graph.in_shape == (12, 1, 3)
    k0, k1, m0, a0, u0 = graph.nodes
    assert isinstance(k0, Conv) and k0.kernel == (5, 1) and k0.padding == (2, 0, 2, 0) and k0.window_parallel
    np.testing.assert_array_equal(k0.weights[:, :, 0, :], arrays["k0_w"].transpose(0, 2, 1))
    assert k1.depthwise and k1.kernel == (3, 1) and k1.out_shape == (12, 1, 4)
    assert m0.kernel == (2, 1) and m0.stride == (2, 1) and m0.out_shape == (6, 1, 4)
    assert a0.out_shape == (6, 1, 4) and u0.out_shape == (12, 1, 4)
    graph = run_pipeline(graph, (Fold(),))
    assert run_graph(graph, rng.integers(0, 4, size=(2, 12, 1, 3))).shape == (2, 12, 1, 4)


ERRORS = [
    ({"op": "avgpool"}, "kernel is required"),
    ({"op": "avgpool", "kernel": 2, "pad": 1, "count_include_pad": False},
     "count_include_pad: false with padding (1, 1, 1, 1) divides border windows by the input pixels they "
     "cover, a divisor that varies with the output position; pad explicitly or count the padding "
     "(count_include_pad: true)"),
    ({"op": "avgpool", "kernel": 4, "ceil_mode": True, "count_include_pad": False},
     "count_include_pad: false with padding (0, 0, 2, 2) divides border windows by the input pixels they "
     "cover, a divisor that varies with the output position; pad explicitly or count the padding "
     "(count_include_pad: true)"),
    ({"op": "avgpool", "kernel": 2, "count_include_pad": "no"}, "count_include_pad must be true or false, not 'no'"),
    ({"op": "avgpool", "kernel": 2, "shift": 1.5}, "shift must be an integer in 0..62, not 1.5"),
    ({"op": "avgpool", "kernel": 2, "shift": 63}, "shift must be an integer in 0..62, not 63"),
    ({"op": "avgpool", "kernel": 2, "rounding": "NEAREST"},
     "rounding must be one of ROUND, HALF_EVEN, CEIL, FLOOR, UP, DOWN, HALF_UP, HALF_DOWN (any case), "
     "not 'NEAREST'"),
    ({"op": "avgpool", "kernel": 2, "rounding": 3},
     "rounding must be one of ROUND, HALF_EVEN, CEIL, FLOOR, UP, DOWN, HALF_UP, HALF_DOWN (any case), not 3"),
    ({"op": "avgpool", "kernel": 2, "count_include_pads": False},
     "unknown key 'count_include_pads' for avgpool (did you mean 'count_include_pad'?)"),
    ({"op": "avgpool", "kernel": 2, "trunc_dtype": "BIPOLAR"},
     "trunc_dtype must be an INTn or UINTn datatype, not 'BIPOLAR'"),
    ({"op": "avgpool", "kernel": 2, "narrow": True}, "narrow needs a trunc_dtype"),
    ({"op": "avgpool", "kernel": 2, "pe": 2}, "PE=2 does not divide channels=3"),
    ({"op": "maxpool", "kernel": 3, "pad": 3}, "padding (3, 3, 3, 3) must be smaller than the kernel (3, 3) on "
                                               "each side"),
    ({"op": "maxpool", "kernel": 3, "ceil_mode": "yes"}, "ceil_mode must be true or false, not 'yes'"),
    ({"op": "upsample"}, "scale is required"),
    ({"op": "upsample", "scale": 0}, "scale must be an integer >= 1 or [H, W] of them, not 0"),
    ({"op": "upsample", "scale": [2, 2, 2]}, "scale must be an integer >= 1 or [H, W] of them, not [2, 2, 2]"),
    ({"op": "upsample", "scale": 2, "mode": "nearest"},
     "unknown key 'mode' for upsample (valid keys: input, name, op, pe, scale)"),
    ({"op": "maxpool1d", "kernel": 2}, "a 1-D layer takes a sequence (L, 1, C) (input shape [L, C]), "
                                       "not (6, 6, 3)"),
]


@pytest.mark.parametrize("spec, msg", ERRORS)
def test_errors_name_file_and_layer(tmp_path, spec, msg):
    path = write(tmp_path, [{"name": "x"} | spec], {})
    with pytest.raises(ModelError, match=f"^{re.escape('net.yaml: layer ' + repr('x') + ': ' + msg)}$"):
        load_native(path)


SEQUENCE_ERRORS = [
    ({"op": "maxpool1d"}, "kernel is required"),
    ({"op": "maxpool1d", "kernel": [2, 1]}, "kernel must be a positive integer, not [2, 1]"),
    ({"op": "avgpool1d", "kernel": 2, "stride": 0}, "stride must be a positive integer, not 0"),
    ({"op": "avgpool1d", "kernel": 3, "pad": [1, 1, 1, 1]},
     "pad must be an integer or [left, right] of non-negative integers, not [1, 1, 1, 1]"),
    ({"op": "conv1d", "weights": "w", "weight_dtype": "INT2", "weight_layout": "OIHW"},
     "weight_layout must be one of OWI, OIW, not 'OIHW'"),
    ({"op": "conv1d", "weights": "w4", "weight_dtype": "INT2"}, "weights must be 3-D (OWI), not shape (2, 3, 1, 3)"),
    ({"op": "conv1d", "weights": "w", "weight_dtype": "INT2", "kernel": 2},
     "weights have kernel (3, 1) but kernel is (2, 1)"),
    ({"op": "conv1d", "weights": "w", "weight_dtype": "INT2", "simd": 2}, "SIMD=2 does not divide "
                                                                          "KH*KW*in_channels=9"),
    ({"op": "depthwise1d", "weights": "w", "weight_dtype": "INT2"},
     "depthwise weights must have shape (3, 3, 1, 1) for 3 input channels, not (2, 3, 1, 3)"),
]


@pytest.mark.parametrize("spec, msg", SEQUENCE_ERRORS)
def test_sequence_errors(tmp_path, rng, spec, msg):
    arrays = {"w": rng.integers(-2, 2, size=(2, 3, 3)), "w4": rng.integers(-2, 2, size=(2, 3, 1, 3))}
    path = write(tmp_path, [{"name": "x"} | spec], arrays, input_={"shape": [8, 3], "dtype": "UINT2"})
    with pytest.raises(ModelError, match=f"^{re.escape('net.yaml: layer ' + repr('x') + ': ' + msg)}$"):
        load_native(path)


@pytest.mark.parametrize("shape", [[8, 0], [1, 8, 8, 3], [8, 3.0]])
def test_sequence_input_shape_errors(tmp_path, shape):
    path = write(tmp_path, [{"name": "x", "op": "maxpool1d", "kernel": 2}], {},
                 input_={"shape": shape, "dtype": "UINT2"})
    with pytest.raises(ModelError, match=rf"^.*net\.yaml: input: shape must be \[C\], \[L, C\] or \[H, W, C\] of "
                                         rf"positive integers, not {re.escape(str(shape))}$"):
        load_native(path)


def test_wide_sum_into_a_dense_layer(tmp_path):
    """UINT12 (4x4 pixels of UINT8) feeds a dense layer as it is; UINT20 is rejected by name."""
    arrays = {"fc_w": np.ones((2, 3), dtype=np.int64)}
    layers = [{"name": "gp", "op": "global_pool"}, {"name": "fc", "op": "dense", "weights": "fc_w",
                                                    "weight_dtype": "INT2"}]
    graph = load_native(write(tmp_path, layers, arrays, input_={"shape": [4, 4, 3], "dtype": "UINT8"}))
    assert graph.nodes[1].in_dtype.name == "UINT12"
    path = write(tmp_path, layers, arrays, input_={"shape": [64, 64, 3], "dtype": "UINT8"})
    with pytest.raises(ModelError, match=r"^net\.yaml: layer 'fc': input datatype UINT20 is wider than the 16 "
                                         r"bits a matrix layer multiplies; requantize it first \(a threshold "
                                         r"layer\)$"):
        load_native(path)
