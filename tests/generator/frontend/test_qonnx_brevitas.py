"""Brevitas round trip (needs the ``[train]`` extra): train tiny networks a few steps,
export them with both exporters (TorchScript -> MatMul/Gemm, dynamo -> Gemm with an
external ``.onnx.data``) and check golden == qonnx on the exported files."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")

from brevitas.export import export_qonnx  # noqa: E402

from bitsmith.generator.errors import ModelError  # noqa: E402
from bitsmith.generator.frontend.qonnx import compare_with_reference, load_onnx  # noqa: E402
from bitsmith.generator.ir.host import run_stages  # noqa: E402
from bitsmith.sim.golden import run_graph  # noqa: E402

pytestmark = pytest.mark.train


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(24, 16, bias=True, weight_bit_width=4, weight_scaling_per_output_channel=True)
        self.bn = torch.nn.BatchNorm1d(16)
        self.act = qnn.QuantReLU(bit_width=3, return_quant_tensor=True)
        self.fc2 = qnn.QuantLinear(16, 16, bias=False, weight_bit_width=2)
        self.act2 = qnn.QuantIdentity(bit_width=2, return_quant_tensor=True)
        self.fc3 = qnn.QuantLinear(16, 5, bias=True, weight_bit_width=8)

    def forward(self, x):
        return self.fc3(self.act2(self.fc2(self.act(self.bn(self.fc1(self.inp(x)))))))


class Bnn(torch.nn.Module):
    """1-bit weights and activations (BipolarQuant in QONNX): XNOR-popcount layers."""

    def __init__(self):
        super().__init__()
        from brevitas.quant import SignedBinaryActPerTensorConst as BinAct
        from brevitas.quant import SignedBinaryWeightPerTensorConst as BinWeight
        self.inp = qnn.QuantIdentity(act_quant=BinAct, return_quant_tensor=True)
        # weight scale 1.0: with 0.1, float32 rounding gives exact zeros random signs in qonnx
        self.fc1 = qnn.QuantLinear(32, 16, bias=False, weight_quant=BinWeight, weight_scaling_const=1.0)
        self.bn = torch.nn.BatchNorm1d(16)
        self.act = qnn.QuantIdentity(act_quant=BinAct, return_quant_tensor=True)
        self.fc2 = qnn.QuantLinear(16, 6, bias=False, weight_quant=BinWeight, weight_scaling_const=1.0)

    def forward(self, x):
        return self.fc2(self.act(self.bn(self.fc1(self.inp(x)))))


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.c1 = qnn.QuantConv2d(2, 6, 3, padding=1, bias=False, weight_bit_width=4,
                                  weight_scaling_per_output_channel=True)
        self.bn1 = torch.nn.BatchNorm2d(6)
        self.a1 = qnn.QuantReLU(bit_width=2, return_quant_tensor=True)
        self.pool = torch.nn.MaxPool2d(2)
        self.c2 = qnn.QuantConv2d(6, 8, 3, bias=True, weight_bit_width=3)
        self.a2 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.fc = qnn.QuantLinear(8 * 2 * 2, 4, bias=False, weight_bit_width=4)   # top-K can run in hardware

    def forward(self, x):
        x = self.pool(self.a1(self.bn1(self.c1(self.inp(x)))))
        x = self.a2(self.c2(x))
        return self.fc(torch.flatten(x, 1))


def trained(net, shape, steps=20):
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(steps):
        x = torch.randn((32,) + shape)
        loss = ((net(x) - 1.0) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("arch, shape", [(Mlp, (24,)), (Bnn, (32,)), (Cnn, (2, 8, 8))], ids=["mlp", "bnn", "cnn"])
def test_brevitas_export_matches_qonnx(tmp_path, arch, shape, dynamo):
    net = trained(arch(), shape)
    path = tmp_path / f"{arch.__name__.lower()}.onnx"
    with torch.no_grad():
        export_qonnx(net, torch.randn((1,) + shape), export_path=str(path), dynamo=dynamo)
    if dynamo:
        assert path.with_name(path.name + ".data").exists()
    x = np.random.default_rng(1).normal(size=(200,) + shape).astype(np.float32) * 1.5
    graph = load_onnx(path)
    check(graph, path, x)
    kinds = {type(n).__name__ for n in graph.nodes}
    assert ("Conv" in kinds) == (arch is Cnn) and "MatrixVector" in kinds
    if arch is Bnn:
        assert all(n.xnor for n in graph.nodes)
    if arch in (Cnn, Bnn):
        check(load_onnx(path, topk=2), path, x)
    else:   # the last layer's per-class bias: the top-K ranks by exact integer keys
        graph = load_onnx(path, topk=1)
        assert graph.output_node.keyed
        check(graph, path, x)


def check(graph, path, x):
    golden = run_graph(graph, run_stages(graph.host_pre, x))
    problems = compare_with_reference(graph, path, x, golden)
    assert problems == [], "\n".join(problems)
