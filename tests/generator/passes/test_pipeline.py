"""Passes as objects: pipelines by name, fork insertion, accumulator widths, top-K,
folding over every branch (--target-cycles and --fold FILE), FIFO sizing."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from qonnx.core.datatype import DataType as DT

from bitsmith.generator.build import BuildOptions, load_model, prepare
from bitsmith.generator.errors import OptionError
from bitsmith.generator.estimate import graph_cycles, node_cycles
from bitsmith.generator.ir import Add, Fork, Graph, LabelSelect, MatrixVector
from bitsmith.generator.passes import PASSES, pipeline, run_pipeline
from bitsmith.generator.passes.acc_widths import AccWidths
from bitsmith.generator.passes.fold import Fold
from bitsmith.generator.passes.insert_forks import InsertForks
from bitsmith.generator.passes.size_fifos import SizeFifos
from bitsmith.generator.passes.topk import AppendTopK
from bitsmith.sim.golden import run_graph


def test_unknown_pass_name_lists_the_valid_ones():
    with pytest.raises(OptionError, match=r"^unknown pass 'streamline' \(valid: acc_widths, fold, "
                                          r"insert_forks, prune_channels, shift, size_fifos, sparsify, topk, winograd\)$"):
        pipeline(["fold", "streamline"])


def test_pipeline_from_names_with_options(branching_net):
    passes = pipeline(["acc_widths", "insert_forks", "fold", "size_fifos"], fold={"target_cycles": 200})
    assert [p.name for p in passes] == ["acc_widths", "insert_forks", "fold", "size_fifos"]
    assert passes[2] == Fold(target_cycles=200)
    g = run_pipeline(load_model(branching_net("fire"), BuildOptions()), passes)
    assert g.fifos and all(n.pe >= 1 for n in g.nodes)
    assert set(PASSES) == {"acc_widths", "fold", "insert_forks", "prune_channels", "shift", "size_fifos",
                           "sparsify", "topk", "winograd"}


def test_fork_insertion(branching_net):
    g = load_model(branching_net("downsample"), BuildOptions())
    assert not any(isinstance(n, Fork) for n in g.nodes)     # the file reads 'stem' twice
    out = InsertForks().apply(g)
    fork = out.node("stem_fork")
    assert isinstance(fork, Fork) and fork.inputs == ("stem",) and fork.outputs == 2 and fork.pe == 0
    assert out.node("down").inputs == ("stem_fork",) and out.node("short").inputs == ("stem_fork",)
    assert [n.name for n in out.nodes].index("stem_fork") == 1
    assert InsertForks().apply(out) is out                    # idempotent
    x = np.random.default_rng(0).integers(0, 4, size=(2, 8, 8, 2))
    np.testing.assert_array_equal(run_graph(out, x), run_graph(g, x))


def test_fork_of_the_graph_input():
    w = np.ones((2, 2), dtype=np.int64)
    mv = lambda name: MatrixVector(name=name, in_shape=(1, 1, 2), in_dtype=DT["UINT2"], inputs=("input",),
                                   weights=w, weight_dtype=DT["INT2"], acc_dtype=None, pe=1, simd=1)
    add = Add(name="s", in_shape=(1, 1, 2), in_dtype=DT["UINT3"], in_dtype_b=DT["UINT3"], inputs=("a", "b"))
    g = AccWidths().apply(Graph(name="g", in_shape=(1, 1, 2), in_dtype=DT["UINT2"], nodes=(mv("a"), mv("b"), add)))
    assert g.node("a").acc_dtype.name == "UINT3"
    out = InsertForks().apply(g)
    assert out.nodes[0].name == "input_fork" and out.nodes[0].inputs == ("input",)
    assert out.node("a").inputs == out.node("b").inputs == ("input_fork",)


def test_topk_pass_errors(branching_net):
    g = AccWidths().apply(load_model(branching_net("fire"), BuildOptions()))
    with pytest.raises(OptionError, match=r"^--topk needs a vector output, the model's is \(6, 6, 8\)$"):
        AppendTopK(k=1).apply(g)


def test_fold_reaches_branch_nodes_with_target_cycles(branching_net):
    g = prepare(load_model(branching_net("inverted_residual"), BuildOptions()),
                BuildOptions(target_cycles=300))
    names = [n.name for n in g.nodes]
    assert names == ["stem", "stem_fork", "expand", "dw", "project", "sum"]
    for n in g.nodes:
        assert n.pe >= 1 and node_cycles(n) <= max(300, node_cycles(n.replace(pe=n.in_shape[2])))
    assert graph_cycles(g) <= 324                        # the stem's window bound: 36*9
    slow = prepare(load_model(branching_net("inverted_residual"), BuildOptions()),
                   BuildOptions(target_cycles=5000))
    assert [n.pe for n in slow.nodes] == [1] * 6           # every branch node folded fully


def test_fold_file_reaches_branch_nodes(tmp_path, branching_net):
    path = branching_net("residual")
    fold = tmp_path / "fold.json"
    fold.write_text(json.dumps({"body": {"pe": 4, "simd": 2}, "res_fork": {"pe": 2}, "res": {"pe": 4}}))
    g = prepare(load_model(path, BuildOptions()), BuildOptions(fold=str(fold)))
    assert (g.node("body").pe, g.node("body").simd) == (4, 2)
    assert g.node("res_fork").pe == 2 and g.node("res").pe == 4
    fold.write_text(json.dumps({"nope": {"pe": 1}}))
    with pytest.raises(OptionError, match=re.escape(f"--fold {fold}: no layer named 'nope' (layers: body, "
                                                    "res, res_fork, stem)")):
        prepare(load_model(path, BuildOptions()), BuildOptions(fold=str(fold)))


def test_size_fifos_needs_the_join_lookahead(branching_net):
    g = prepare(load_model(branching_net("residual"), BuildOptions()), BuildOptions(target_cycles=5000))
    depth = {(f.dst, f.port): f.depth for f in g.fifos}
    # the body (3x3, pad 1) emits output row r once input row r+1 is complete: the
    # shortcut holds those two rows of 6 pixels x 4 channels, one per word, and more
    assert depth[("res", "b")] >= 2 * 6 * 4
    assert all(d == 3 for k, d in depth.items() if k != ("res", "b"))
    assert SizeFifos().apply(g).fifos == g.fifos
