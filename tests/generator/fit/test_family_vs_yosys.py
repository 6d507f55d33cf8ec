"""The per-family estimate against Yosys's own count of the same Verilog (board tier).

A few designs per family, synthesised alone (``synth_ice40``, ``synth_ecp5``,
``synth_xilinx``): block RAMs exactly as estimated, LUTs within
:data:`bitsmith.generator.fit.family.LUT_TOLERANCE`.
"""

from pathlib import Path

import pytest

from bitsmith.boards.flows.counts import resources
from bitsmith.boards.tools import synthesised_stat, yosys_stat
from bitsmith.generator.build import BuildOptions, load_model, prepare, write_bundle
from bitsmith.generator.fit.estimate import estimate_design
from bitsmith.generator.fit.family import LUT_TOLERANCE

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "generator" / "examples" / "digits" / "digits.yaml"
TFC1 = ROOT / "tests" / "models" / "TFC_1W1A.onnx"
TFC2 = ROOT / "tests" / "models" / "TFC_2W2A.onnx"
TFC_OPTS = dict(input_dtype="UINT8", input_scale=1 / 255, topk=1)

DESIGNS = {
    "digits-256": (DIGITS, dict(topk=1, target_cycles=256)),
    "tfc1-512": (TFC1, dict(TFC_OPTS, target_cycles=512)),
    "tfc2-1024": (TFC2, dict(TFC_OPTS, target_cycles=1024)),
}
#: Integer layers of the bench (``bitsmith bench``'s own graphs): INT8 x INT8 products
#: (``widemul``: DSP blocks on the ECP5 and 7-series, LUT multipliers on the iCE40),
#: barrel-shifter lanes (``shift``) and a HashedNets layer (``hash``). The coefficients
#: were fitted on mvau-int8, shift-int8 and hashed-256x64; conv3x3-direct (a sliding
#: window before 36 INT8 lanes) was not used.
BENCH_DESIGNS = ("mvau-int8", "shift-int8", "hashed-256x64", "conv3x3-direct")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            if name in BENCH_DESIGNS or name == "conv3x3-winograd":
                from bitsmith.generator.bench import NETWORKS
                network = NETWORKS[name]
                graph = network.generate(network.make())
            else:
                model, opts = DESIGNS[name]
                opts = BuildOptions(**opts)
                graph = prepare(load_model(model, opts), opts)
            out = tmp_path_factory.mktemp(name) / "out"
            write_bundle(graph, out)
            cache[name] = (graph, next((out / "rtl").glob("*.v")))
        return cache[name]
    return get


@pytest.mark.board
@pytest.mark.parametrize("family", ["ice40", "ecp5", "xc7"])
@pytest.mark.parametrize("design", [*DESIGNS, *BENCH_DESIGNS])
def test_estimate_against_yosys(built, design, family):
    graph, rtl = built(design)
    real = resources(family, yosys_stat(synthesised_stat(rtl, family)))
    est = estimate_design(graph, family)
    assert (est.brams, est.dsps) == (real["brams"], real["dsps"]), (design, family, est.as_dict(), real)
    assert abs(est.luts - real["luts"]) <= LUT_TOLERANCE * real["luts"], (design, family, est.as_dict(), real)


@pytest.mark.board
@pytest.mark.parametrize("design, family", [
    ("conv3x3-winograd", "ecp5"), ("conv3x3-winograd", "xc7")])
def test_memories_against_yosys(built, design, family):
    """Block RAMs and DSPs of the Winograd layer, whose LUTs are not within LUT_TOLERANCE
    yet (ECP5 -20 %, 7-series +56 %; docs/FIT.md): the products' 16-matrix ROM and the
    transforms' memories (1 DP16KD was estimated against 6; its iCE40 EBRs, 57 against 63,
    still are not exact: the output transform's queue)."""
    graph, rtl = built(design)
    real = resources(family, yosys_stat(synthesised_stat(rtl, family)))
    est = estimate_design(graph, family)
    assert (est.brams, est.dsps) == (real["brams"], real["dsps"]), (design, family, est.as_dict(), real)
