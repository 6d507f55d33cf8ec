"""The SqueezeNet-class row of ``bitsmith bench`` (issue 16 item 3): RTL == golden == qonnx
at measured == ideal cycles, and a clean skip without the train extra."""

from __future__ import annotations

import dataclasses

import pytest

from bitsmith.generator.bench import NETWORKS, SQUEEZENET, bench_network
from bitsmith.generator.ir.branch import Concat


def test_a_network_whose_modules_are_missing_is_skipped(tmp_path):
    net = dataclasses.replace(NETWORKS[SQUEEZENET], needs=("torch", "no_such_module_bitsmith"))
    res = bench_network(net, tmp_path / "out", boards=(), frames=3, progress=lambda msg: None)
    assert res.status == "skipped: needs no_such_module_bitsmith (the train extra)"
    assert not (tmp_path / "out").exists()


@pytest.mark.train
@pytest.mark.verilator
def test_squeezenet_row_rtl_equals_golden_equals_qonnx(tmp_path):
    net = NETWORKS[SQUEEZENET]
    graph = net.generate(net.make())
    assert sum(isinstance(n, Concat) for n in graph.nodes) == 2          # two fire modules
    res = bench_network(net, tmp_path / "out", boards=(), frames=6, progress=lambda msg: None)
    assert res.status == "ok", res.details
    assert (res.mismatches, res.reference_mismatches) == (0, 0)
    assert res.cycles_per_frame == res.ideal_cycles_per_frame == res.as_json()["ideal_cycles_per_frame"]
    assert res.as_json()["reference_mismatches"] == 0
