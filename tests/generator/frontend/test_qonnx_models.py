"""QONNX front end on small models built here with the onnx helper API.

Every model is checked end to end: host-pre -> golden integer graph -> host-post against
qonnx's ``execute_onnx`` of the original model (exact on labels and integer outputs,
1e-5 relative on float tails), plus the IR it must produce.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.datatype import DataType
from qonnx.util.basic import qonnx_make_model

from bitsmith.generator.errors import ModelError, OptionError
from bitsmith.generator.frontend.qonnx import compare_with_reference, load_onnx, reference_outputs
from bitsmith.generator.ir import LabelSelect, MatrixVector, MultiThreshold
from bitsmith.generator.ir.host import run_stages
from bitsmith.sim.golden import run_graph

QONNX = "qonnx.custom_op.general"


class Net:
    """A single-path ONNX graph built op by op (constants become initializers)."""

    def __init__(self, in_shape, seed=0):
        self.in_shape = tuple(in_shape)
        self.nodes, self.inits, self.cur, self.count = [], [], "x", 0
        self.rng = np.random.default_rng(seed)

    def const(self, value) -> str:
        name = f"c{len(self.inits)}"
        value = np.asarray(value)
        value = value.astype(np.float32) if value.dtype.kind == "f" else value
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def _name(self, op):
        self.count += 1
        return f"{op}_{self.count}"

    def op(self, op_type, *inputs, domain="", first=None, outputs=1, **attrs):
        name = self._name(op_type)
        ins = [self.cur if first is None else first] + [i if isinstance(i, str) else self.const(i) for i in inputs]
        outs = [f"{name}_out{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, ins, outs, name=name, domain=domain, **attrs))
        self.cur = outs[0]
        return self

    def quant(self, scale, bits, signed=1, narrow=0, zero=0.0, rounding="ROUND"):
        return self.op("Quant", np.asarray(scale, np.float32), np.float32(zero), np.float32(bits), domain=QONNX,
                       signed=signed, narrow=narrow, rounding_mode=rounding)

    def bipolar(self, scale=1.0):
        return self.op("BipolarQuant", np.asarray(scale, np.float32), domain=QONNX)

    def weight(self, w, scale, bits=None, narrow=1) -> str:
        """A quantized weight tensor (Quant, or BipolarQuant when ``bits`` is None)."""
        name = self._name("W")
        if bits is None:
            self.nodes.append(helper.make_node("BipolarQuant", [self.const(w), self.const(np.float32(scale))], [name],
                                               name=f"{name}_q", domain=QONNX))
        else:
            self.nodes.append(helper.make_node("Quant", [self.const(w), self.const(np.float32(scale)), self.const(0.0),
                                                         self.const(np.float32(bits))], [name], name=f"{name}_q",
                                               domain=QONNX, signed=1, narrow=narrow, rounding_mode="ROUND"))
        return name

    def save(self, path, opset=13, batch=None):
        self.nodes[-1].output[0] = "y"
        in_shape = self.in_shape if batch is None else (batch,) + self.in_shape[1:]
        graph = helper.make_graph(self.nodes, "net",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=self.inits)
        model = qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(QONNX, 1)])
        onnx.save(model, str(path))
        return path


def check_model(path, x, **opts):
    """Load, run golden (host-pre -> graph -> host-post) and compare with qonnx on ``x``."""
    graph = load_onnx(path, **opts)
    golden = run_graph(graph, run_stages(graph.host_pre, x))
    problems = compare_with_reference(graph, path, x, golden)
    assert problems == [], "\n".join(problems)
    return graph, golden


def rand_weights(rng, shape):
    return rng.normal(size=shape).astype(np.float32)


def test_binary_weights_two_bit_activations(tmp_path):
    rng = np.random.default_rng(1)
    net = Net((1, 32))
    net.quant(0.25, 2, signed=1)                                   # float input -> host-pre
    net.op("MatMul", net.weight(rand_weights(rng, (32, 16)), 1.0))
    net.op("BatchNormalization", rng.uniform(0.5, 2, 16), rng.normal(size=16), rng.normal(size=16) * 3,
           rng.uniform(1, 4, 16), epsilon=1e-5)
    net.quant(0.5, 2, signed=0)
    net.op("MatMul", net.weight(rand_weights(rng, (16, 8)), 0.5))
    path = net.save(tmp_path / "bin2.onnx")
    x = rng.normal(size=(400, 1, 32)).astype(np.float32).reshape(400, 32)
    graph, _ = check_model(path, x)
    mv = [n for n in graph.nodes if isinstance(n, MatrixVector)]
    assert [n.weight_dtype.name for n in mv] == ["BIPOLAR", "BIPOLAR"]
    assert mv[0].in_dtype.name == "INT2" and mv[0].thresholds.out_dtype.name == "UINT2"
    assert mv[0].thresholds.steps == 3 and mv[1].thresholds is None
    assert mv[0].acc_dtype == MatrixVector.minimal_acc_dtype(mv[0].weights, mv[0].weight_dtype, mv[0].in_dtype)
    check_model(path, x, topk=2)


def test_gemm_bias_negative_batchnorm_flips_rows(tmp_path):
    rng = np.random.default_rng(2)
    net = Net((1, 20))
    net.quant(1 / 8, 4, signed=1)
    net.op("Gemm", net.weight(rand_weights(rng, (12, 20)), np.float32(0.1), bits=3), rng.normal(size=12),
           transB=1, alpha=1.0, beta=1.0)
    gamma = rng.uniform(0.5, 2, 12) * np.where(np.arange(12) % 3 == 0, -1, 1)   # negative scales
    net.op("BatchNormalization", gamma, rng.normal(size=12), rng.normal(size=12), rng.uniform(1, 2, 12))
    net.op("Relu").quant(0.25, 3, signed=0)
    net.op("Gemm", net.weight(rand_weights(rng, (5, 12)), np.float32(0.2), bits=4), rng.normal(size=5), transB=1)
    path = net.save(tmp_path / "gemm.onnx")
    x = rng.normal(size=(500, 20)).astype(np.float32)
    graph, _ = check_model(path, x)
    first = graph.nodes[0]
    assert isinstance(first, MatrixVector) and first.weight_dtype.name == "INT3"
    assert first.thresholds.out_dtype.name == "UINT3" and first.thresholds.steps == 7


def test_float_input_with_normalisation_host_pre_and_integer_input(tmp_path):
    rng = np.random.default_rng(3)
    net = Net((1, 1, 4, 4))
    net.op("Sub", np.float32(0.45)).op("Div", np.float32(0.226))  # (x - mean) / std
    net.quant(0.5, 3, signed=1)
    net.op("Flatten", axis=1)
    net.op("MatMul", net.weight(rand_weights(rng, (16, 10)), 1.0))
    path = net.save(tmp_path / "norm.onnx")
    pixels = rng.integers(0, 256, size=(300, 1, 4, 4))
    # float input: normalisation + quantizer on the host, exactly as qonnx
    graph, _ = check_model(path, (pixels / 255).astype(np.float32))
    assert [type(s).__name__ for s in graph.host_pre] == ["InputFrame", "Elementwise", "Elementwise", "Quantize",
                                                          "ToNHWC"]
    # integer input: normalisation + quantizer become one multi-threshold on the pixel
    graph, _ = check_model(path, pixels.astype(np.float32), input_dtype=DataType["UINT8"], input_scale=1 / 255)
    assert isinstance(graph.nodes[0], MultiThreshold) and graph.nodes[0].in_dtype.name == "UINT8"
    assert graph.nodes[0].thresholds.values.shape == (1, 7)


def test_bipolar_quant_output_exact(tmp_path):
    rng = np.random.default_rng(4)
    net = Net((1, 24))
    net.bipolar()
    net.op("MatMul", net.weight(rand_weights(rng, (24, 16)), 1.0))
    net.op("Mul", rng.uniform(0.5, 2, 16).astype(np.float32) * np.where(np.arange(16) % 3, 1, -1))  # flips
    net.op("Add", rng.normal(size=16).astype(np.float32) * 2).bipolar(0.5)
    path = net.save(tmp_path / "bip.onnx")
    x = rng.normal(size=(300, 24)).astype(np.float32)
    graph, golden = check_model(path, x)
    mv = graph.nodes[0]
    assert mv.xnor and mv.thresholds.out_dtype.name == "BIPOLAR" and mv.thresholds.out_scale == 2
    ref = reference_outputs(path, x)
    assert np.array_equal(run_stages(graph.host_post, golden), ref)      # exact, not approximate


def test_softmax_tail_and_topk(tmp_path):
    rng = np.random.default_rng(5)
    net = Net((1, 16))
    net.quant(0.25, 4, signed=1)
    net.op("MatMul", net.weight(rand_weights(rng, (16, 6)), 0.3, bits=4))
    net.op("Mul", np.float32(0.7)).op("Add", np.float32(-0.2)).op("Softmax", axis=1)
    path = net.save(tmp_path / "soft.onnx", opset=11)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    graph, _ = check_model(path, x)
    assert type(graph.host_post[-2]).__name__ == "Softmax"
    graph, _ = check_model(path, x, topk=3)
    assert isinstance(graph.nodes[-1], LabelSelect) and graph.nodes[-1].k == 3


def test_qkeras_matmul_add_relu_quant(tmp_path):
    rng = np.random.default_rng(6)
    net = Net((1, 10))
    net.quant(2.0 ** -3, 6, signed=1)
    for fan_in, fan_out in ((10, 8), (8, 8)):
        net.op("MatMul", net.weight(rand_weights(rng, (fan_in, fan_out)) * 0.5, 2.0 ** -2, bits=4))
        net.op("Add", rng.normal(size=fan_out).astype(np.float32) * 0.5)
        net.op("Relu").quant(2.0 ** -2, 4, signed=0)
    net.op("MatMul", net.weight(rand_weights(rng, (8, 3)), 2.0 ** -2, bits=4)).op("Add", np.float32([0.1, -0.2, 0.3]))
    path = net.save(tmp_path / "qkeras.onnx")
    x = (rng.normal(size=(500, 10)) * 2).astype(np.float32)
    graph, _ = check_model(path, x)
    assert [n.thresholds.out_dtype.name for n in graph.nodes[:2]] == ["UINT4", "UINT4"]
    assert [n.thresholds.steps for n in graph.nodes[:2]] == [15, 15]


def test_symbolic_batch_axis(tmp_path):
    rng = np.random.default_rng(14)
    net = Net((1, 6)).quant(0.5, 3, signed=1)
    net.op("MatMul", net.weight(rand_weights(rng, (6, 4)), 1.0, bits=3)).op("Reshape", np.array([-1, 2, 2]))
    path = net.save(tmp_path / "dyn.onnx", batch="batch")
    graph, _ = check_model(path, rng.normal(size=(64, 6)).astype(np.float32))
    assert graph.in_shape == (1, 1, 6)


def test_model_argmax_tail(tmp_path):
    rng = np.random.default_rng(7)
    net = Net((1, 12))
    net.quant(0.5, 3, signed=1)
    net.op("MatMul", net.weight(rand_weights(rng, (12, 5)), 1.0, bits=3))
    net.op("ArgMax", axis=1, keepdims=1)
    net.save(tmp_path / "argmax.onnx")
    path = tmp_path / "argmax.onnx"
    m = onnx.load(path)
    m.graph.output[0].type.tensor_type.elem_type = TensorProto.INT64
    onnx.save(m, path)
    x = rng.normal(size=(200, 12)).astype(np.float32)
    graph, golden = check_model(path, x)
    assert isinstance(graph.nodes[-1], LabelSelect)
    assert run_stages(graph.host_post, golden).shape == (200, 1)


def test_finn_onnx_multithreshold_and_integer_weights(tmp_path):
    # FINN-ONNX: integer-valued weight initializers, MultiThreshold activations with scale/bias
    rng = np.random.default_rng(8)
    net = Net((1, 16))
    net.op("MultiThreshold", np.float32([[-1.0, 0.0, 1.0]]), domain=QONNX, out_scale=1.0, out_bias=-1.0,
           out_dtype="INT2")
    net.op("MatMul", rng.integers(-3, 4, size=(16, 8)).astype(np.float32))
    net.op("MultiThreshold", np.sort(rng.normal(size=(8, 3)) * 3, axis=1).astype(np.float32), domain=QONNX,
           out_scale=0.5, out_bias=0.0, out_dtype="UINT2")
    net.op("MatMul", rng.integers(-1, 2, size=(8, 4)).astype(np.float32)).op("Mul", np.float32(0.25))
    path = net.save(tmp_path / "finn.onnx")
    x = rng.normal(size=(300, 16)).astype(np.float32)
    graph, _ = check_model(path, x)
    assert type(graph.host_pre[1]).__name__ == "ThresholdCount" and graph.in_dtype.name == "UINT2"
    assert [n.weight_dtype.name for n in graph.nodes] == ["INT3", "INT2"]
    assert graph.nodes[0].thresholds.values.shape == (8, 3)


# ----------------------------------------------------------------------------- errors

def expect_error(path, pattern, exc=ModelError, **opts):
    with pytest.raises(exc, match=pattern):
        load_onnx(path, **opts)


def test_unsupported_op_names_node_and_lists_ops(tmp_path):
    net = Net((1, 8)).quant(0.5, 3).op("Tanh")
    path = net.save(tmp_path / "tanh.onnx")
    expect_error(path, r"^.*tanh\.onnx: node 'Tanh_\d+' \(Tanh\) is not supported; supported ops: Quant, "
                       r"BipolarQuant, .*TopK$")


def test_dilated_conv_and_unpadded_count_rejected(tmp_path):
    rng = np.random.default_rng(0)
    net = Net((1, 2, 6, 6)).quant(0.5, 3)
    net.op("Conv", net.weight(rand_weights(rng, (4, 2, 3, 3)), 1.0, bits=3), kernel_shape=[3, 3], dilations=[2, 2])
    expect_error(net.save(tmp_path / "dil.onnx"), r"^node 'Conv_\d+' \(Conv\): dilated windows are not "
                                                  r"supported$")
    net = Net((1, 2, 6, 6)).quant(0.5, 3, signed=0).op("AveragePool", kernel_shape=[3, 3], strides=[2, 2],
                                                      pads=[1, 1, 1, 1], count_include_pad=0)
    expect_error(net.save(tmp_path / "avg.onnx"), r"^node 'AveragePool_\d+' \(AveragePool\): count_include_pad=0 "
                                                  r"with padding divides border windows by how many input pixels "
                                                  r"they cover, which no per-channel scale can apply; use "
                                                  r"count_include_pad=1 \(PyTorch's default\) or no padding$")


def test_residual_add_of_rescaled_input(tmp_path):
    # the input quantizer's tensor feeds two nodes: the hardware starts at the fork, and the
    # add of 2*q and q joins integers in the ratio 2:1
    net = Net((1, 8)).quant(0.5, 3)
    q = net.cur
    net.op("Mul", np.float32(2.0)).op("Add", q)
    graph, _ = check_model(net.save(tmp_path / "res.onnx"),
                           np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32) * 2)
    (add,) = graph.nodes
    assert (add.scale_a, add.scale_b, add.inputs) == (2, 1, ("input", "input"))


@pytest.mark.parametrize("opset", [8, 21])
def test_opset_out_of_range(tmp_path, opset):
    net = Net((1, 8)).quant(0.5, 3).op("Relu")
    expect_error(net.save(tmp_path / "op.onnx", opset=opset),
                 rf"^.*op\.onnx: ONNX opset {opset} is not supported \(opsets 9\.\.20 are\)$")


def test_float_weights_without_quantizer(tmp_path):
    net = Net((1, 4)).quant(0.5, 3)
    net.op("MatMul", np.full((4, 2), 0.3, np.float32))
    expect_error(net.save(tmp_path / "fw.onnx"), r"^node 'MatMul_\d+' \(MatMul\): the weights '.*' are float "
                                                 r"values without a quantizer .*$")


def test_float_input_reaching_matmul(tmp_path):
    rng = np.random.default_rng(0)
    net = Net((1, 4))
    net.op("MatMul", net.weight(rand_weights(rng, (4, 2)), 1.0, bits=3))
    expect_error(net.save(tmp_path / "fi.onnx"), r"^node 'MatMul_\d+' \(MatMul\): the model's float input "
                                                 r"reaches it without a quantizer; give --input-dtype/--input-scale "
                                                 r"if the input is integer$")


@pytest.mark.parametrize("mul, add", [
    ([1, 2, 3], 0.0), ([0.5, 0.25, 0.75], [0.3, -0.1, 0.05]), ([1, 1, 1], [0.25, 0.5, -0.75]),
    ([0.1, 0.1, 0.1], [0.31, 0.02, -0.13]),
], ids=["scale", "scale_bias", "bias", "float_bias"])
def test_topk_with_per_class_tail_uses_keys(tmp_path, mul, add):
    rng = np.random.default_rng(0)
    net = Net((1, 4)).quant(0.5, 3)
    net.op("MatMul", net.weight(rand_weights(rng, (4, 3)), 1.0, bits=3)).op("Mul", np.float32(mul))
    net.op("Add", np.float32(add))
    x = rng.normal(size=(400, 4)).astype(np.float32) * 3
    graph, _ = check_model(net.save(tmp_path / "tk.onnx"), x, topk=1)
    assert graph.output_node.keyed
    check_model(tmp_path / "tk.onnx", x, topk=2)


@pytest.mark.parametrize("mul, message", [
    ([1, -2, 3], r"the scale before the top-K is negative or zero for some classes, so larger integer outputs "
                 r"are not larger scores; make the last layer's scales positive"),
    ([1, 0.3, 3], r"the per-class scales before the top-K are not in ratios of integers up to 4096, so no exact "
                  r"integer key exists; use a per-tensor weight scale \(or power-of-two per-channel scales\) on "
                  r"the last layer"),
])
def test_topk_with_per_class_tail_rejected(tmp_path, mul, message):
    rng = np.random.default_rng(0)
    net = Net((1, 4)).quant(0.5, 3)
    net.op("MatMul", net.weight(rand_weights(rng, (4, 3)), 1.0, bits=3)).op("Mul", np.float32(mul))
    expect_error(net.save(tmp_path / "tk.onnx"), rf"^--topk: {message}$", topk=1)


def test_unreadable_file(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"not a model")
    expect_error(path, r"^.*junk\.onnx: not a readable ONNX model \(.*\)$")


@pytest.mark.parametrize("opts, pattern", [
    (dict(sparse="on"), r"^sparse must be one of off, auto, not 'on'$"),
    (dict(input_scale=0.5), r"^input_scale needs input_dtype \(the input is then integer times the scale\)$"),
    (dict(input_dtype=DataType["UINT8"], input_scale=-1.0), r"^input_scale must be a positive number, not -1\.0$"),
    (dict(topk=0), r"^topk must be a positive integer, not 0$"),
])
def test_option_errors(tmp_path, opts, pattern):
    net = Net((1, 4)).quant(0.5, 3)
    expect_error(net.save(tmp_path / "o.onnx"), pattern, exc=OptionError, **opts)


# ----------------------------------------------------------------------------- convolutions

def conv_net(rng, *, pad_node=False, depthwise=False, flatten_map=False):
    net = Net((1, 3, 10, 10))
    net.quant(0.25, 4, signed=1)
    if pad_node:
        net.op("Pad", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), mode="constant")
        net.op("Conv", net.weight(rand_weights(rng, (8, 3, 3, 3)), 0.5, bits=3), kernel_shape=[3, 3])
    else:
        net.op("Conv", net.weight(rand_weights(rng, (8, 3, 3, 3)), 0.5, bits=3), rng.normal(size=8),
               kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    gamma = rng.uniform(0.5, 2, 8) * np.where(np.arange(8) % 4 == 1, -1, 1)
    net.op("BatchNormalization", gamma, rng.normal(size=8), rng.normal(size=8), rng.uniform(1, 2, 8))
    net.op("Relu").quant(0.5, 2, signed=0)
    net.op("MaxPool", kernel_shape=[2, 2], strides=[2, 2])
    if depthwise:
        net.op("Conv", net.weight(rand_weights(rng, (8, 1, 3, 3)), 0.5, bits=3), kernel_shape=[3, 3], group=8)
    else:
        net.op("Conv", net.weight(rand_weights(rng, (8, 8, 3, 3)), 0.5, bits=3), kernel_shape=[3, 3])
    net.bipolar()
    if flatten_map:
        net.op("Flatten", axis=1)
        net.op("MatMul", net.weight(rand_weights(rng, (8 * 3 * 3, 4)), 1.0))
    else:
        net.op("GlobalAveragePool").op("Flatten", axis=1)
        net.op("MatMul", net.weight(rand_weights(rng, (8, 4)), 1.0, bits=3))
    return net.op("Softmax", axis=-1)


@pytest.mark.parametrize("variant", ["pads", "pad_node", "depthwise", "flatten_map"])
def test_small_cnn(tmp_path, variant):
    rng = np.random.default_rng(11)
    net = conv_net(rng, pad_node=variant == "pad_node", depthwise=variant == "depthwise",
                   flatten_map=variant == "flatten_map")
    path = net.save(tmp_path / "cnn.onnx")
    x = rng.normal(size=(120, 3, 10, 10)).astype(np.float32)
    graph, _ = check_model(path, x)
    kinds = [type(n).__name__ for n in graph.nodes]
    tail = ["Reshape", "MatrixVector"] if variant == "flatten_map" else ["GlobalAccPool", "MatrixVector"]
    assert kinds == ["Conv", "MaxPool", "Conv"] + tail
    assert graph.nodes[0].pad == (1, 1, 1, 1) and graph.nodes[0].thresholds.out_dtype.name == "UINT2"
    assert graph.nodes[2].depthwise == (variant == "depthwise")
    assert graph.in_shape == (10, 10, 3) and type(graph.host_pre[-1]).__name__ == "ToNHWC"
    check_model(path, x, topk=1)


def test_maxpool_before_quantizer_with_negative_scales(tmp_path):
    # Conv -> BN with negative gammas -> MaxPool -> Quant: max commutes only with increasing
    # maps, so the conv rows of the negative channels are flipped before the pool
    rng = np.random.default_rng(12)
    net = Net((1, 2, 6, 6)).quant(0.5, 3, signed=1)
    net.op("Conv", net.weight(rand_weights(rng, (4, 2, 3, 3)), 0.5, bits=2), kernel_shape=[3, 3])
    net.op("BatchNormalization", np.float32([1.5, -0.7, 0.9, -2.0]), rng.normal(size=4), rng.normal(size=4),
           rng.uniform(1, 2, 4))
    net.op("MaxPool", kernel_shape=[2, 2], strides=[2, 2]).quant(0.25, 3, signed=1)
    path = net.save(tmp_path / "mp.onnx")
    x = rng.normal(size=(300, 2, 6, 6)).astype(np.float32)
    graph, _ = check_model(path, x)
    assert [type(n).__name__ for n in graph.nodes] == ["Conv", "MaxPool", "MultiThreshold"]
    w0 = graph.nodes[0].weights
    assert graph.nodes[0].thresholds is None and graph.nodes[0].acc_dtype == \
        type(graph.nodes[0]).minimal_acc_dtype(w0, graph.nodes[0].weight_dtype, graph.nodes[0].in_dtype)


def test_trunc_after_average_pool(tmp_path):
    # Brevitas' TruncAvgPool export: AveragePool -> Mul(k*k) -> Trunc drops the low bits
    rng = np.random.default_rng(13)
    net = Net((1, 3, 4, 4)).quant(1.0, 6, signed=1)
    net.op("GlobalAveragePool").op("Mul", np.float32(16.0))
    net.op("Trunc", np.float32(1.0), np.float32(0.0), np.float32(10.0), np.float32(6.0), domain=QONNX,
           rounding_mode="FLOOR")
    net.op("Flatten", axis=1).op("MatMul", net.weight(rand_weights(rng, (3, 2)), 1.0, bits=3))
    path = net.save(tmp_path / "trunc.onnx")
    x = (rng.normal(size=(300, 3, 4, 4)) * 20).astype(np.float32)
    graph, _ = check_model(path, x)
    assert [type(n).__name__ for n in graph.nodes] == ["GlobalAccPool", "MultiThreshold", "MatrixVector"]


def test_graph_survives_design_json(tmp_path):
    from bitsmith.generator.ir.serialize import dump_graph, dumps, load_graph
    import json
    rng = np.random.default_rng(9)
    net = Net((1, 1, 4, 4)).op("Sub", np.float32(0.5)).quant(0.25, 3, signed=1).op("Flatten", axis=1)
    net.op("MatMul", net.weight(rand_weights(rng, (16, 4)), 0.5, bits=3)).op("Softmax", axis=-1)
    path = net.save(tmp_path / "ser.onnx")
    graph = load_onnx(path)
    again = load_graph(json.loads(dumps(dump_graph(graph))))
    x = rng.normal(size=(50, 1, 4, 4)).astype(np.float32)
    for g in (graph, again):
        golden = run_graph(g, run_stages(g.host_pre, x))
        assert compare_with_reference(g, path, x, golden) == []
    assert [type(s).__name__ for s in again.host_post] == [type(s).__name__ for s in graph.host_post]


def test_integer_input_straight_into_matmul_and_sparse_auto(tmp_path):
    rng = np.random.default_rng(10)
    w = rand_weights(rng, (32, 8))
    w[rng.random(w.shape) < 0.7] = 0.0                           # 70 % zeros -> sparse engine
    net = Net((1, 32)).op("Mul", np.float32(1 / 16))
    net.op("MatMul", net.weight(w, 0.25, bits=4)).quant(0.5, 3, signed=1)
    net.op("MatMul", net.weight(rand_weights(rng, (8, 3)), 0.5, bits=3))
    path = net.save(tmp_path / "int.onnx")
    x = rng.integers(0, 16, size=(300, 32)).astype(np.float32)
    graph, _ = check_model(path, x, input_dtype=DataType["UINT4"], input_scale=1 / 16)
    assert isinstance(graph.nodes[0], MatrixVector) and graph.nodes[0].in_dtype.name == "UINT4"
    graph, _ = check_model(path, x, input_dtype=DataType["UINT4"], input_scale=1 / 16, sparse="auto")
    assert type(graph.nodes[0]).__name__ == "SparseMatrixVector" and isinstance(graph.nodes[1], MatrixVector)
