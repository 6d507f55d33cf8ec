"""Folding to a board: the fastest folding whose estimate (with the shell) fits the budget."""

from pathlib import Path

import numpy as np
import pytest

from bitsmith.boards.registry import Board, Resources, get_board
from bitsmith.generator.build import BuildOptions, fit_to_board, folds_to_board, load_model, prepare
from bitsmith.generator.errors import FoldingError, OptionError
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.fit.estimate import estimate_design
from bitsmith.generator.fit.preload import invert_thresholds, preload_frames
from bitsmith.generator.fit.search import candidate_targets, evaluate, fold_to_board
from bitsmith.generator.ir import MultiThreshold
from bitsmith.generator.ir.core import Thresholds
from bitsmith.generator.ir import dtype

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "generator" / "examples" / "digits" / "digits.yaml"
TFC1 = ROOT / "tests" / "models" / "TFC_1W1A.onnx"
TFC2 = ROOT / "tests" / "models" / "TFC_2W2A.onnx"
TFC_OPTS = dict(input_dtype="UINT8", input_scale=1 / 255, topk=1)


def graph_of(model, **opts):
    opts = BuildOptions(**opts)
    return prepare(load_model(model, opts), opts)


@pytest.mark.parametrize("model, opts", [(DIGITS, dict(topk=1)), (TFC1, TFC_OPTS), (TFC2, TFC_OPTS)],
                         ids=["digits", "tfc-w1a1", "tfc-w2a2"])
def test_chosen_folding_fits_and_no_faster_one_does(model, opts):
    graph = graph_of(model, **opts)
    board = get_board("icebreaker")
    result = fold_to_board(graph, board)
    chosen = result.chosen
    assert chosen.fits and chosen.cycles == graph_cycles(chosen.graph)
    assert all(chosen.total[k] <= result.budget[k] for k in chosen.total)
    # every faster target tried does not fit
    faster = [c for c in result.tried if c.target < chosen.target]
    assert faster and not any(c.fits for c in faster)


def test_tfc_w2a2_needs_spram_on_the_up5k():
    result = fold_to_board(graph_of(TFC2, **TFC_OPTS), get_board("icebreaker"))
    assert result.chosen.spram
    assert result.chosen.core.spram <= 4 and result.chosen.core.memories
    rom_only = [c for c in result.tried if c.target == result.chosen.target and not c.spram]
    assert rom_only and not rom_only[0].fits and "brams" in rom_only[0].over


def test_a_network_too_big_for_the_board_is_refused():
    tiny = Board("tiny", "test board", "ice40", "open", "iCE40UP5K", "SG48", "", "x", 12.0,
                 Resources(luts=600, ffs=600, brams=2, dsps=0))
    with pytest.raises(OptionError, match=r"^--board tiny: the network does not fit iCE40UP5K even fully "
                                          r"folded \(.*\)$"):
        fold_to_board(graph_of(TFC1, **TFC_OPTS), tiny)


def test_explicit_folding_keeps_the_board_from_choosing():
    assert folds_to_board(BuildOptions(board="icebreaker"))
    assert not folds_to_board(BuildOptions(board="icebreaker", target_cycles=64))
    assert not folds_to_board(BuildOptions(board="icebreaker", fold="f.json"))
    graph = graph_of(DIGITS, topk=1)
    same, fit = fit_to_board(graph, BuildOptions(board="icebreaker", target_cycles=64))
    assert fit is None
    # the folding stays; only the XNOR layers' counting follows the board's family
    assert [(n.name, getattr(n, "pe", 0), getattr(n, "simd", 0)) for n in same.nodes] == \
        [(n.name, getattr(n, "pe", 0), getattr(n, "simd", 0)) for n in graph.nodes]
    assert {n.popcount for n in graph.nodes if n.kind == "mvau"} == {"counters"}
    assert {n.popcount for n in same.nodes if n.kind == "mvau"} == {"adders"}


def test_candidate_targets_are_the_layers_cycle_counts():
    targets = candidate_targets(graph_of(DIGITS, topk=1))
    assert targets == sorted(set(targets)) and 1024 in targets and targets[0] >= 1


def test_preload_frames_load_the_weights_through_the_input_thresholds():
    graph = graph_of(TFC2, **TFC_OPTS, target_cycles=1568)
    mv = graph.nodes[1]
    graph = graph.replace(nodes=(graph.nodes[0], mv.replace(weight_memory="spram"), *graph.nodes[2:]))
    frames = preload_frames(graph)
    assert frames.shape[1:] == tuple(graph.in_shape) and frames.min() >= 0 and frames.max() <= 255
    # through the input thresholds the frames carry the weight words
    th = graph.nodes[0]
    t = th.thresholds.per_channel(784)
    codes = th.thresholds.out_scale * (frames.reshape(-1, 784)[:, :, None] >= t[None]).sum(axis=2) \
        + th.thresholds.out_bias
    from bitsmith.generator.build import lower_checked
    from bitsmith.sim.packing import pack
    unit = lower_checked(graph, mv)[0].component
    assert pack(codes.reshape(-1), mv.in_dtype, mv.simd)[:len(unit.load_words())] == unit.load_words()


def test_an_unreachable_threshold_output_is_refused():
    node = MultiThreshold(name="q", in_shape=(1, 1, 2), in_dtype=dtype("UINT2"),
                          thresholds=Thresholds(values=np.array([[1, 1], [1, 2]]), out_dtype=dtype("UINT2")))
    assert invert_thresholds(node, np.array([0, 2])).tolist() == [0, 2]
    with pytest.raises(FoldingError, match=r"^layer 'q': no input gives output 1 on channel 0, so run-time "
                                           r"weights cannot be loaded through it$"):
        invert_thresholds(node, np.array([1, 0]))


def test_run_time_weights_only_on_the_first_matrix_layer():
    graph = graph_of(TFC2, **TFC_OPTS, target_cycles=2048)
    late = graph.replace(nodes=tuple(n.replace(weight_memory="spram") if n.name == "MVAU1" else n
                                     for n in graph.nodes))
    with pytest.raises(FoldingError, match=r"^layer 'MVAU1': weight_memory spram is possible on the first "
                                           r"matrix layer only, behind thresholds or reshapes at most "
                                           r"\(the input stream loads it\)$"):
        preload_frames(late)


def test_sweep_with_a_board_marks_the_points_that_fit():
    from bitsmith.generator.sweep import sweep
    res = sweep(TFC1, BuildOptions(board="icebreaker", **TFC_OPTS), targets=[64, 256, 1024, 4096], jobs=1)
    chosen = res.board_fit["cycles"]
    assert res.board_fit["board"] == "icebreaker" and chosen == fold_to_board(
        graph_of(TFC1, **TFC_OPTS), get_board("icebreaker")).chosen.cycles
    for p in res.points:
        assert p.board["fits"] == (p.cycles >= chosen and p.board["cells"] <= res.board_fit["budget"]["cells"])
    assert [p.board["fits"] for p in res.points] == [False, False, True, True]


def _folding(graph):
    return [(n.name, getattr(n, "pe", None), getattr(n, "simd", None), getattr(n, "weight_memory", None))
            for n in graph.nodes]


@pytest.mark.parametrize("model, opts", [(DIGITS, {}), (TFC1, {}), (TFC2, {}), (TFC2, TFC_OPTS)],
                         ids=["digits", "tfc-w1a1", "tfc-w2a2", "tfc-w2a2-uint8"])
def test_the_api_and_the_build_command_fold_to_the_board(model, opts, tmp_path, monkeypatch, capsys):
    # `build --board` went through the API, whose fold() never asked the board: it built
    # the description's own folding (TFC-w2a2: 1,024 cycles, 49 of 30 EBR, refused by Yosys)
    import json

    import bitsmith
    from bitsmith.generator.cli import main
    chosen = fold_to_board(graph_of(model, board="icebreaker", **opts), get_board("icebreaker")).chosen
    design = bitsmith.fold(model, board="icebreaker", **opts)
    assert _folding(design.graph) == _folding(chosen.graph)
    assert design.fit["cycles"] == chosen.cycles == design.ideal_cycles_per_frame
    # the command line: the same folding in the bundle, the board's choice in the report
    # (the board flow itself is stubbed: it is the board tier's business)
    monkeypatch.setattr("bitsmith.api.synthesise", lambda *a, **k: None)
    flags = ["--input-dtype", "UINT8", "--input-scale", "1/255", "--topk", "1"] if opts else []
    assert main(["-q", "build", str(model), "-o", str(tmp_path / "out"), "--board", "icebreaker", *flags]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["ideal_cycles_per_frame"] == chosen.cycles
    assert report["fit"]["cycles"] == chosen.cycles
    assert [(r["name"], r.get("pe"), r.get("simd")) for r in report["layers"]] == \
        [(n, pe, simd) for n, pe, simd, _ in _folding(chosen.graph)]
    # the summary line quotes the iCE40 estimate (EBR, SPRAM), not the generic BRAM18 one
    est = estimate_design(chosen.graph, "ice40")
    spram = f", {est.spram} SB_SPRAM256KA" if est.spram else ""
    assert (f"estimate for icebreaker {est.luts} LUT4, {est.ffs} FF, {est.brams:g} EBR, 0 SB_MAC16{spram}; "
            in capsys.readouterr().out)


def test_an_explicit_folding_is_not_the_boards():
    import bitsmith
    design = bitsmith.fold(TFC1, board="icebreaker", target_cycles=64)
    assert design.fit is None and design.ideal_cycles_per_frame == 64


def test_a_folding_the_tools_refuse_is_replaced_by_the_next_slower_one(tmp_path, monkeypatch):
    import json

    import bitsmith
    from bitsmith.boards.flows.open_fpga import DoesNotFit
    board = get_board("icebreaker")
    graph = graph_of(DIGITS, board="icebreaker")
    first = fold_to_board(graph, board).chosen.cycles
    second = fold_to_board(graph, board, slower_than=first).chosen.cycles
    third = fold_to_board(graph, board, slower_than=second).chosen.cycles
    assert first < second < third
    tried = []

    def refuse_two(result, board_name, **kw):         # the board flow, refusing the two fastest
        cycles = json.loads((result.out_dir / "report.json").read_text())["ideal_cycles_per_frame"]
        tried.append(cycles)
        if cycles < third:
            raise DoesNotFit(f"the design does not fit {board.title} ({board.device}):\n  luts ... <-- over")
        return "synthesised"

    monkeypatch.setattr("bitsmith.api.synthesise", refuse_two)
    built = bitsmith.build(DIGITS, tmp_path / "out", board="icebreaker")
    assert tried == [first, second, third] and built.synth == "synthesised"
    assert built.report["ideal_cycles_per_frame"] == third
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["fit"]["refused"] == [
        {"cycles": c, "reason": "the design does not fit 1BitSquared iCEBreaker (iCE40UP5K)"} for c in (first, second)]
    assert (f"The board's tools refused the faster folding of {first} cycles/frame (the design does not fit "
            f"1BitSquared iCEBreaker (iCE40UP5K)).") in (tmp_path / "out" / "report.md").read_text()

    # a folding the user chose is not the board's to change: the refusal stands
    tried.clear()
    with pytest.raises(DoesNotFit):
        bitsmith.build(DIGITS, tmp_path / "mine", board="icebreaker", target_cycles=first)
    assert tried == [first]
