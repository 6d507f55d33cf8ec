"""``bitsmith sweep``: targets, folding per target, the Pareto front, executors, errors."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.build import BuildOptions
from bitsmith.generator.cli import main
from bitsmith.generator.estimate import Resources
from bitsmith.generator.ir import Graph, MatrixVector
from bitsmith.generator.sweep import (SweepPoint, cycle_bounds, default_targets, mark_pareto, parse_targets,
                             random_frames, sweep)
from bitsmith.generator.errors import OptionError

DIGITS = Path(__file__).resolve().parents[3] / "generator" / "examples" / "digits" / "digits.yaml"
B = DataType["BIPOLAR"]


def mvau(name, mw, mh):
    w = np.ones((mh, mw), dtype=np.int64)
    return MatrixVector(name=name, in_shape=(1, 1, mw), in_dtype=B, weights=w, weight_dtype=B,
                        acc_dtype=DataType["UINT16"], thresholds=None, pe=1, simd=1)


def point(target, cycles, luts):
    return SweepPoint(target=target, cycles=cycles, resources=Resources(luts=luts), layers={})


def dominated(p, points):
    return any(q is not p and q.cycles <= p.cycles and q.resources.luts <= p.resources.luts
               and (q.cycles, q.resources.luts) != (p.cycles, p.resources.luts) for q in points)


# --------------------------------------------------------------------------- targets

@pytest.mark.parametrize("bounds, expected", [
    ((1, 1), [1]),
    ((3, 5), [3, 4, 5]),
    ((1, 64), [1, 2, 4, 8, 16, 32, 64]),
    ((5, 100), [5, 8, 16, 32, 64, 100]),
])
def test_default_targets_are_the_powers_of_two_between_the_bounds(bounds, expected):
    assert default_targets(*bounds) == expected


def test_default_targets_thin_to_eight_and_keep_both_bounds():
    targets = default_targets(2, 16384)
    assert len(targets) == 8 and targets[0] == 2 and targets[-1] == 16384
    assert targets == sorted(set(targets))
    assert all(t & (t - 1) == 0 for t in targets)          # powers of two (the bounds are, here)


def test_default_targets_reject_bad_bounds():
    with pytest.raises(ValueError, match=r"^bounds must be integers with 1 <= unrolled <= folded, not 8, 4$"):
        default_targets(8, 4)
    with pytest.raises(ValueError, match=r"^max_points must be an integer >= 2, not 1$"):
        default_targets(1, 8, max_points=1)


def test_cycle_bounds_follow_the_folding_formula():
    g = Graph(name="g", in_shape=(1, 1, 64), in_dtype=B, nodes=(mvau("a", 64, 32), mvau("b", 32, 8)))
    # fully unrolled: PE = MH, SIMD = MW -> 1 cycle; fully folded: MH * MW of the largest layer
    assert cycle_bounds(g) == (1, 64 * 32)


@pytest.mark.parametrize("text, expected", [("64", [64]), ("1024, 64,64", [64, 1024])])
def test_parse_targets(text, expected):
    assert parse_targets(text) == expected


@pytest.mark.parametrize("text", ["", "0", "8,-1", "1.5", "x"])
def test_parse_targets_rejects_non_positive_integers(text):
    with pytest.raises(OptionError, match=rf"^--targets must be positive integers separated by commas, "
                                          rf"not '{text}'$"):
        parse_targets(text)


def test_random_frames_stay_in_the_input_datatype():
    g = Graph(name="g", in_shape=(1, 1, 64), in_dtype=B, nodes=(mvau("a", 64, 8),))
    x = random_frames(g, 5)
    assert x.shape == (5, 1, 1, 64) and set(np.unique(x)) == {-1, 1}


# --------------------------------------------------------------------------- Pareto

def test_mark_pareto_keeps_exactly_the_non_dominated_points():
    pts = [point(1, 1, 900), point(2, 2, 900), point(4, 4, 300), point(8, 4, 300),
           point(16, 16, 310), point(32, 32, 100)]
    mark_pareto(pts)
    assert [p.target for p in pts if p.pareto] == [1, 4, 32]   # 8 repeats 4's design
    for p in pts:
        assert p.pareto == (not dominated(p, pts) and
                            p is min((q for q in pts if (q.cycles, q.resources.luts) ==
                                      (p.cycles, p.resources.luts)), key=lambda q: q.target))


# --------------------------------------------------------------------------- the sweep

def check_digits_sweep(res):
    pts = res.points
    assert [p.target for p in pts] == sorted(p.target for p in pts)
    assert res.unrolled_cycles <= pts[0].target and pts[-1].target == res.folded_cycles
    for p in pts:
        assert p.cycles <= p.target
        # the network's ideal cycles: its slowest MVAU, (MH/PE)(MW/SIMD) from the reported folding
        mvau_cycles = [(mh // p.layers[name]["pe"]) * (mw // p.layers[name]["simd"])
                       for name, mw, mh in (("fc0", 64, 128), ("fc1", 128, 128), ("fc2", 128, 10))]
        assert p.cycles >= max(mvau_cycles)
    luts = [p.resources.luts for p in pts]
    assert luts == sorted(luts, reverse=True)                 # fewest lanes as the target grows
    front = [p for p in pts if p.pareto]
    assert front and all(not dominated(p, pts) for p in front)
    assert all(dominated(p, pts) or any((q.cycles, q.resources.luts) == (p.cycles, p.resources.luts)
                                        for q in front) for p in pts if not p.pareto)


def test_sweep_digits_in_process():
    res = sweep(DIGITS, BuildOptions(topk=1), jobs=1)
    assert (res.unrolled_cycles, res.folded_cycles) == (2, 128 * 128)
    assert len(res.points) == 8
    check_digits_sweep(res)
    assert res.baseline.cycles == 16                        # digits.yaml's own folding


def test_sweep_command_json_in_a_process_pool(capsys):
    assert main(["sweep", str(DIGITS), "--topk", "1", "--jobs", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["executor"] == "2 local processes"
    local = sweep(DIGITS, BuildOptions(topk=1), jobs=1)
    assert [(p["target"], p["cycles"], p["luts"], p["pareto"]) for p in out["points"]] == \
        [(p.target, p.cycles, p.resources.luts, p.pareto) for p in local.points]
    assert out["pareto"] == [p.target for p in local.points if p.pareto]


def test_explicit_targets_below_the_bound_are_reported_as_missed(capsys):
    assert main(["sweep", str(DIGITS), "--topk", "1", "--targets", "1,64", "--jobs", "1", "--json"]) == 0
    pts = json.loads(capsys.readouterr().out)["points"]
    assert [(p["target"], p["cycles"], p["meets_target"]) for p in pts] == [(1, 2, False), (64, 64, True)]


def test_sweep_command_table(capsys):
    assert main(["sweep", str(DIGITS), "--topk", "1", "--targets", "16,256", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "bitsmith sweep: digits_bnn" in out and "Pareto" in out


# --------------------------------------------------------------------------- Dask

class FakeFuture:
    def __init__(self, key, value):
        self.key, self.value = key, value

    def result(self):
        return self.value


def fake_dask(monkeypatch, connect_error=None):
    """A stand-in ``dask.distributed`` that runs the tasks in this process."""
    calls = []

    class Client:
        def __init__(self, address, timeout=None):
            if connect_error is not None:
                raise connect_error
            calls.append(address)

        def map(self, fn, tasks, pure=True):
            return [FakeFuture(f"task-{i}", fn(t)) for i, t in enumerate(tasks)]

        def close(self):
            calls.append("closed")

    module = types.ModuleType("dask.distributed")
    module.Client = Client
    module.as_completed = lambda futures: list(reversed(futures))
    package = types.ModuleType("dask")
    package.distributed = module
    monkeypatch.setitem(sys.modules, "dask", package)
    monkeypatch.setitem(sys.modules, "dask.distributed", module)
    return calls


def test_sweep_on_a_dask_scheduler_gives_the_local_result(monkeypatch):
    calls = fake_dask(monkeypatch)
    res = sweep(DIGITS, BuildOptions(topk=1), scheduler="tcp://sched:8786")
    assert calls == ["tcp://sched:8786", "closed"] and res.executor == "dask tcp://sched:8786"
    check_digits_sweep(res)
    local = sweep(DIGITS, BuildOptions(topk=1), jobs=1)
    assert [(p.target, p.cycles, p.resources, p.pareto) for p in res.points] == \
        [(p.target, p.cycles, p.resources, p.pareto) for p in local.points]


def one_error_line(capsys, argv, pattern):
    try:
        code = main(argv)
    except SystemExit as exc:           # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert re.match(pattern, err), err


def test_scheduler_without_dask_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    one_error_line(capsys, ["sweep", str(DIGITS), "--scheduler", "tcp://127.0.0.1:1"],
                   r"^bitsmith: error: --scheduler needs Dask, which is not installed: "
                   r"pip install dask distributed\n$")


def test_unreachable_scheduler_is_one_line(monkeypatch, capsys):
    fake_dask(monkeypatch, connect_error=OSError("Timed out trying to connect to tcp://nowhere:1\n after 10 s"))
    one_error_line(capsys, ["sweep", str(DIGITS), "--scheduler", "tcp://nowhere:1"],
                   r"^bitsmith: error: --scheduler tcp://nowhere:1: cannot connect to a Dask scheduler "
                   r"\(Timed out trying to connect to tcp://nowhere:1 after 10 s\)\n$")


@pytest.mark.parametrize("argv, pattern", [
    (["--targets", "64,abc"], r"^bitsmith: error: --targets must be positive integers separated by "
                              r"commas, not '64,abc'\n$"),
    (["--targets", "0"], r"^bitsmith: error: --targets must be positive integers separated by "
                         r"commas, not '0'\n$"),
    (["--target-cycles", "64"], r"^bitsmith: error: --target-cycles/--target-fps/--clock-mhz do not apply "
                                r"to sweep: give the cycle targets with --targets\n$"),
    (["--jobs", "0"], r"^bitsmith: error: argument --jobs: must be a positive integer, not '0'\n$"),
])
def test_bad_options_are_one_line(capsys, argv, pattern):
    one_error_line(capsys, ["sweep", str(DIGITS), *argv], pattern)


@pytest.fixture(scope="module")
def local_cluster():
    """A real ``dask.distributed.LocalCluster``: two worker processes on this machine."""
    distributed = pytest.importorskip("distributed")      # the [dask] extra
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        yield cluster


def test_sweep_on_a_real_dask_cluster_gives_the_local_result(local_cluster, capsys):
    address = local_cluster.scheduler_address
    assert main(["sweep", str(DIGITS), "--topk", "1", "--scheduler", address, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["executor"] == f"dask {address}" and len(out["points"]) == 8
    local = sweep(DIGITS, BuildOptions(topk=1), jobs=2)
    assert [(p["target"], p["cycles"], p["luts"], p["ffs"], p["brams"], p["pareto"], p["layers"])
            for p in out["points"]] == \
        [(p.target, p.cycles, p.resources.luts, p.resources.ffs, p.resources.brams, p.pareto, p.layers)
         for p in local.points]


@pytest.mark.verilator
def test_verify_on_a_real_dask_cluster(local_cluster):
    res = sweep(DIGITS, BuildOptions(topk=1), targets=[256], scheduler=local_cluster.scheduler_address,
                verify_frames=12)
    (p,) = res.points
    assert p.verify["passed"] and p.verify["mismatches"] == 0 and p.verify["frames"] == 12


def test_missing_model_is_one_line(tmp_path, capsys):
    one_error_line(capsys, ["sweep", str(tmp_path / "nope.yaml")],
                   rf"^bitsmith: error: {re.escape(str(tmp_path / 'nope.yaml'))}: no such file\n$")


# --------------------------------------------------------------------------- --verify

@pytest.mark.verilator
def test_verify_runs_each_pareto_design_in_verilator(capsys):
    assert main(["sweep", str(DIGITS), "--topk", "1", "--targets", "256", "--jobs", "1",
                 "--verify", "20", "--json"]) == 0
    (p,) = json.loads(capsys.readouterr().out)["points"]
    assert p["pareto"] and p["cycles"] == 256
    v = p["verify"]
    assert (v["frames"], v["mismatches"], v["protocol_errors"], v["passed"]) == (20, 0, 0, True)
    assert (v["cycles_per_frame"], v["mean_cycles_per_frame"], v["longest_frame_gap"]) == \
        (v["ideal_cycles_per_frame"],) * 3 == (256,) * 3
