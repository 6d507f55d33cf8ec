"""QONNX front end on branching networks and the window layers (issue 12), built with the
onnx helper: residual adds, concats, average/max pools of every attribute combination the
IR takes, 1-D layers, quantized biases, the ``finn_datatype`` input annotation; each
accepted model checked golden == qonnx, each refused one pinned with its message."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.ir import MultiThreshold
from bitsmith.generator.ir.conv import GlobalAccPool, MaxPool
from bitsmith.generator.ir.branch import Add, Concat
from bitsmith.generator.ir.pool import AvgPool
from tests.generator.frontend.test_qonnx_models import Net, check_model, expect_error, rand_weights


def frames(shape, n=120, seed=0, spread=2.0):
    return (np.random.default_rng(seed).normal(size=(n,) + tuple(shape[1:])) * spread).astype(np.float32)


def conv(net, cin, cout, k, rng, pad=0, stride=1, scale=0.125, bits=4, per_channel=False, bias=None, rank=4):
    """A quantized convolution; power-of-two weight scales keep qonnx's float32 sums exact, so
    rounding ties of the next quantizer fall the same way in both models."""
    shape = (cout, cin) + (k,) * (rank - 2)
    s = np.float32(scale) if not per_channel else \
        (2.0 ** -rng.integers(2, 5, (cout,) + (1,) * (rank - 1))).astype(np.float32)
    ins = [net.weight(rand_weights(rng, shape) * 0.2, s, bits=bits)]
    if bias is not None:
        ins.append(bias)
    return net.op("Conv", *ins, kernel_shape=[k] * (rank - 2), pads=[pad] * (2 * (rank - 2)),
                  strides=[stride] * (rank - 2))


def bn(net, c, rng, rank=4):
    return net.op("BatchNormalization", rng.uniform(0.5, 2, c).astype(np.float32), rng.normal(size=c).astype(np.float32),
                  rng.normal(size=c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32))


# ----------------------------------------------------------------------------- branches

@pytest.mark.parametrize("per_channel", [False, True], ids=["tensor_scale", "channel_scale"])
@pytest.mark.parametrize("downsample", [False, True], ids=["identity", "strided"])
def test_residual_block(tmp_path, per_channel, downsample):
    rng = np.random.default_rng(1)
    net = Net((1, 4, 8, 8)).quant(0.25, 4)
    conv(net, 4, 4, 3, rng, pad=1, per_channel=per_channel)
    bn(net, 4, rng).op("Relu").quant(0.5, 3, signed=0)
    x = net.cur
    conv(net, 4, 6, 3, rng, pad=1, stride=2 if downsample else 1, per_channel=per_channel)
    bn(net, 6, rng).quant(0.5, 4)
    body = net.cur
    net.cur = x
    if downsample:
        conv(net, 4, 6, 1, rng, stride=2)
        bn(net, 6, rng)
    else:
        conv(net, 4, 6, 1, rng)
    net.quant(0.5, 4).op("Add", body).op("Relu").quant(0.5, 3, signed=0)
    net.op("GlobalAveragePool").op("Flatten", axis=1)
    net.op("MatMul", net.weight(rand_weights(rng, (6, 5)), 0.3, bits=4))
    path = net.save(tmp_path / "res.onnx")
    graph, _ = check_model(path, frames(net.in_shape))
    adds = [n for n in graph.nodes if isinstance(n, Add)]
    assert len(adds) == 1 and (adds[0].scale_a, adds[0].scale_b) == (1, 1)
    assert len(graph.consumers(graph.nodes[0].name)) == 2           # the fork after the first conv
    check_model(path, frames(net.in_shape), topk=2)


@pytest.mark.parametrize("sa, sb, ka, kb", [(0.5, 0.25, 2, 1), (0.125, 0.5, 1, 4), (0.75, 0.5, 3, 2)])
def test_add_scale_ratios(tmp_path, sa, sb, ka, kb):
    rng = np.random.default_rng(2)
    net = Net((1, 3, 6, 6)).quant(0.25, 4)
    x = net.cur
    conv(net, 3, 4, 3, rng, pad=1).quant(sa, 4)
    a = net.cur
    net.cur = x
    conv(net, 3, 4, 1, rng).quant(sb, 3).op("Add", a, first=None)
    net.quant(0.5, 4, signed=1)
    path = net.save(tmp_path / "ratio.onnx")
    graph, _ = check_model(path, frames(net.in_shape))
    (add,) = [n for n in graph.nodes if isinstance(n, Add)]
    assert (add.scale_a, add.scale_b) == (kb, ka)    # ONNX input 0 is the 1x1 branch (scale sb)


def _two_branch(net, rng, sa, sb, join, post):
    x = net.cur
    conv(net, 3, 4, 3, rng, pad=1).quant(sa, 3, signed=0)
    a = net.cur
    net.cur = x
    conv(net, 3, 2 if join == "Concat" else 4, 1, rng).quant(sb, 3, signed=0)
    if join == "Concat":
        net.op("Concat", a, axis=1)
    else:
        net.op("Add", a)
    post(net)
    return net


def test_add_scales_without_small_ratio_refused(tmp_path):
    rng = np.random.default_rng(3)
    net = _two_branch(Net((1, 3, 6, 6)).quant(0.25, 4), rng, 0.3, 0.7, "Add", lambda n: n.quant(0.5, 4))
    expect_error(net.save(tmp_path / "bad.onnx"),
                 r"^node 'Add_\d+' \(Add\): the operand scales 0\.699999988079071 and 0\.30000001192092896 are not "
                 r"in a ratio of small integers \(at most 255\); requantize both operands with one shared "
                 r"quantizer$")


def test_add_of_unquantized_channel_scales_refused(tmp_path):
    rng = np.random.default_rng(4)
    net = Net((1, 3, 6, 6)).quant(0.25, 4)
    x = net.cur
    conv(net, 3, 4, 3, rng, pad=1)
    bn(net, 4, rng)
    a = net.cur
    net.cur = x
    conv(net, 3, 4, 1, rng).quant(0.5, 3).op("Add", a).quant(0.5, 4)
    expect_error(net.save(tmp_path / "bad.onnx"),
                 r"^node 'Add_\d+' \(Add\): the scale of operand 1 differs between channels \(or is zero\); "
                 r"requantize both operands with one shared per-tensor quantizer$")


@pytest.mark.parametrize("scales", [(0.5, 0.5), (0.5, 0.25)], ids=["shared", "different"])
def test_concat_then_quantizer(tmp_path, scales):
    rng = np.random.default_rng(5)
    net = _two_branch(Net((1, 3, 6, 6)).quant(0.25, 4), rng, *scales, "Concat",
                      lambda n: n.op("Relu").quant(0.5, 2, signed=0).op("MaxPool", kernel_shape=[2, 2],
                                                                        strides=[2, 2]))
    path = net.save(tmp_path / "cat.onnx")
    graph, _ = check_model(path, frames(net.in_shape))
    (cat,) = [n for n in graph.nodes if isinstance(n, Concat)]
    assert cat.channels == (2, 4)


@pytest.mark.parametrize("into", ["conv", "depthwise", "matmul"])
def test_per_channel_input_scales_folded_into_weights(tmp_path, into):
    # a concat of branches quantized with scales 0.5 and 0.25: per-channel input scales in the
    # ratio 2:1 become integer weight factors (a depthwise conv takes any per-channel scale)
    rng = np.random.default_rng(6)

    def post(n):
        if into == "conv":
            conv(n, 6, 4, 1, rng)
        elif into == "depthwise":
            n.op("Conv", n.weight(rand_weights(rng, (6, 1, 3, 3)), np.float32(0.25), bits=3), kernel_shape=[3, 3],
                 group=6, pads=[1, 1, 1, 1])
        else:
            n.op("GlobalAveragePool").op("Flatten", axis=1)
            n.op("MatMul", n.weight(rand_weights(rng, (6, 3)), np.float32(0.25), bits=3))
    net = _two_branch(Net((1, 3, 6, 6)).quant(0.25, 4), rng, 0.5, 0.25, "Concat", post)
    check_model(net.save(tmp_path / "pc.onnx"), frames(net.in_shape))


def test_per_channel_input_scales_without_integer_ratio_refused(tmp_path):
    rng = np.random.default_rng(6)
    net = _two_branch(Net((1, 3, 6, 6)).quant(0.25, 4), rng, 0.3, 0.7, "Concat",
                      lambda n: conv(n, 6, 4, 1, rng))
    expect_error(net.save(tmp_path / "bad.onnx"),
                 r"^node 'Conv_\d+' \(Conv\): the input scale differs between channels and not in ratios of "
                 r"integers up to 16 \(or is zero\); a quantizer with a per-tensor scale must come before a "
                 r"convolution$")


def test_concat_widens_narrower_thresholds(tmp_path):
    rng = np.random.default_rng(7)
    net = Net((1, 3, 6, 6)).quant(0.25, 4)
    x = net.cur
    conv(net, 3, 4, 3, rng, pad=1).quant(0.5, 4, signed=0)
    a = net.cur
    net.cur = x
    conv(net, 3, 2, 1, rng).quant(0.5, 2, signed=0).op("Concat", a, axis=1).quant(0.5, 3, signed=0)
    graph, _ = check_model(net.save(tmp_path / "wide.onnx"), frames(net.in_shape))
    (cat,) = [n for n in graph.nodes if isinstance(n, Concat)]
    assert cat.in_dtype.name == "UINT4"


def test_concat_along_space_refused(tmp_path):
    rng = np.random.default_rng(8)
    net = _two_branch(Net((1, 3, 6, 6)).quant(0.25, 4), rng, 0.5, 0.5, "Add", lambda n: n)
    net.nodes[-1] = onnx.helper.make_node("Concat", list(net.nodes[-1].input), list(net.nodes[-1].output),
                                          name="Cat_1", axis=2)
    expect_error(net.save(tmp_path / "bad.onnx"), r"^node 'Concat_\d+' \(Concat\): only a concatenation along the channel "
                                                  r"axis \(axis 1\) is supported, not axis 2$")


def test_branch_before_input_quantizer_refused(tmp_path):
    net = Net((1, 8))
    x = net.cur
    net.op("Mul", np.float32(2.0)).op("Add", x).quant(0.5, 3)
    expect_error(net.save(tmp_path / "bad.onnx"), r"^node 'Mul_\d+' \(Mul\): its input '.*' feeds several nodes "
                                                  r"before the model's input quantizer; the network may branch "
                                                  r"only in the integer part$")


# ----------------------------------------------------------------------------- windows

@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[2, 2], strides=[2, 2]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
    dict(kernel_shape=[3, 3], strides=[1, 1]),
    dict(kernel_shape=[2, 3], strides=[1, 2], pads=[1, 0, 0, 1], count_include_pad=1),
], ids=["2x2", "3x3s2p1", "3x3s1", "2x3_asym"])
def test_average_pool(tmp_path, attrs):
    rng = np.random.default_rng(9)
    net = Net((1, 3, 7, 7)).quant(0.25, 4, signed=0)
    net.op("AveragePool", **attrs).quant(0.125, 4, signed=0)
    graph, _ = check_model(net.save(tmp_path / "avg.onnx"), frames(net.in_shape))
    assert isinstance(graph.nodes[0], AvgPool)
    del rng


@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
], ids=["padded", "ceil", "padded_ceil"])
def test_max_pool(tmp_path, attrs):
    rng = np.random.default_rng(10)
    net = Net((1, 3, 7, 7)).quant(0.25, 4)
    conv(net, 3, 4, 3, rng, pad=1)
    bn(net, 4, rng).quant(0.5, 3).op("MaxPool", **attrs).quant(0.5, 2)
    graph, _ = check_model(net.save(tmp_path / "max.onnx"), frames(net.in_shape))
    assert any(isinstance(n, MaxPool) and n.pad == tuple(attrs.get("pads", [0] * 4)) for n in graph.nodes)


@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_mean_global(tmp_path, keepdims):
    rng = np.random.default_rng(11)
    net = Net((1, 3, 5, 5)).quant(0.25, 4, signed=0)
    net.op("ReduceMean", axes=[2, 3], keepdims=keepdims).op("Flatten", axis=1)
    net.op("MatMul", net.weight(rand_weights(rng, (3, 4)), 0.5, bits=4))
    graph, _ = check_model(net.save(tmp_path / "mean.onnx", opset=13), frames(net.in_shape))
    assert isinstance(graph.nodes[0], GlobalAccPool)


def test_reduce_mean_over_channels_refused(tmp_path):
    net = Net((1, 3, 5, 5)).quant(0.25, 4, signed=0).op("ReduceMean", axes=[1], keepdims=1)
    expect_error(net.save(tmp_path / "bad.onnx", opset=13),
                 r"^node 'ReduceMean_\d+' \(ReduceMean\): only a mean over all spatial axes \(a global average "
                 r"pool, axes \[2, 3\]\) is supported, not axes \[1\]$")


def test_average_pool_ceil_overhang_refused(tmp_path):
    net = Net((1, 2, 5, 5)).quant(0.5, 3, signed=0).op("AveragePool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    expect_error(net.save(tmp_path / "bad.onnx"),
                 r"^node 'AveragePool_\d+' \(AveragePool\): ceil_mode windows overhanging the padding are averaged "
                 r"over fewer pixels, which no per-channel scale can apply; use ceil_mode=0 or sizes that divide "
                 r"evenly$")


@pytest.mark.parametrize("bias", [False, True])
def test_one_dimensional_layers(tmp_path, bias):
    rng = np.random.default_rng(12)
    net = Net((1, 5, 17)).quant(0.25, 6)
    b = net.weight(rng.normal(size=6).astype(np.float32), np.float32(0.25 * 0.1), bits=16, narrow=0) if bias else None
    conv(net, 5, 6, 3, rng, pad=1, bias=b, rank=3)
    bn(net, 6, rng, rank=3).quant(0.5, 3, signed=0).op("MaxPool", kernel_shape=[2], strides=[2])
    conv(net, 6, 4, 3, rng, rank=3).quant(0.5, 3, signed=0).op("AveragePool", kernel_shape=[2], strides=[2])
    net.op("Flatten", axis=1)
    net.op("Gemm", net.weight(rand_weights(rng, (3, 12)), 0.3, bits=4), transB=1)
    graph, _ = check_model(net.save(tmp_path / "seq.onnx"), frames(net.in_shape))
    assert graph.in_shape == (17, 1, 5)
    assert graph.nodes[0].kernel == (3, 1) and graph.nodes[0].pad == (1, 0, 1, 0)


def test_quantized_constant_bias_add(tmp_path):
    # QKeras through qonnx: MatMul then Add of a Quant-ized constant; float input
    rng = np.random.default_rng(13)
    net = Net((1, 8)).quant(2.0 ** -4, 8)
    net.op("MatMul", net.weight(rand_weights(rng, (8, 6)) * 0.5, 2.0 ** -3, bits=6))
    net.op("Add", net.weight(rng.normal(size=6).astype(np.float32), 2.0 ** -5, bits=6, narrow=0))
    net.op("Relu").quant(2.0 ** -4, 6, signed=0)
    net.op("MatMul", net.weight(rand_weights(rng, (6, 3)), 2.0 ** -3, bits=6))
    net.op("Add", net.weight(rng.normal(size=3).astype(np.float32), 2.0 ** -5, bits=6, narrow=0))
    graph, _ = check_model(net.save(tmp_path / "qk.onnx"), frames(net.in_shape))
    assert graph.nodes[0].thresholds is not None


@pytest.mark.parametrize("dtype", ["BIPOLAR", "UINT8", "INT4"])
def test_finn_datatype_annotation(tmp_path, dtype):
    rng = np.random.default_rng(14)
    net = Net((1, 10))
    net.op("MatMul", rng.integers(-2, 3, size=(10, 4)).astype(np.float32))
    net.op("MultiThreshold", np.sort(rng.normal(size=(4, 3)) * 6, axis=1).astype(np.float32),
           domain="qonnx.custom_op.general", out_scale=1.0, out_bias=0.0, out_dtype="UINT2")
    path = net.save(tmp_path / "ann.onnx")
    model = onnx.load(path)
    ann = onnx.TensorAnnotation(tensor_name="x")
    ann.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key="finn_datatype", value=dtype))
    model.graph.quantization_annotation.append(ann)
    onnx.save(model, path)
    dt = DataType[dtype]
    x = rng.integers(int(dt.min()), int(dt.max()) + 1, size=(100, 10))
    if dtype == "BIPOLAR":
        x = np.where(x > 0, 1, -1)
    graph, _ = check_model(path, x.astype(np.float32))
    assert graph.in_dtype.name == dtype and not isinstance(graph.nodes[0], MultiThreshold)


@pytest.mark.parametrize("how", ["scales_asymmetric", "sizes_half_pixel", "scales_3x2_pytorch", "upsample9"])
def test_resize_nearest(tmp_path, how):
    rng = np.random.default_rng(15)
    net = Net((1, 3, 4, 5)).quant(0.25, 4)
    conv(net, 3, 4, 3, rng, pad=1)
    bn(net, 4, rng).quant(0.5, 3, signed=0)
    opset = 13
    if how == "scales_asymmetric":
        net.op("Resize", "", np.float32([1, 1, 2, 2]), mode="nearest", coordinate_transformation_mode="asymmetric",
               nearest_mode="floor")
    elif how == "sizes_half_pixel":
        net.op("Resize", "", "", np.array([1, 4, 8, 10], np.int64), mode="nearest")
    elif how == "scales_3x2_pytorch":
        net.op("Resize", "", np.float32([1, 1, 3, 2]), mode="nearest",
               coordinate_transformation_mode="pytorch_half_pixel", nearest_mode="round_prefer_ceil")
    else:
        net.op("Upsample", np.float32([1, 1, 2, 2]), mode="nearest")
        opset = 9
    conv(net, 4, 2, 3, rng, pad=1).quant(0.5, 3)
    graph, _ = check_model(net.save(tmp_path / "up.onnx", opset=opset), frames(net.in_shape))
    assert any(type(n).__name__ == "Upsample" for n in graph.nodes)


def test_resize_linear_refused(tmp_path):
    net = Net((1, 3, 4, 4)).quant(0.25, 4).op("Resize", "", np.float32([1, 1, 2, 2]), mode="linear")
    expect_error(net.save(tmp_path / "bad.onnx"),
                 r"^node 'Resize_\d+' \(Resize\): only nearest-neighbour upsampling by integer factors is supported "
                 r"\(mode 'nearest' with asymmetric/floor or half_pixel coordinates\), not mode 'linear' with "
                 r"'half_pixel'/'round_prefer_floor'$")


@pytest.mark.parametrize("side, ok", [(8, True), (32, False)])
def test_wide_pool_sum_into_matrix_layer(tmp_path, side, ok):
    # a global pool's sum feeds the matrix layer directly: up to 16 bits it multiplies there
    # (UINT14 for 8x8 of UINT8), wider is refused with the remedy
    rng = np.random.default_rng(16)
    net = Net((1, 3, side, side)).quant(0.25, 8, signed=0)
    net.op("GlobalAveragePool").op("Flatten", axis=1)
    net.op("MatMul", net.weight(rand_weights(rng, (3, 4)), 0.5, bits=4))
    path = net.save(tmp_path / "wide.onnx")
    if ok:
        graph, _ = check_model(path, frames(net.in_shape) + 2)
        assert graph.nodes[1].in_dtype.name == "UINT14"
    else:
        expect_error(path, r"^layer 'MVAU0' \(MatrixVector, from ONNX node 'MatMul_\d+'\): input datatype UINT18 is "
                           r"wider than the 16 bits a matrix layer multiplies; requantize it first \(a threshold "
                           r"layer\)$")
