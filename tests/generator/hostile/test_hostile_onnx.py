"""Hostile ONNX models: damaged protobufs, opsets, wiring, initializers, absurd shapes, names.

Every case writes ``x.onnx`` (or another file) into the sandbox and expects the clean
refusal of ``conftest.Sandbox.rejects`` from ``bitsmith build`` or ``golden``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from qonnx.util.basic import qonnx_make_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "frontend"))
from test_qonnx_models import QONNX, Net, rand_weights  # noqa: E402  (the front end's model builder)

BUILD = ("build", "x.onnx", "-o", "out")
RNG = np.random.default_rng(0)


def mlp(in_shape=(1, 8)) -> Net:
    net = Net(in_shape).quant(0.5, 3)
    return net.op("MatMul", net.weight(rand_weights(RNG, (in_shape[-1], 4)), 1.0, bits=3))


def raw_model(nodes, inputs, outputs, inits=(), opset=13) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), initializer=list(inits))
    return qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(QONNX, 1)])


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def save(sandbox, model: onnx.ModelProto, name="x.onnx") -> Path:
    path = sandbox.path(name)
    path.write_bytes(model.SerializeToString())
    return path


def relu_model(**kw) -> onnx.ModelProto:
    return raw_model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 8])], [vi("y", [1, 8])], **kw)


# ----------------------------------------------------------------------------- files
def _truncated(sandbox):
    data = mlp().save(sandbox.path("full.onnx")).read_bytes()
    sandbox.path("full.onnx").unlink()
    sandbox.path("x.onnx").write_bytes(data[: len(data) // 2])


FILE_CASES = {
    "garbage bytes": (lambda sb: sb.path("x.onnx").write_bytes(b"\xff\x00garbage" * 50),
                      r".*x\.onnx: not a readable ONNX model \(.*\)"),
    "text file": (lambda sb: sb.path("x.onnx").write_text("ir_version: 8\n"), r".*x\.onnx: not a readable ONNX model \(.*\)"),
    "empty file": (lambda sb: sb.path("x.onnx").write_bytes(b""), r".*x\.onnx: the ONNX model has no graph nodes"),
    "truncated": (_truncated, r".*x\.onnx: not a readable ONNX model \(.*\)"),
    "a folder": (lambda sb: sb.path("x.onnx").mkdir(), r".*x\.onnx: is a folder, not a file"),
    "a named pipe": (lambda sb: sb.fifo("x.onnx"), r".*x\.onnx: is not a regular file \(a pipe, device or socket\); give a file"),
    "dangling link": (lambda sb: sb.path("x.onnx").symlink_to("nowhere.onnx"), r".*x\.onnx: no such file"),
    "missing external data": (lambda sb: _external(sb), r".*x\.onnx: not a readable ONNX model \(.*\)"),
}


def _external(sandbox) -> None:
    model = mlp().save(sandbox.path("tmp.onnx"))
    proto = onnx.load(str(model))
    model.unlink()
    onnx.save(proto, str(sandbox.path("x.onnx")), save_as_external_data=True, all_tensors_to_one_file=True,
              location="x.onnx.data", size_threshold=0)
    sandbox.path("x.onnx.data").unlink()


@pytest.mark.parametrize("make, pattern", FILE_CASES.values(), ids=list(FILE_CASES))
def test_files(sandbox, make, pattern):
    make(sandbox)
    sandbox.rejects(BUILD, rf"^bitsmith: error: {pattern}$")


# ----------------------------------------------------------------------------- the graph
def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _tensor(name, dims, raw: bytes) -> TensorProto:
    """A float initializer whose data need not match its dims (helper.make_tensor checks)."""
    t = TensorProto()
    t.name, t.data_type, t.raw_data = name, TensorProto.FLOAT, raw
    t.dims.extend(dims)
    return t


def _huge_init():
    t = _tensor("w", [10 ** 6, 10 ** 6], b"")
    return raw_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [vi("x", [1, 10 ** 6])],
                     [vi("y", [1, 10 ** 6])], inits=[t])


def _short_init():
    t = _tensor("w", [8, 4], np.zeros(3, np.float32).tobytes())
    return raw_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [vi("x", [1, 8])], [vi("y", [1, 4])],
                     inits=[t])


GRAPH_CASES = {
    "opset 8": (lambda: relu_model(opset=8), r".*x\.onnx: ONNX opset 8 is not supported \(opsets 9\.\.20 are\)"),
    "opset 21": (lambda: relu_model(opset=21), r".*x\.onnx: ONNX opset 21 is not supported \(opsets 9\.\.20 are\)"),
    "no nodes": (lambda: raw_model([], [vi("x", [1, 8])], [vi("x", [1, 8])]), r".*x\.onnx: the ONNX model has no graph nodes"),
    "unsupported op": (lambda: raw_model([helper.make_node("LSTM", ["x", "w", "r"], ["y"], name="lstm")],
                                         [vi("x", [1, 1, 8]), vi("w", [1, 4, 8]), vi("r", [1, 4, 1])], [vi("y", None)]),
                       r".*x\.onnx: node 'lstm' \(LSTM\) is not supported; supported ops: Quant, .*"),
    "allocation bomb op": (lambda: raw_model(
        [helper.make_node("ConstantOfShape", ["s"], ["c"], name="bomb"), helper.make_node("Add", ["x", "c"], ["y"], name="a")],
        [vi("x", [1, 8])], [vi("y", None)], inits=[_init("s", np.array([10 ** 6, 10 ** 6], np.int64))]),
        r".*x\.onnx: node 'bomb' \(ConstantOfShape\) is not supported; .*"),
    "unknown domain op": (lambda: raw_model([helper.make_node("Foo", ["x"], ["y"], name="foo", domain="com.example")],
                                            [vi("x", [1, 8])], [vi("y", [1, 8])]),
                          r".*x\.onnx: node 'foo' \(Foo\) is not supported; .*"),
    "node name with newline": (lambda: raw_model([helper.make_node("Tanh", ["x"], ["y"], name="evil\nname")],
                                                 [vi("x", [1, 8])], [vi("y", [1, 8])]),
                               r".*x\.onnx: node 'evil\\nname' \(Tanh\) is not supported; .*"),
    "missing initializer": (lambda: raw_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                                              [vi("x", [1, 8])], [vi("y", [1, 4])]),
                            r".*x\.onnx: node 'mm' \(MatMul\) reads 'w', which is no graph input, initializer or node "
                            r"output \(a missing initializer\?\)"),
    "cycle": (lambda: raw_model([helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
                                 helper.make_node("Relu", ["a"], ["b"], name="n2"),
                                 helper.make_node("Relu", ["a"], ["y"], name="n3")],
                                [vi("x", [1, 8])], [vi("y", [1, 8])]),
              r".*x\.onnx: the graph has a cycle through node 'n\d' \((Add|Relu)\)"),
    "tensor produced twice": (lambda: raw_model([helper.make_node("Relu", ["x"], ["y"], name="n1"),
                                                 helper.make_node("Relu", ["x"], ["y"], name="n2")],
                                                [vi("x", [1, 8])], [vi("y", [1, 8])]),
                              r".*x\.onnx: tensor 'y' is produced twice \(by node 'n2'\)"),
    "output not produced": (lambda: raw_model([helper.make_node("Relu", ["x"], ["a"], name="n1")],
                                              [vi("x", [1, 8])], [vi("y", [1, 8])]),
                            r".*x\.onnx: the graph output 'y' is produced by no node"),
    "symbolic feature axis": (lambda: raw_model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                                [vi("x", [1, "features"])], [vi("y", None)]),
                              r".*x\.onnx: model input 'x': axis 1 has no fixed positive size \(features\); only the "
                              r"batch axis may be symbolic"),
    "zero-size axis": (lambda: raw_model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 0])],
                                         [vi("y", None)]),
                       r".*x\.onnx: model input 'x': axis 1 has no fixed positive size \(0\); .*"),
    "huge input": (lambda: raw_model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                     [vi("x", [1, 3, 100000, 100000])], [vi("y", None)]),
                   r".*x\.onnx: model input 'x' has shape \(1, 3, 100000, 100000\), 30,000,000,000 elements a frame; "
                   r"bitsmith's budget is 16,777,216"),
    "initializer claims 10**12": (_huge_init, r".*x\.onnx: initializer 'w' has shape \(1000000, 1000000\); bitsmith's "
                                              r"budget is 67,108,864 elements per array"),
    "initializer too short": (_short_init, r".*x\.onnx: initializer 'w' is corrupt \(.*\)"),
    "two inputs": (lambda: raw_model([helper.make_node("Add", ["x", "z"], ["y"], name="a")],
                                     [vi("x", [1, 8]), vi("z", [1, 8])], [vi("y", [1, 8])]),
                   r".*x\.onnx: the model must have exactly one input, not 2"),
    "two outputs": (lambda: raw_model([helper.make_node("Relu", ["x"], ["y"], name="a"),
                                       helper.make_node("Relu", ["x"], ["z"], name="b")],
                                      [vi("x", [1, 8])], [vi("y", [1, 8]), vi("z", [1, 8])]),
                    r".*x\.onnx: the model must have one input and one output"),
    "matmul shapes disagree": (lambda: _mismatched(), r"node 'MatMul_0' \(MatMul\): weights of shape \(5, 4\) for an "
                                                      r"input of 8 features"),
    "pad to a huge map": (lambda: raw_model([helper.make_node("Pad", ["x", "p"], ["y"], name="pad", mode="constant")],
                                            [vi("x", [1, 1, 8, 8])], [vi("y", None)],
                                            inits=[_init("p", np.array([0, 0, 0, 0, 0, 0, 100000, 100000], np.int64))]),
                          r".*x\.onnx: tensor '(y|.*)' would have shape \(1, 1, 100008, 100008\); bitsmith's budget is "
                          r"67,108,864 elements per tensor"),
    "only float ops": (lambda: relu_model(), r".*the model has no layer that runs in integer hardware .*"),
}


@pytest.mark.parametrize("make, pattern", GRAPH_CASES.values(), ids=list(GRAPH_CASES))
def test_graphs(sandbox, make, pattern):
    save(sandbox, make())
    sandbox.rejects(BUILD, rf"^bitsmith: error: {pattern}$")


# ----------------------------------------------------------------------------- quantizers and layers
def _mismatched() -> onnx.ModelProto:
    net = Net((1, 8)).quant(0.5, 3)
    net.op("MatMul", net.weight(rand_weights(RNG, (5, 4)), 1.0, bits=3))
    net.nodes[-1].output[0] = "y"
    graph = helper.make_graph(net.nodes, "g", [vi("x", [1, 8])], [vi("y", None)], initializer=net.inits)
    return qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)])


def _weights_with(bits=3.0, scale=1.0, zero=0.0, magnitude=1.0) -> Net:
    net = Net((1, 8)).quant(0.5, 3)
    w = net.const(rand_weights(RNG, (8, 4)) * np.float32(magnitude))
    name = "Wq"
    net.nodes.append(helper.make_node("Quant", [w, net.const(np.float32(scale)), net.const(np.float32(zero)),
                                                net.const(np.float32(bits))], [name], name="wquant", domain=QONNX,
                                      signed=1, narrow=1, rounding_mode="ROUND"))
    return net.op("MatMul", name)


def _float_weights(value: float) -> Net:
    net = Net((1, 8)).quant(0.5, 3)
    return net.op("MatMul", np.full((8, 4), value, np.float32))


def _global_pool_uint20() -> Net:
    """UINT8 pixels summed over 64x64: UINT20, wider than a matrix layer's 16-bit inputs."""
    net = Net((1, 3, 64, 64)).quant(1.0, 8, signed=0)
    net.op("GlobalAveragePool").op("Mul", np.float32(4096.0)).op("Flatten", axis=1)
    return net.op("MatMul", net.weight(rand_weights(RNG, (3, 4)), 1.0, bits=3))


def _conv(**attrs) -> Net:
    net = Net((1, 2, 6, 6)).quant(0.5, 3)
    return net.op("Conv", net.weight(rand_weights(RNG, (4, 2, 3, 3)), 0.5, bits=3), **attrs)


def _flatten(axis: int) -> Net:
    net = Net((1, 2, 4, 4)).quant(0.5, 3).op("Flatten", axis=axis)
    return net.op("MatMul", net.weight(rand_weights(RNG, (32, 4)), 1.0, bits=3))


LAYER_CASES = {
    "attribute of the wrong type": (lambda: _conv(kernel_shape="3x3"),
                                    r".*x\.onnx: node 'Conv_\d+' \(Conv\) is malformed: Mismatched attribute type .*"),
    "conv group zero": (lambda: _conv(kernel_shape=[3, 3], group=0),
                        r"node 'Conv_0' \(Conv\): grouped convolutions are supported only as depthwise .*, not group=0 .*"),
    "flatten axis out of range": (lambda: _flatten(7), r"node 'Flatten_0' \(Flatten\): the result \(32, 1\) moves the "
                                                       r"batch axis; the batch axis must stay first with size 1"),
    "maxpool kernel larger than the map": (lambda: Net((1, 2, 4, 4)).quant(0.5, 3).op("MaxPool", kernel_shape=[9, 9]),
                                           r".*x\.onnx: qonnx could not clean up the graph \(negative dimensions are not "
                                           r"allowed\)"),
    "weights of 41 bits": (lambda: _weights_with(bits=48.0, magnitude=1e12),
                           r"layer 'MVAU0' \(MatrixVector, from ONNX node 'MatMul_0'\): weight datatype INT4\d is "
                           r"wider than 8 bits"),
    "weight quantizer of 0 bits": (lambda: _weights_with(bits=0.0),
                                   r"node 'MatMul_\d+' \(MatMul\): weight quantizer 'Quant_\d+' has bit width 0\.0, not a positive integer"),
    "weight quantizer of 2.5 bits": (lambda: _weights_with(bits=2.5),
                                     r"node 'MatMul_\d+' \(MatMul\): weight quantizer 'Quant_\d+' has bit width 2\.5, not a positive integer"),
    "weight scale nan": (lambda: _weights_with(scale=np.nan),
                         r"node 'MatMul_\d+' \(MatMul\): weight quantizer 'Quant_\d+' has a scale that is not finite"),
    "weight zero point inf": (lambda: _weights_with(zero=np.inf),
                              r"node 'MatMul_\d+' \(MatMul\): weight quantizer 'Quant_\d+' has a non-integer zero point"),
    "float weights of 1e30": (lambda: _float_weights(1e30),
                              r"node 'MatMul_\d+' \(MatMul\): weights\[0, 0\] is 1\.0\d*e\+30, which does not fit a 64-bit "
                              r"signed integer"),
    "weight scale zero": (lambda: _weights_with(scale=0.0), r"node 'MatMul_\d+' \(MatMul\): weight quantizer 'Quant_\d+' has a zero scale"),
    "global pool sum of 20 bits reaching a matrix layer": (
        _global_pool_uint20,
        r"layer 'MVAU0' \(MatrixVector, from ONNX node 'MatMul_0'\): input datatype UINT20 is wider than the 16 "
        r"bits a matrix layer multiplies; requantize it first \(a threshold layer\)"),
}


@pytest.mark.parametrize("make, pattern", LAYER_CASES.values(), ids=list(LAYER_CASES))
def test_layers(sandbox, make, pattern):
    make().save(sandbox.path("x.onnx"))
    sandbox.rejects(BUILD, rf"^bitsmith: error: {pattern}$")


# ----------------------------------------------------------------------------- options and inputs
OPTION_CASES = {
    "input dtype INT64": (("--input-dtype", "INT64"), r"--input-dtype: datatype 'INT64' is not supported \(bitsmith takes the integer "
                                                      r"types BIPOLAR, BINARY, TERNARY, INT2\.\.INT32, UINT1\.\.UINT32\)"),
    "input dtype FLOAT32": (("--input-dtype", "FLOAT32"), r"--input-dtype: datatype 'FLOAT32' is not supported .*"),
    "input dtype nonsense": (("--input-dtype", "INTX"), r"--input-dtype: unknown datatype 'INTX' \(use qonnx names: .*\)"),
    "input scale nan": (("--input-dtype", "UINT8", "--input-scale", "nan"),
                        r"--input-scale must be a positive finite number or a fraction like 1/255, not 'nan'"),
    "input scale zero": (("--input-dtype", "UINT8", "--input-scale", "0"),
                         r"--input-scale must be a positive finite number or a fraction like 1/255, not '0'"),
    "input scale negative": (("--input-dtype", "UINT8", "--input-scale=-1/255"),
                             r"--input-scale must be a positive finite number or a fraction like 1/255, not '-1/255'"),
    "input scale words": (("--input-dtype", "UINT8", "--input-scale", "1/x"),
                          r"--input-scale must be a positive finite number or a fraction like 1/255, not '1/x'"),
    "input scale alone": (("--input-scale", "0.5"), r"--input-scale needs --input-dtype"),
    "topk zero": (("--topk", "0"), r"argument --topk: must be a positive integer, not '0'"),
    "topk above the classes": (("--topk", "9"), r".*--topk must be in 1\.\.4, not 9|.*topk.*"),
}


@pytest.mark.parametrize("argv, pattern", OPTION_CASES.values(), ids=list(OPTION_CASES))
def test_options(sandbox, argv, pattern):
    mlp().save(sandbox.path("x.onnx"))
    sandbox.rejects(BUILD + argv, rf"^bitsmith: error: {pattern}$")


def _conv_model(sandbox) -> None:
    net = Net((1, 3, 6, 5)).quant(0.5, 3)
    net.op("Conv", net.weight(rand_weights(RNG, (4, 3, 3, 3)), 0.5, bits=3), kernel_shape=[3, 3])
    net.save(sandbox.path("x.onnx"))


INPUT_CASES = {
    "NHWC batch for an NCHW model": ((7, 6, 5, 3), r".*x\.npy: frames of shape \(6, 5, 3\), the model takes \(3, 6, 5\) "
                                                   r"\(NCHW as the ONNX graph's input, batch first\); it looks like channels "
                                                   r"last \(NHWC\): x\.transpose\(0, 3, 1, 2\) gives NCHW"),
    "flattened batch": ((7, 90), r".*x\.npy: frames of shape \(90,\), the model takes \(3, 6, 5\) \(NCHW .*\); "
                                 r"x\.reshape\(-1, 3, 6, 5\) gives that shape if the values are in that order"),
    "wrong size": ((7, 3, 6, 6), r".*x\.npy: frames of shape \(3, 6, 6\), the model takes \(3, 6, 5\) \(NCHW .*\)"),
}


def test_nan_input_to_a_float_model(sandbox):
    _conv_model(sandbox)
    x = RNG.normal(size=(4, 3, 6, 5)).astype(np.float32)
    x[2, 1, 0, 4] = np.nan
    np.save(sandbox.path("x.npy"), x)
    sandbox.rejects(("golden", "x.onnx", "--input", "x.npy", "--output", "y.npy"),
                    r"^bitsmith: error: x\.npy: batch\[2, 1, 0, 4\] is nan, which is not a finite number$")


@pytest.mark.parametrize("shape, pattern", INPUT_CASES.values(), ids=list(INPUT_CASES))
def test_input_layouts(sandbox, shape, pattern):
    _conv_model(sandbox)
    np.save(sandbox.path("x.npy"), RNG.normal(size=shape).astype(np.float32))
    sandbox.rejects(("golden", "x.onnx", "--input", "x.npy", "--output", "y.npy"), rf"^bitsmith: error: {pattern}$")


# ----------------------------------------------------------------------------- names made safe
@pytest.mark.parametrize("file, module", [("unsw_nb15-mlp-w2a2.onnx", "unsw_nb15_mlp_w2a2"), ("123.onnx", "m_123"),
                                          ("module.onnx", "module_net"), ("été.onnx", "_t_")])
def test_module_name_from_any_file_name(sandbox, file, module):
    mlp().save(sandbox.path(file))
    code, out, err = sandbox.run("build", file, "-o", "out")
    assert code == 0, err
    assert (sandbox.path("out") / "rtl" / f"{module}.v").is_file()
