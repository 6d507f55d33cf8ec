"""The acceptance networks of bitsmith's front end: small real-world CNN/MLP shapes, as
people export them.

Each Brevitas network here is built the way its architecture is usually quantized for
FINN-style dataflow (weights and activations quantized, batch norm in float between a
convolution and its activation quantizer, a shared quantizer on both operands of a residual
add or a concat so they meet on one scale), briefly trained on random targets so the
quantizer scales and batch-norm statistics are not at their initial values, and exported
with either of Brevitas' exporters (TorchScript: ``dynamo=False``; torch's default dynamo
exporter: ``dynamo=True``, which writes its weights to a side ``.onnx.data`` file).

========================  ==========  ===============================================
name                      input       what it exercises
========================  ==========  ===============================================
``resnet8``               3x32x32     basic blocks, 1x1 stride-2 shortcut convs, residual
                                      adds, global average pool into a linear layer
``mobilenet_v2``          3x16x16     inverted residuals: expand 1x1, depthwise 3x3,
                                      project 1x1, residual add when the shape allows
``squeezenet``            3x32x32     fire modules (1x1 squeeze, 1x1 and 3x3 expands,
                                      channel concat), max-pools, a 1x1 classifier conv
                                      and a global average pool
``lenet5``                1x32x32     LeNet-5 with ``AvgPool2d(2)``, an ``Int32Bias``
                                      quantized bias on the last layer
``lenet5_trunc``          1x32x32     LeNet-5 with Brevitas' ``TruncAvgPool2d(2)``
``kws1d``                 10x49       1-D keyword spotting: ``QuantConv1d``,
                                      ``MaxPool1d``, ``AvgPool1d``, ``Int16Bias``
``resnet_stem``           3x32x32     ``MaxPool2d(3, 2, padding=1)`` after a 7x7/2 conv
========================  ==========  ===============================================

``jet_tagger`` is not a Brevitas network: it is the QKeras 16-64-32-32-5 jet tagger
(hls4ml's standard benchmark) as qonnx's QKeras converter writes it — MatMul with a
``Quant`` on the weights, ``Add`` of a ``Quant``-ized bias constant, ``Relu`` followed by an
unsigned ``Quant`` (``quantized_relu``), a float input and a float softmax — built directly
with the ONNX helper, so no TensorFlow is needed.

Use :func:`export` (Brevitas networks need the ``train`` extra: torch and brevitas) or
:func:`jet_tagger`; :data:`NETWORKS` lists the names, input shapes and whether the
network is a classifier (a hardware top-K applies).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Network:
    """An acceptance network: its input shape (no batch axis) and whether it classifies."""

    name: str
    shape: tuple[int, ...]
    classes: int
    brevitas: bool = True


NETWORKS: dict[str, Network] = {n.name: n for n in (
    Network("resnet8", (3, 32, 32), 10),
    Network("mobilenet_v2", (3, 16, 16), 10),
    Network("squeezenet", (3, 32, 32), 10),
    Network("lenet5", (1, 32, 32), 10),
    Network("lenet5_trunc", (1, 32, 32), 10),
    Network("kws1d", (10, 49), 12),
    Network("resnet_stem", (3, 32, 32), 10),
    Network("jet_tagger", (16,), 5, brevitas=False),
)}


def _modules():
    """The Brevitas model classes (imported lazily: torch is an optional extra)."""
    import torch
    from brevitas import nn as qnn
    from brevitas.quant import Int16Bias, Int32Bias
    from torch import nn

    def act(bits=4):
        return qnn.QuantReLU(bit_width=bits, return_quant_tensor=True)

    def conv(cin, cout, k, stride=1, padding=0, groups=1, bits=4, bias=False):
        return qnn.QuantConv2d(cin, cout, k, stride=stride, padding=padding, groups=groups,
                               bias=bias, weight_bit_width=bits)

    class BasicBlock(nn.Module):
        """ResNet basic block; a 1x1 strided conv on the shortcut when the shape changes."""

        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1, self.act1 = conv(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), act()
            self.conv2, self.bn2 = conv(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout)
            self.shortcut = None
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))
            # one quantizer for both operands: the add then sums integers of one scale
            self.join = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
            self.out = act()

        def forward(self, x):
            y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
            s = x if self.shortcut is None else self.shortcut(x)
            return self.out(self.join(y) + self.join(s))

    class ResNet8(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.stem = nn.Sequential(conv(3, 16, 3, 1, 1), nn.BatchNorm2d(16), act())
            self.blocks = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = qnn.QuantLinear(64, 10, bias=True, weight_bit_width=4)

        def forward(self, x):
            x = self.pool(self.blocks(self.stem(self.inp(x))))
            return self.fc(torch.flatten(x, 1))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            mid = cin * expand
            self.body = nn.Sequential(
                conv(cin, mid, 1), nn.BatchNorm2d(mid), act(),
                conv(mid, mid, 3, stride, 1, groups=mid), nn.BatchNorm2d(mid), act(),
                conv(mid, cout, 1), nn.BatchNorm2d(cout))
            self.residual = stride == 1 and cin == cout
            self.join = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)

        def forward(self, x):
            y = self.join(self.body(x))
            return y + self.join(x) if self.residual else y

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.stem = nn.Sequential(conv(3, 16, 3, 2, 1), nn.BatchNorm2d(16), act())
            self.blocks = nn.Sequential(InvertedResidual(16, 16, 1, 2), InvertedResidual(16, 24, 2, 2),
                                        InvertedResidual(24, 24, 1, 2))
            self.head = act()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = qnn.QuantLinear(24, 10, bias=True, weight_bit_width=4)

        def forward(self, x):
            x = self.pool(self.head(self.blocks(self.stem(self.inp(x)))))
            return self.fc(torch.flatten(x, 1))

    class Fire(nn.Module):
        def __init__(self, cin, squeeze, expand):
            super().__init__()
            self.squeeze = nn.Sequential(conv(cin, squeeze, 1), nn.BatchNorm2d(squeeze), act())
            self.e1 = nn.Sequential(conv(squeeze, expand, 1), nn.BatchNorm2d(expand))
            self.e3 = nn.Sequential(conv(squeeze, expand, 3, 1, 1), nn.BatchNorm2d(expand))
            self.out = act()   # shared by both expands: the concat joins integers of one scale

        def forward(self, x):
            s = self.squeeze(x)
            return torch.cat([self.out(self.e1(s)), self.out(self.e3(s))], dim=1)

    class SqueezeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.stem = nn.Sequential(conv(3, 16, 3, 1, 1), nn.BatchNorm2d(16), act(), nn.MaxPool2d(2))
            self.fire1 = Fire(16, 8, 16)
            self.pool = nn.MaxPool2d(2)
            self.fire2 = Fire(32, 8, 16)
            self.classifier = nn.Sequential(conv(32, 10, 1, bias=True), act())
            self.gap = nn.AdaptiveAvgPool2d(1)

        def forward(self, x):
            x = self.fire2(self.pool(self.fire1(self.stem(self.inp(x)))))
            return torch.flatten(self.gap(self.classifier(x)), 1)

    class LeNet5(nn.Module):
        def __init__(self, trunc: bool):
            super().__init__()
            def pool(k):
                return qnn.TruncAvgPool2d(k, stride=k, bit_width=4) if trunc else nn.AvgPool2d(k)
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.c1, self.a1, self.p1 = conv(1, 6, 5, bias=True), act(), pool(2)
            self.q1 = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
            self.c2, self.a2, self.p2 = conv(6, 16, 5, bias=True), act(), pool(2)
            self.q2 = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
            self.f1, self.a3 = qnn.QuantLinear(400, 120, bias=True, weight_bit_width=4), act()
            self.f2, self.a4 = qnn.QuantLinear(120, 84, bias=True, weight_bit_width=4), act()
            self.f3 = qnn.QuantLinear(84, 10, bias=True, weight_bit_width=4, bias_quant=Int32Bias)

        def forward(self, x):
            x = self.q1(self.p1(self.a1(self.c1(self.inp(x)))))
            x = self.q2(self.p2(self.a2(self.c2(x))))
            x = self.a3(self.f1(torch.flatten(x, 1)))
            return self.f3(self.a4(self.f2(x)))

    class Kws1d(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.c1 = qnn.QuantConv1d(10, 16, 3, padding=1, bias=False, weight_bit_width=4)
            self.b1, self.a1, self.p1 = nn.BatchNorm1d(16), act(), nn.MaxPool1d(2)
            self.c2 = qnn.QuantConv1d(16, 32, 3, bias=False, weight_bit_width=4)
            self.b2, self.a2, self.p2 = nn.BatchNorm1d(32), act(), nn.AvgPool1d(2)
            self.q2 = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(32 * 11, 12, bias=True, weight_bit_width=4, bias_quant=Int16Bias)

        def forward(self, x):
            x = self.p1(self.a1(self.b1(self.c1(self.inp(x)))))
            x = self.q2(self.p2(self.a2(self.b2(self.c2(x)))))
            return self.fc(torch.flatten(x, 1))

    class ResNetStem(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.stem = nn.Sequential(conv(3, 8, 7, 2, 3), nn.BatchNorm2d(8), act(),
                                      nn.MaxPool2d(3, 2, padding=1))
            self.c2 = nn.Sequential(conv(8, 16, 3, 1, 1), nn.BatchNorm2d(16), act())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = qnn.QuantLinear(16, 10, bias=True, weight_bit_width=4)

        def forward(self, x):
            x = self.pool(self.c2(self.stem(self.inp(x))))
            return self.fc(torch.flatten(x, 1))

    return {"resnet8": ResNet8, "mobilenet_v2": MobileNetV2, "squeezenet": SqueezeNet,
            "lenet5": lambda: LeNet5(trunc=False), "lenet5_trunc": lambda: LeNet5(trunc=True),
            "kws1d": Kws1d, "resnet_stem": ResNetStem}


def model(name: str, *, seed: int = 0, steps: int = 30):
    """The Brevitas network ``name``, briefly trained on random data, in eval mode.

    Batch-norm running statistics are randomised too, so the streamlined thresholds
    differ per channel as they do in a trained network. Training runs on one torch thread:
    float sums are ordered differently on two threads, and 30 Adam steps carry that rounding
    into quantized weights (the block RAM and multipliers a network needs changed with it);
    on one thread the same seed gives the same weights in every process.
    """
    import torch
    net_info = NETWORKS[name]
    if not net_info.brevitas:
        raise ValueError(f"{name} is not a Brevitas network (use jet_tagger())")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(name, net_info, seed, steps)
    finally:
        torch.set_num_threads(threads)


def _train(name: str, net_info, seed: int, steps: int):
    import torch
    torch.manual_seed(seed)
    net = _modules()[name]()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    # targets from a fixed random linear teacher: the net must depend on its input (with
    # random targets it learns their mean and every frame gets one label)
    teacher = torch.randn(int(np.prod(net_info.shape)), net_info.classes) / np.sqrt(np.prod(net_info.shape))
    net.train()
    rng = np.random.default_rng(seed + 2)
    for _ in range(steps):
        x = torch.from_numpy(_frames(rng, name, 16))
        target = x.flatten(1) @ teacher * 3
        out = net(x)
        loss = ((getattr(out, "value", out) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    gen = torch.Generator().manual_seed(seed + 1)
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return net.eval()


def export(name: str, path: str | Path, *, dynamo: bool = False, seed: int = 0) -> Path:
    """Write network ``name`` to ``path`` as QONNX; ``dynamo`` picks torch's dynamo exporter.

    ``jet_tagger`` is written by :func:`jet_tagger` (``dynamo`` does not apply).
    """
    path = Path(path)
    if name == "jet_tagger":
        return jet_tagger(path, seed=seed)
    import torch
    from brevitas.export import export_qonnx
    net = model(name, seed=seed)
    with torch.no_grad():
        export_qonnx(net, torch.randn((1,) + NETWORKS[name].shape), export_path=str(path), dynamo=dynamo)
    return path


def _frames(rng: np.random.Generator, name: str, frames: int) -> np.ndarray:
    """Pixel noise plus a per-frame offset and ramp per channel: frames that differ in what a
    global pool sees (i.i.d. noise alone averages out, and every frame gets one label)."""
    shape = NETWORKS[name].shape
    x = rng.normal(size=(frames,) + shape)
    if len(shape) > 1:
        lead = (frames, shape[0]) + (1,) * (len(shape) - 1)
        ramp = np.linspace(-1, 1, shape[-1]).reshape((1, 1) + (1,) * (len(shape) - 2) + (-1,))
        x = x + rng.normal(size=lead) + rng.normal(size=lead) * ramp
    return (x * 1.5).astype(np.float32)


def inputs(name: str, frames: int, *, seed: int = 0) -> np.ndarray:
    """Random float inputs for network ``name`` (batch first), spread over its quantizer's
    range, from the distribution it was trained on."""
    return _frames(np.random.default_rng(seed), name, frames)


# --------------------------------------------------------------------------- QKeras jet tagger

#: QKeras ``quantized_bits(6, 0, alpha=1)`` weights and biases, ``quantized_relu(6)``
#: activations: the layer sizes of hls4ml's jet-tagging benchmark.
JET_LAYERS = (16, 64, 32, 32, 5)


def jet_tagger(path: str | Path, *, seed: int = 0, bits: int = 6) -> Path:
    """The QKeras-style 16-64-32-32-5 jet tagger in qonnx's converter conventions.

    Every dense layer is ``MatMul(x, Quant(W))`` then ``Add(., Quant(b))`` (weights and
    biases as constants behind a signed ``Quant`` with a power-of-two scale, as
    ``quantized_bits(bits, 0, alpha=1)`` converts), hidden layers end in ``Relu`` and an
    unsigned ``Quant`` (``quantized_relu(bits)``), the output in a float ``Softmax``. The
    input is float: give ``--input-dtype/--input-scale`` (the benchmark feeds fixed-point
    ``ap_fixed<16,6>``, i.e. ``INT16`` times ``2**-10``) or let host-pre quantize.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    path = Path(path)
    nodes, inits = [], []
    scale = 2.0 ** -(bits - 1)          # quantized_bits(bits, 0): integer part 0, sign bit

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def quant(name, x, scale_value, signed):
        nodes.append(helper.make_node(
            "Quant", [x, const(f"{name}_scale", scale_value), const(f"{name}_zeropt", 0.0),
                      const(f"{name}_bitwidth", float(bits))], [name], domain="qonnx.custom_op.general",
            signed=int(signed), narrow=0, rounding_mode="ROUND", name=name))
        return name

    x = "input_1"
    n_layers = len(JET_LAYERS) - 1
    for k, (fan_in, fan_out) in enumerate(zip(JET_LAYERS, JET_LAYERS[1:])):
        codes = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(fan_in, fan_out))
        w = quant(f"dense_{k}_kernel_quantizer", const(f"dense_{k}_kernel", codes * scale), scale, True)
        bias = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(fan_out,)) * scale
        b = quant(f"dense_{k}_bias_quantizer", const(f"dense_{k}_bias", bias), scale, True)
        nodes.append(helper.make_node("MatMul", [x, w], [f"dense_{k}_matmul"], name=f"dense_{k}/MatMul"))
        nodes.append(helper.make_node("Add", [f"dense_{k}_matmul", b], [f"dense_{k}_out"], name=f"dense_{k}/BiasAdd"))
        x = f"dense_{k}_out"
        if k < n_layers - 1:
            nodes.append(helper.make_node("Relu", [x], [f"relu_{k}"], name=f"relu_{k}/Relu"))
            # quantized_relu(bits): unsigned codes of 2**-(bits-1)... the QKeras default
            # integer part is 0, so the step is 2**-bits over [0, 1)
            x = quant(f"relu_{k}_activation_quantizer", f"relu_{k}", 2.0 ** -bits, False)
    nodes.append(helper.make_node("Softmax", [x], ["output"], axis=-1, name="softmax"))
    graph = helper.make_graph(
        nodes, "jet_tagger",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, JET_LAYERS[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, JET_LAYERS[-1]])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 1)])
    onnx.save(proto, str(path))
    return path
