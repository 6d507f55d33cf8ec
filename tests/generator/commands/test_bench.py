"""``bitsmith bench``: the suite, its JSON, cycle counts, and how it reports devices."""

from __future__ import annotations

import json
import re

import pytest

from bitsmith import boards
from bitsmith.boards.flows.open_fpga import DoesNotFit
from bitsmith.generator.bench import NETWORKS, SYNTH_BOARDS, bench, parse_networks, select_networks, synth_figures
from bitsmith.generator.cli import main
from bitsmith.generator.commands.bench import print_tables
from bitsmith.generator.errors import OptionError, ToolError


def one_error_line(capsys, argv, pattern):
    try:
        code = main(argv)
    except SystemExit as exc:           # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert re.match(pattern, err), err


def test_the_suite_and_quick_selection():
    assert list(NETWORKS) == ["digits", "tfc-w1a1", "tfc-w2a2", "digits-sparse", "cnv-w1a1", "squeezenet",
                              "mvau-int8", "shift-int8", "dense-256x64", "hashed-256x64", "conv3x3-direct",
                              "conv3x3-winograd"]
    assert [n.name for n in select_networks(quick=True)] == ["digits", "tfc-w1a1", "tfc-w2a2", "digits-sparse"]
    assert [n.name for n in select_networks()] == list(NETWORKS)
    # --networks keeps the suite's order and overrides --quick
    assert [n.name for n in select_networks(["cnv-w1a1", "digits"], quick=True)] == ["digits", "cnv-w1a1"]
    assert parse_networks(" digits , tfc-w2a2") == ["digits", "tfc-w2a2"]
    assert SYNTH_BOARDS == ("arty_a7_35", "icebreaker", "ulx3s")


def test_unknown_network_is_rejected():
    with pytest.raises(OptionError, match=r"^--networks: unknown network 'mnist' \(known: digits, tfc-w1a1, "
                                          r"tfc-w2a2, digits-sparse, cnv-w1a1, squeezenet, mvau-int8, shift-int8, "
                                          r"dense-256x64, hashed-256x64, conv3x3-direct, "
                                          r"conv3x3-winograd\)$"):
        parse_networks("digits,mnist")
    with pytest.raises(OptionError, match=r"^--networks: unknown network ''"):
        parse_networks(",")


@pytest.mark.parametrize("argv, pattern", [
    (["--networks", "lenet"], r"^bitsmith: error: --networks: unknown network 'lenet' \(known: "),
    (["--frames", "0"], r"^bitsmith: error: argument --frames: must be a positive integer, not '0'\n$"),
    (["--frames", "2", "--networks", "digits"],
     r"^bitsmith: error: --frames must be an integer >= 3 \(steady state needs 3\), not 2\n$"),
    (["--seeds", "0"], r"^bitsmith: error: argument --seeds: must be a positive integer, not '0'\n$"),
    (["--seeds", "21", "--networks", "digits"],
     r"^bitsmith: error: --seeds must be an integer from 1 to 20, not 21\n$"),
])
def test_bad_options_are_one_line(capsys, argv, pattern):
    one_error_line(capsys, ["bench", "--no-synth", *argv], pattern)


def test_a_design_too_big_for_a_device_is_a_result_not_a_crash(monkeypatch, tmp_path):
    def too_big(out_dir, board, progress=None, **kw):
        raise DoesNotFit("the core does not fit 1BitSquared iCEBreaker (iCE40UP5K):\n  luts 9000 / 5280")
    monkeypatch.setattr(boards, "synth", too_big)
    fig = synth_figures(tmp_path, "icebreaker", lambda msg: None)
    assert fig["fits"] is False and fig["device"] == "iCE40UP5K"
    assert fig["reason"] == "the core does not fit 1BitSquared iCEBreaker (iCE40UP5K):"

    def broken(out_dir, board, progress=None, **kw):
        raise ToolError("yosys failed; log: x/synth.log")
    monkeypatch.setattr(boards, "synth", broken)
    assert synth_figures(tmp_path, "ulx3s", lambda msg: None) == \
        {"device": "LFE5U-85F", "fits": None, "error": "yosys failed; log: x/synth.log"}

    def fits(out_dir, board, progress=None, **kw):
        return {"luts": 10, "ffs": 20, "brams": 1.5, "dsps": 0, "fmax_mhz": 123.4, "fits": True, "x": 1}
    monkeypatch.setattr(boards, "synth", fits)
    fig = synth_figures(tmp_path, "ulx3s", lambda msg: None)
    assert {k: fig[k] for k in ("device", "fits", "luts", "ffs", "brams", "dsps", "fmax_mhz")} == \
        {"device": "LFE5U-85F", "fits": True, "luts": 10, "ffs": 20, "brams": 1.5, "dsps": 0, "fmax_mhz": 123.4}


def test_several_seeds_report_the_median_worst_and_best(monkeypatch, tmp_path):
    calls = []

    def seeded(out_dir, board, progress=None, seeds=1, **kw):
        calls.append((board, seeds))
        by_seed = {"1": 130.9, "2": 135.6, "3": 124.2, "4": 131.6, "5": 129.3}
        return {"luts": 10, "ffs": 20, "brams": 1, "dsps": 0, "fmax_mhz": 135.6, "fits": True,
                "nextpnr_seeds": dict(list(by_seed.items())[:seeds])}
    monkeypatch.setattr(boards, "synth", seeded)
    fig = synth_figures(tmp_path, "ulx3s", lambda msg: None, seeds=5)
    # the flow keeps the best seed's placement; the figure reported is the median seed's
    assert (fig["fmax_mhz"], fig["fmax_worst_mhz"], fig["fmax_best_mhz"]) == (130.9, 124.2, 135.6)
    fig = synth_figures(tmp_path, "ulx3s", lambda msg: None, seeds=4)
    assert (fig["fmax_mhz"], fig["fmax_worst_mhz"]) == (130.9, 124.2)      # the lower middle
    fig = synth_figures(tmp_path, "ulx3s", lambda msg: None, seeds=1)
    assert fig["fmax_mhz"] == 135.6 and "fmax_worst_mhz" not in fig
    synth_figures(tmp_path, "arty_a7_35", lambda msg: None, seeds=5)      # Yosys only: once
    assert calls == [("ulx3s", 5), ("ulx3s", 4), ("ulx3s", 1), ("arty_a7_35", 1)]


@pytest.mark.verilator
def test_bench_board_replaces_a_folding_the_tools_refuse(monkeypatch, tmp_path, capsys):
    """``bench --board`` as ``build --board``: the board's first choice refused by its
    tools, the next slower folding the estimate fits is built, simulated and reported."""
    from bitsmith.boards.registry import get_board
    from bitsmith.generator.fit.search import fold_to_board
    graph = NETWORKS["digits"].generate(NETWORKS["digits"].make())
    first = fold_to_board(graph, get_board("icebreaker")).chosen.cycles
    tried = []

    def refuse_first(out_dir, board, progress=None, **kw):
        cycles = json.loads((out_dir / "report.json").read_text())["ideal_cycles_per_frame"]
        tried.append(cycles)
        if cycles == first:
            raise DoesNotFit("the design does not fit 1BitSquared iCEBreaker (iCE40UP5K):\n  cells ... <-- over")
        return {"luts": 10, "ffs": 20, "brams": 1, "dsps": 0, "fmax_mhz": 60.5, "fits": True}
    monkeypatch.setattr(boards, "synth", refuse_first)
    res = bench([NETWORKS["digits"]], synth=True, frames=3, out_dir=tmp_path, board="icebreaker")
    second = fold_to_board(graph, get_board("icebreaker"), slower_than=first).chosen.cycles
    assert tried == [first, second]
    (net,) = res.networks
    assert net.status == "ok" and net.cycles_per_frame == net.ideal_cycles_per_frame == second
    assert net.synth["icebreaker"]["fmax_mhz"] == 60.5
    refused = [{"cycles": first, "reason": "the design does not fit 1BitSquared iCEBreaker (iCE40UP5K)"}]
    assert net.fit["refused"] == refused
    assert json.loads((tmp_path / "digits" / "report.json").read_text())["fit"]["refused"] == refused
    print_tables(res)
    assert (f"digits: the board's tools refused {first} cycles/frame (the design does not fit 1BitSquared "
            f"iCEBreaker (iCE40UP5K))") in capsys.readouterr().out


def test_a_failing_network_is_reported_and_fails_the_run():
    import dataclasses

    def broken(model):
        raise ToolError("Verilator could not build the harness; log: x.log")
    net = dataclasses.replace(NETWORKS["digits"], generate=broken)
    res = bench([net], synth=False)
    (result,) = res.networks
    assert (result.status, result.details, res.passed) == \
        ("error", ["Verilator could not build the harness; log: x.log"], False)
    assert res.as_json()["networks"][0]["status"] == "error"


def test_out_dir_that_is_not_a_build_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "notes.txt").write_text("mine")
    one_error_line(capsys, ["bench", "--no-synth", "--networks", "digits", "-o", str(tmp_path)],
                   rf"^bitsmith: error: refusing to overwrite OUT {re.escape(str(tmp_path / 'digits'))}: it holds "
                   rf"'notes\.txt', which bitsmith did not write\n$")


@pytest.mark.verilator
def test_quick_digits_json_measures_the_folding_bound(capsys):
    assert main(["bench", "--quick", "--no-synth", "--networks", "digits", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == "bitsmith-bench/1" and out["passed"] is True
    assert out["quick"] is True and out["synth_boards"] == []
    assert {"platform", "python", "cpus", "verilator"} <= set(out["machine"])
    (net,) = out["networks"]
    assert net["name"] == "digits" and net["status"] == "ok" and net["mismatches"] == 0
    # digits.yaml's folding: fc1 128x128 at PE 16, SIMD 64 -> (128/16)(128/64) = 16
    assert net["ideal_cycles_per_frame"] == 16
    assert (net["cycles_per_frame"], net["mean_cycles_per_frame"], net["longest_frame_gap"]) == \
        (net["ideal_cycles_per_frame"],) * 3
    assert net["cycle_ratio"] == 1.0
    assert net["frames"] == 1000
    for key in ("generation_s", "generation_cpu_s", "golden_s", "golden_fps", "sim_s", "sim_fps",
                "sim_cpu_s", "sim_cycles_per_cpu_s"):
        assert net[key] > 0
    # rates are counts over seconds; the seconds are printed to the millisecond, so the rate
    # lies between count / (s + 0.0005) and count / (s - 0.0005) -- never an absolute time
    def within_rounding(rate, count, seconds):
        return count / (seconds + 0.0005) * 0.999 <= rate <= count / (seconds - 0.0005) * 1.001
    assert within_rounding(net["sim_cycles_per_cpu_s"], net["sim_cycles"], net["sim_cpu_s"])
    assert within_rounding(net["sim_fps"], net["frames"], net["sim_s"])
    assert set(net["estimate"]) == {"luts", "ffs", "brams", "dsps"} and net["synth"] == {}


def test_skipped_network_when_its_model_is_missing(tmp_path):
    import dataclasses
    net = dataclasses.replace(NETWORKS["tfc-w1a1"], source=tmp_path / "TFC_1W1A.onnx")
    (res,) = bench([net], synth=False).networks
    assert res.status == f"skipped: {tmp_path / 'TFC_1W1A.onnx'} not found (a source checkout has it)"


@pytest.mark.board
def test_digits_does_not_fit_the_up5k_and_bench_says_so(monkeypatch, tmp_path):
    # digits.yaml at 16 cycles/frame needs ~8k LUT6 on the Artix-7 by Yosys: far over the
    # UP5K's 5280 LUT4, which the core-only synthesis finds before place and route
    monkeypatch.setattr("bitsmith.generator.bench.SYNTH_BOARDS", ("icebreaker",))
    res = bench(select_networks(["digits"]), frames=20, out_dir=tmp_path)
    (net,) = res.networks
    assert net.status == "ok" and res.synth_boards == ("icebreaker",)
    fig = net.synth["icebreaker"]
    assert (fig["device"], fig["fits"]) == ("iCE40UP5K", False)
    assert fig["reason"] == "the core does not fit 1BitSquared iCEBreaker (iCE40UP5K):"
    assert (tmp_path / "digits" / "board" / "icebreaker.failed").is_dir()      # its logs stay


def test_tables_show_cycles_devices_and_notes(capsys):
    from bitsmith.generator.bench import BenchResult, NetworkResult
    from bitsmith.generator.commands.bench import print_tables
    ok = NetworkResult("digits", "t", "ok", frames=100, generation_s=2.0, ideal_cycles_per_frame=16,
                       cycles_per_frame=16.0, mismatches=0, golden_s=0.01, sim_s=0.1,
                       estimate={"luts": 8557, "ffs": 1316, "brams": 0.0, "dsps": 0},
                       synth={"arty_a7_35": {"device": "xc7a35t", "fits": True, "luts": 8241, "ffs": 7001,
                                             "brams": 0, "dsps": 0, "fmax_mhz": None},
                              "icebreaker": {"device": "iCE40UP5K", "fits": False, "reason": "r"},
                              "ulx3s": {"device": "LFE5U-85F", "fits": True, "luts": 9981, "ffs": 7001,
                                        "brams": 0, "dsps": 0, "fmax_mhz": 141.56}})
    sparse = NetworkResult("digits-sparse", "t", "ok", note="cycles depend on the data", frames=100,
                           generation_s=1.0, ideal_cycles_per_frame=256, cycles_per_frame=105.0,
                           mismatches=0, golden_s=0.01, sim_s=0.1, estimate={"luts": 1, "ffs": 1, "brams": 2.0})
    sparse.synth = {"arty_a7_35": {"device": "xc7a35t", "fits": None, "error": "yosys failed; see a/b.log"}}
    print_tables(BenchResult([ok, sparse], SYNTH_BOARDS, quick=True))
    out = capsys.readouterr().out
    assert re.search(r"digits\s.*\b16\b.*\b16\b.*1\.000.*yes.*1,000.*10,000.*8557", out)
    assert re.search(r"digits-sparse\s.*\b256\b.*\b105\b.*0\.410", out)
    assert re.search(r"digits\s.*8241 / 7001 / 0\s.*does not fit.*9981 / 7001 / 0, 141\.56 MHz", out)
    assert re.search(r"digits-sparse\s.*tool failed \(below\)", out)
    assert "digits-sparse on xc7a35t: yosys failed; see a/b.log" in out
    assert "digits-sparse: cycles depend on the data" in out
