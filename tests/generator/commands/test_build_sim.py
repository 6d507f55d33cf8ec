"""`bitsmith build` writes the bundle; `bitsmith sim` runs it in both simulators."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bitsmith.generator.cli import main
from bitsmith.generator.examples.digits.train import load_split

MODEL = Path(__file__).resolve().parents[3] / "generator" / "examples" / "digits" / "digits.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "out"
    assert main(["build", str(MODEL), "-o", str(out), "--topk", "1"]) == 0
    return out


def test_bundle_contents(built):
    names = {str(p.relative_to(built)) for p in built.rglob("*") if p.is_file()}
    assert {"design.json", "report.json", "report.md", "rtl/digits_bnn.v"} <= names
    assert any(n.startswith("sim/") and n.endswith(".cpp") for n in names)
    design = json.loads((built / "design.json").read_text())
    assert design["format"] == "bitsmith-design/1"
    assert design["io"]["in"] == {"dtype": "BIPOLAR", "shape": [1, 1, 64], "elems_per_word": 32,
                                  "tdata_bits": 32, "words_per_frame": 2}
    assert design["io"]["out"]["words_per_frame"] == 1
    report = json.loads((built / "report.json").read_text())
    assert [(l["name"], l.get("pe"), l.get("simd"), l["cycles"]) for l in report["layers"]] == [
        ("fc0", 16, 32, (128 // 16) * (64 // 32)), ("fc1", 16, 64, (128 // 16) * (128 // 64)),
        ("fc2", 5, 64, (10 // 5) * (128 // 64)),
        # PE=1 would be a running maximum at 2 cycles per value (20 > 16): PE=2, 10/2
        ("topk", 2, None, 10 // 2)]
    verilog = (built / "rtl" / "digits_bnn.v").read_text()
    header = verilog[verilog.index("module digits_bnn("):].split(";")[0]
    for port in ("clk", "rst", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "m_axis_tdata",
                 "m_axis_tvalid", "m_axis_tready", "m_axis_tlast"):
        assert port in header


def test_rebuilding_from_design_json_gives_the_same_verilog(built, tmp_path):
    from bitsmith.generator.build import read_bundle, write_bundle
    graph, _ = read_bundle(built)
    again = write_bundle(graph, tmp_path / "again")
    assert (again.out_dir / "rtl" / "digits_bnn.v").read_text() == (built / "rtl" / "digits_bnn.v").read_text()


@pytest.mark.verilator
@pytest.mark.parametrize("simulator", ["verilator", "amaranth"])
def test_sim_equals_golden(built, tmp_path, simulator, capsys):
    _, x, _, _ = load_split()
    x = x[:40]
    np.save(tmp_path / "x.npy", x)
    assert main(["golden", str(MODEL), "--topk", "1", "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "g.npy")]) == 0
    args = ["sim", str(built), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
            "--simulator", simulator]
    if simulator == "verilator":
        args += ["--waves", str(tmp_path / "w.vcd")]
    assert main(args) == 0
    assert np.array_equal(np.load(tmp_path / "y.npy"), np.load(tmp_path / "g.npy"))
    if simulator == "verilator":
        assert (tmp_path / "w.vcd").read_text().startswith("$")


def vcd_vars(path: Path) -> list[str]:
    return [line.split()[4] for line in path.read_text().splitlines() if line.lstrip().startswith("$var")]


def vcd_times(path: Path) -> list[int]:
    return [int(line[1:]) for line in path.read_text().splitlines() if line.startswith("#")]


@pytest.mark.verilator
@pytest.mark.parametrize("simulator", ["verilator", "amaranth"])
def test_waves_named_all_and_a_frame_window(built, tmp_path, simulator):
    _, x, _, _ = load_split()
    np.save(tmp_path / "x.npy", x[:6])
    base = ["sim", str(built), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
            "--simulator", simulator, "--waves"]
    assert main([*base, str(tmp_path / "named.vcd")]) == 0
    assert main([*base, str(tmp_path / "all.vcd"), "--waves-all"]) == 0
    assert main([*base, str(tmp_path / "part.vcd"), "--waves-frames", "2:4"]) == 0
    named, every = vcd_vars(tmp_path / "named.vcd"), vcd_vars(tmp_path / "all.vcd")
    assert any(n.startswith("$") for n in every)
    assert sorted(named) == sorted(n for n in every if not n.startswith("$"))
    assert "m_axis_tlast" in named and "s_axis_tdata" in named
    whole, part = vcd_times(tmp_path / "named.vcd"), vcd_times(tmp_path / "part.vcd")
    assert whole[0] == 0 and whole[0] < part[0] < part[-1] < whole[-1]
    assert (tmp_path / "part.vcd").stat().st_size < (tmp_path / "named.vcd").stat().st_size
    assert not list(tmp_path.glob(".*"))                    # no raw VCD left behind


@pytest.mark.parametrize("argv, message", [
    (["--waves-frames", "2:4"], "--waves-all and --waves-frames go with --waves FILE.vcd"),
    (["--waves", "w.vcd", "--waves-frames", "3"],
     "--waves-frames must be A:B (frames A..B-1) or A: (from A on), not '3'"),
    (["--waves", "w.vcd", "--waves-frames", "4:4"], "--waves-frames 4:4: B must be above A"),
    (["--waves", "w.vcd", "--waves-frames", "1:9"], "--waves-frames 1:9: the input has 3 frames"),
])
def test_bad_waves_options_are_one_line(built, tmp_path, capsys, argv, message):
    np.save(tmp_path / "x.npy", load_split()[1][:3])
    code = main(["--quiet", "sim", str(built), "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy"), *argv])
    assert code == 2
    assert capsys.readouterr().err == f"bitsmith: error: {message}\n"


def test_sim_on_a_folder_that_is_not_a_build(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((1, 64)))
    code = main(["sim", str(tmp_path), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
    assert code == 2
    assert capsys.readouterr().err.strip().endswith("not a bitsmith build (no design.json)")


def test_build_refuses_to_overwrite_a_folder_that_is_not_a_build(tmp_path, capsys):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("years of work")
    code = main(["build", str(MODEL), "-o", str(tmp_path / "precious")])
    assert code == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "precious" / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"]
