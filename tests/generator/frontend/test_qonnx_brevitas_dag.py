"""Brevitas variations of the issue-12 patterns, both exporters, golden == qonnx (with a
hardware top-K): residual blocks (bias on/off, per-channel/per-tensor weight scales, BN
before the add or not, odd sizes, bit widths), a fire module's concat, average pools
(k x k strided and padded, truncated), padded/ceil max pools, 1-D layers, and every Brevitas
bias quantizer on the classifier."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")

from brevitas.export import export_qonnx  # noqa: E402
from brevitas import quant as bq  # noqa: E402

from bitsmith.generator.errors import ModelError  # noqa: E402
from bitsmith.generator.frontend.qonnx import load_onnx  # noqa: E402
from bitsmith.generator.ir import LabelSelect  # noqa: E402
from tests.generator.frontend.test_qonnx_brevitas import check  # noqa: E402

pytestmark = pytest.mark.train
nn = torch.nn


def act(bits=4, signed=False):
    return (qnn.QuantIdentity if signed else qnn.QuantReLU)(bit_width=bits, return_quant_tensor=True)


class Residual(nn.Module):
    def __init__(self, bias=False, per_channel=False, bn=True, bits=4, size=7):
        super().__init__()
        kw = dict(bias=bias, weight_bit_width=bits, weight_scaling_per_output_channel=per_channel)
        self.inp = act(8, signed=True)
        self.c1 = qnn.QuantConv2d(3, 6, 3, padding=1, **kw)
        self.b1 = nn.BatchNorm2d(6) if bn else nn.Identity()
        self.a1 = act(bits)
        self.c2 = qnn.QuantConv2d(6, 6, 3, padding=1, **kw)
        self.b2 = nn.BatchNorm2d(6) if bn else nn.Identity()
        self.join = act(bits, signed=True)
        self.out = act(bits)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = qnn.QuantLinear(6, 5, bias=True, weight_bit_width=bits, weight_scaling_per_output_channel=per_channel)
        self.shape = (3, size, size)

    def forward(self, x):
        x = self.a1(self.b1(self.c1(self.inp(x))))
        y = self.b2(self.c2(x))
        x = self.out(self.join(y) + self.join(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class Fire(nn.Module):
    def __init__(self, pool="max"):
        super().__init__()
        self.inp = act(8, signed=True)
        self.sq = qnn.QuantConv2d(3, 4, 1, weight_bit_width=4, bias=False)
        self.a = act(3)
        self.e1 = qnn.QuantConv2d(4, 5, 1, weight_bit_width=4, bias=True)
        self.e3 = qnn.QuantConv2d(4, 3, 3, padding=1, weight_bit_width=4, bias=True)
        self.out = act(4)
        self.pool = {"max": nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), "avg": nn.AvgPool2d(3, 2, padding=1),
                     "trunc": qnn.TruncAvgPool2d(2, stride=2, bit_width=4)}[pool]
        self.q = act(4)
        side = 5 if pool == "max" else 4      # ceil mode keeps a fifth, overhanging window
        self.fc = qnn.QuantLinear(8 * side * side, 4, bias=True, weight_bit_width=4)
        self.shape = (3, 8, 8)

    def forward(self, x):
        s = self.a(self.sq(self.inp(x)))
        x = torch.cat([self.out(self.e1(s)), self.out(self.e3(s))], dim=1)
        return self.fc(torch.flatten(self.q(self.pool(x)), 1))


class Seq(nn.Module):
    def __init__(self, bias_quant=bq.Int32Bias):
        super().__init__()
        self.inp = act(8, signed=True)
        self.c = qnn.QuantConv1d(4, 6, 5, padding=2, stride=1, bias=True, weight_bit_width=4, bias_quant=bias_quant)
        self.b = nn.BatchNorm1d(6)
        self.a = act(4)
        self.p = nn.MaxPool1d(3, 2, padding=1)
        self.p2 = nn.AvgPool1d(2)
        self.q = act(4)
        self.fc = qnn.QuantLinear(6 * 3, 4, bias=True, weight_bit_width=4, bias_quant=bias_quant)
        self.shape = (4, 13)

    def forward(self, x):
        x = self.q(self.p2(self.p(self.a(self.b(self.c(self.inp(x)))))))
        return self.fc(torch.flatten(x, 1))


NETS = {
    "res": lambda: Residual(), "res_bias_perchannel": lambda: Residual(bias=True, per_channel=True),
    "res_nobn_3bit_odd": lambda: Residual(bn=False, bits=3, size=5),
    "fire_maxpool": lambda: Fire("max"), "fire_avgpool": lambda: Fire("avg"), "fire_trunc": lambda: Fire("trunc"),
    "seq_int32bias": lambda: Seq(bq.Int32Bias), "seq_int16bias": lambda: Seq(bq.Int16Bias),
    "seq_int8bias": lambda: Seq(bq.Int8Bias), "seq_int24bias": lambda: Seq(bq.Int24Bias),
}


#: both exporters for one of each pattern, TorchScript for the other variations (CI time)
CASES = [(name, dyn) for name in NETS for dyn in ((False, True) if name in ("res", "fire_avgpool", "seq_int32bias")
                                                  else (False,))]


def _train_export(tmp_path, name, dynamo):
    torch.manual_seed(0)
    net = NETS[name]()
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(10):
        x = torch.randn((16,) + net.shape) * 1.5 + torch.randn((16, net.shape[0]) + (1,) * (len(net.shape) - 1))
        loss = ((net(x) - torch.arange(net.fc.out_features, dtype=torch.float32)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    path = tmp_path / f"{name}.onnx"
    with torch.no_grad():
        export_qonnx(net, torch.randn((1,) + net.shape), export_path=str(path), dynamo=dynamo)
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(120,) + net.shape) * 1.5
         + rng.normal(size=(120, net.shape[0]) + (1,) * (len(net.shape) - 1))).astype(np.float32)
    return path, x


@pytest.mark.parametrize("name, dynamo", CASES, ids=[f"{n}-{'dynamo' if d else 'torchscript'}" for n, d in CASES])
def test_brevitas_variation(tmp_path, name, dynamo):
    path, x = _train_export(tmp_path, name, dynamo)
    check(load_onnx(path), path, x)
    if name == "res_bias_perchannel":
        # learned float per-channel scales on the classifier: no exact integer key exists
        with pytest.raises(ModelError, match=r"^--topk: the per-class scales before the top-K are not in ratios "
                                             r"of integers up to 4096, so no exact integer key exists; use a "
                                             r"per-tensor weight scale \(or power-of-two per-channel scales\) on "
                                             r"the last layer$"):
            load_onnx(path, topk=1)
        return
    graph = load_onnx(path, topk=1)
    assert isinstance(graph.output_node, LabelSelect)
    check(graph, path, x)
