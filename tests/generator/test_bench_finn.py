"""bench against FINN: operations per frame, the comparison rows, the frames/s-LUT figure."""

from pathlib import Path

import pytest

from bitsmith.generator.bench import (FINN_PUBLISHED, BenchResult, NetworkResult, folding_curves,
                                      ops_per_frame, versus_finn)
from bitsmith.generator.build import BuildOptions, load_model, prepare
from bitsmith.generator.plots import bench_fps_luts

ROOT = Path(__file__).resolve().parents[2]
TFC1 = ROOT / "tests" / "models" / "TFC_1W1A.onnx"


def tfc():
    opts = BuildOptions(input_dtype="UINT8", input_scale=1 / 255, topk=1)
    return prepare(load_model(TFC1, opts), opts)


def test_ops_per_frame_of_tfc_is_twice_its_weights():
    assert ops_per_frame(tfc()) == 2 * (784 * 64 + 64 * 64 * 2 + 64 * 10) == 118_016


def test_rows_put_bitsmith_beside_finn():
    net = NetworkResult("tfc-w1a1", "t", "ok", cycles_per_frame=784.0, ops_per_frame=118_016,
                        synth={"icebreaker": {"fits": True, "luts": 1739, "fmax_mhz": 58.95, "device": "iCE40UP5K",
                                              "units": {"luts": "LUT4"}},
                               "arty_a7_35": {"fits": True, "luts": 1000, "fmax_mhz": None, "device": "xc7a35t",
                                              "units": {"luts": "LUT6"}},
                               "ulx3s": {"fits": False, "device": "LFE5U-85F"}})
    rows = versus_finn(BenchResult([net], ("icebreaker", "arty_a7_35", "ulx3s"), quick=True))
    ours = [r for r in rows if r["implementation"].startswith("bitsmith")]
    assert [r["implementation"] for r in ours] == ["bitsmith (icebreaker)", "bitsmith (arty_a7_35)"]
    ice = ours[0]
    assert ice["frames_per_s"] == pytest.approx(58.95e6 / 784, abs=0.1)
    assert ice["ops_per_cycle"] == pytest.approx(118_016 / 784, abs=0.1)
    assert ice["ops_per_cycle_per_lut"] == pytest.approx(118_016 / 784 / 1739, abs=1e-4)
    assert ours[1]["frames_per_s"] is None                     # no Fmax without Vivado
    finn = rows[len(ours):]
    assert [r["network"] for r in finn] == [p.network for p in FINN_PUBLISHED] == ["tfc-w1a1", "sfc-max"]
    assert finn[0]["frames_per_s"] == 837_019 and finn[0]["luts"] is None
    assert finn[1]["ops_per_cycle_per_lut"] == pytest.approx(668_672 * 12.3e6 / 200e6 / 91_131, abs=1e-4)


def test_folding_curves_and_their_figure():
    curves = folding_curves(tfc(), ["icebreaker", "arty_a7_35"], points=5)
    ice = curves["icebreaker"]
    assert ice["family"] == "ice40" and ice["clock_mhz"] == 60.0 and len(ice["points"]) == 5
    cycles = [p["cycles"] for p in ice["points"]]
    assert cycles == sorted(cycles) and all(p["frames_per_s"] == round(60e6 / p["cycles"], 1)
                                            for p in ice["points"])
    png = bench_fps_luts([{"name": "tfc-w1a1", "sweep": curves, "synth": {}, "cycles_per_frame": None}],
                         [{"network": "sfc-max", "device": "xc7z045", "luts": 91_131, "frames_per_s": 12.3e6}])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
