"""Issue-12 acceptance: the zoo networks (``bitsmith.generator.examples.zoo``) through the ONNX
front end, with both Brevitas exporters: golden == qonnx with a hardware top-K (fast tier),
and RTL == golden == qonnx on 100 random frames at measured == ideal cycles per frame
(``verilator``). Exports are cached per session and across sessions under
``~/.cache/bitsmith/zoo/<hash of the zoo source and the torch/brevitas versions>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.build import BuildOptions
from bitsmith.generator.examples import zoo
from bitsmith.generator.examples.zoo_cache import cached_export, export_path
from bitsmith.generator.frontend.qonnx import compare_with_reference, load_onnx
from bitsmith.generator.ir import LabelSelect
from bitsmith.generator.ir.branch import Add, Concat
from bitsmith.generator.ir.host import run_stages
from bitsmith.sim.golden import run_graph

FRAMES = 100
#: --target-cycles of the RTL runs: slow enough that Verilator builds stay small, every
#: layer kind still folded (the default folding is measured by the report, not here)
TARGET = {"resnet8": 50000, "mobilenet_v2": 20000, "squeezenet": 20000, "lenet5": 20000,
          "lenet5_trunc": 20000, "kws1d": 2000, "resnet_stem": 20000, "jet_tagger": 200}
JET = dict(input_dtype="INT16", input_scale=1 / 1024)
CASES = [(name, dyn) for name, net in zoo.NETWORKS.items() for dyn in ((False, True) if net.brevitas else (False,))]
IDS = [f"{name}-{'dynamo' if dyn else 'torchscript'}" for name, dyn in CASES]


@pytest.fixture(scope="session")
def zoo_model():
    """``zoo_model(name, dynamo) -> Path``: the exported network, exported once."""

    def get(name: str, dynamo: bool) -> Path:
        if zoo.NETWORKS[name].brevitas and not export_path(name, dynamo=dynamo).exists():
            pytest.importorskip("brevitas")
        return cached_export(name, dynamo=dynamo)
    return get


def frames(name: str) -> np.ndarray:
    if name == "jet_tagger":       # ap_fixed<16,6> style integers, the real input is x/1024
        return np.random.default_rng(0).integers(-4096, 4096, (FRAMES, 16)).astype(np.float32)
    return zoo.inputs(name, FRAMES)


def options(name: str, **kw) -> dict:
    return dict(JET if name == "jet_tagger" else {}, **kw)


@pytest.mark.train
@pytest.mark.parametrize("name, dynamo", CASES, ids=IDS)
def test_zoo_golden_matches_qonnx(zoo_model, name, dynamo):
    path = zoo_model(name, dynamo)
    x = frames(name)
    opts = options(name)
    if opts:
        opts["input_dtype"] = DataType[opts["input_dtype"]]
    for topk in (None, 1):
        graph = load_onnx(path, topk=topk, **opts)
        golden = run_graph(graph, run_stages(graph.host_pre, x))
        problems = compare_with_reference(graph, path, x, golden)
        assert problems == [], "\n".join(problems[:5])
        if topk:
            assert isinstance(graph.output_node, LabelSelect)
            assert len(set(golden.reshape(-1).tolist())) > 1        # not a constant classifier
    kinds = {type(n).__name__ for n in graph.nodes}
    expected = {"resnet8": {"Add", "GlobalAccPool", "Conv"}, "mobilenet_v2": {"Add", "GlobalAccPool"},
                "squeezenet": {"Concat", "MaxPool", "GlobalAccPool"}, "lenet5": {"AvgPool"},
                "lenet5_trunc": {"AvgPool", "MultiThreshold"}, "kws1d": {"MaxPool", "AvgPool"},
                "resnet_stem": {"MaxPool"}, "jet_tagger": {"MatrixVector"}}[name]
    assert expected <= kinds, kinds
    if name == "resnet8":
        assert sum(isinstance(n, Add) for n in graph.nodes) == 3
    if name == "squeezenet":
        assert sum(isinstance(n, Concat) for n in graph.nodes) == 2


@pytest.mark.train
def test_jet_tagger_without_input_dtype_refused(zoo_model):
    from bitsmith.generator.errors import ModelError
    with pytest.raises(ModelError, match=r"^node 'MatMul_0' \(MatMul\): the model's float input reaches it without "
                                         r"a quantizer; give --input-dtype/--input-scale if the input is integer$"):
        load_onnx(zoo_model("jet_tagger", False))


@pytest.mark.train
@pytest.mark.verilator
@pytest.mark.parametrize("name, dynamo", CASES, ids=IDS)
def test_zoo_rtl(zoo_model, name, dynamo):
    from bitsmith.generator.verify import verify
    classifier = name != "jet_tagger"
    opts = BuildOptions(topk=1 if classifier else None, target_cycles=TARGET[name], **options(name))
    res = verify(zoo_model(name, dynamo), frames(name), opts)
    assert res.frames == FRAMES
    assert (res.mismatches, res.reference_mismatches, res.protocol_errors) == (0, 0, 0), res.details[:5]
    assert (res.cycles_per_frame, res.mean_cycles_per_frame, res.longest_frame_gap) == \
        (res.ideal_cycles_per_frame,) * 3
    if classifier:
        assert len(set(res.labels)) > 1
