"""Branching networks end to end (issue 12): golden == Amaranth == Verilator, and measured ==
ideal cycles per frame at two foldings, with FIFOs sized from the units' schedules.

The networks (``branching_nets.py``): a residual block with a 3x3 body, a downsampling
block (stride-2 body, strided 1x1 shortcut), a MobileNet-v2 inverted residual, a
SqueezeNet fire module (concat of 1x1 and 3x3 expands), consecutive and nested
residuals with a scaled add, and a branch holding a max-pool.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bitsmith.generator.build import BuildOptions, load_model, prepare, write_bundle
from bitsmith.generator.estimate import graph_cycles
from bitsmith.generator.execute import run_amaranth, run_verilator
from bitsmith.generator.ir import Add, Concat, Fork
from bitsmith.sim.golden import run_graph

import branching_nets

FOLDINGS = {"auto": None, "fastest": 1}


def frames(graph, n, seed):
    return np.random.default_rng(seed).integers(0, 4, size=(n,) + tuple(graph.in_shape))


def check_equal(golden, got, what):
    bad = np.argwhere(got != golden)
    assert bad.size == 0, (f"{what}: frame {bad[0][0]}, index {tuple(bad[0][1:])}: expected "
                           f"{golden[tuple(bad[0])]}, got {got[tuple(bad[0])]}")


@pytest.mark.parametrize("which", sorted(branching_nets.NETS))
def test_nets_are_dags_with_joins(which, branching_net):
    g = prepare(load_model(branching_net(which), BuildOptions()), BuildOptions())
    kinds = {type(n) for n in g.nodes}
    assert Fork in kinds and (Add in kinds or Concat in kinds)
    assert len(g.fifos) == len({(f.dst, f.port) for f in g.fifos})


@pytest.mark.parametrize("which", ["residual", "fire"])
def test_amaranth_equals_golden(which, branching_net):
    g = prepare(load_model(branching_net(which), BuildOptions()), BuildOptions(target_cycles=1))
    x = frames(g, 3, seed=1)
    run = run_amaranth(g, x)
    check_equal(run_graph(g, x), run.outputs, "Amaranth")
    assert run.cycles_per_frame == graph_cycles(g)


@pytest.mark.verilator
@pytest.mark.parametrize("fold", sorted(FOLDINGS))
@pytest.mark.parametrize("which", sorted(branching_nets.NETS))
def test_verilator_equals_golden_at_the_folding_bound(which, fold, branching_net, tmp_path):
    g = prepare(load_model(branching_net(which), BuildOptions()),
                BuildOptions(target_cycles=FOLDINGS[fold]))
    built = write_bundle(g, tmp_path / "out")
    x = frames(g, 6, seed=2)
    golden = run_graph(g, x)
    for idle, backpressure in (("none", "none"), ("random", "random"), ("cycle", "random")):
        rtl = run_verilator(tmp_path / "out", built.io, x, idle=idle, backpressure=backpressure, seed=3)
        assert rtl.protocol_errors == 0
        check_equal(golden, rtl.outputs, f"Verilator {idle}/{backpressure}")
        if idle == backpressure == "none":
            assert rtl.cycles_per_frame == graph_cycles(g) == built.report["ideal_cycles_per_frame"]
    assert built.report["fifo_bits"] == sum(f.bits for f in g.fifos) > 0


def test_sim_command_runs_a_branching_bundle_in_amaranth(branching_net, tmp_path):
    g = prepare(load_model(branching_net("fire"), BuildOptions()), BuildOptions(target_cycles=1))
    write_bundle(g, tmp_path / "out")
    x = frames(g, 2, seed=4)
    np.save(tmp_path / "x.npy", x)
    proc = subprocess.run([sys.executable, "-m", "bitsmith", "sim", str(tmp_path / "out"), "--input",
                           str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
                           "--simulator", "amaranth"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    check_equal(run_graph(g, x), np.load(tmp_path / "y.npy"), "bitsmith sim --simulator amaranth")


def test_design_json_round_trip_rebuilds_the_same_verilog(branching_net, tmp_path):
    from bitsmith.generator.build import emit_verilog, elaborate, read_bundle
    g = prepare(load_model(branching_net("downsample"), BuildOptions()), BuildOptions())
    write_bundle(g, tmp_path / "out")
    back, design = read_bundle(tmp_path / "out")
    assert [(n.name, n.inputs) for n in back.nodes] == [(n.name, n.inputs) for n in g.nodes]
    assert back.fifos == g.fifos
    assert design["ideal_cycles_per_frame"] == graph_cycles(g)
    assert emit_verilog(elaborate(back).top, "a") == emit_verilog(elaborate(g).top, "a")
    x = frames(g, 2, seed=5)
    check_equal(run_graph(g, x), run_graph(back, x), "reloaded golden")
