"""Progress on stderr (generator/commands/_progress.py): rich on a terminal, a line per
finished step otherwise, nothing with --quiet; the error line stays alone."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bitsmith.generator.cli import main
from bitsmith.generator.commands._progress import Progress, choose_mode

MODEL = Path(__file__).resolve().parents[3] / "generator" / "examples" / "digits" / "digits.yaml"
LINE = r"\[ *\d+\.\d s\] "


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("quiet, stream, mode", [(True, Terminal(), "quiet"), (False, Terminal(), "rich"),
                                                 (False, io.StringIO(), "plain")])
def test_mode_follows_quiet_and_the_terminal(quiet, stream, mode):
    assert choose_mode(quiet, stream) == mode


def test_plain_writes_each_step_when_it_ends():
    out = io.StringIO()
    with Progress("plain", stream=out) as step:
        step("reading")
        assert out.getvalue() == ""                       # still running
        step("emitting Verilog")
        assert re.fullmatch(rf"{LINE}reading \(\d+\.\d s\)\n", out.getvalue())
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and re.fullmatch(rf"{LINE}emitting Verilog \(\d+\.\d s\)", lines[1])


def test_plain_counts_items():
    out = io.StringIO()
    with Progress("plain", total=3, unit="networks", stream=out) as step:
        step("digits")
        step.advance()
        step("tfc")
    assert re.fullmatch(rf"{LINE}digits \(\d+\.\d s\) \[1/3 networks\]", out.getvalue().splitlines()[0])


def test_the_failing_step_is_not_written():
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        with Progress("plain", stream=out) as step:
            step("reading")
            step("lowering")
            raise RuntimeError("boom")
    assert [line.split("] ")[1] for line in out.getvalue().splitlines()] == ["reading (0.0 s)"]


def test_quiet_writes_nothing_and_rich_leaves_nothing_behind():
    for mode, stream in (("quiet", io.StringIO()), ("rich", Terminal())):
        with Progress(mode, total=2, stream=stream) as step:
            step("a")
            step.advance()
            step("b")
        assert mode == "rich" or stream.getvalue() == ""


@pytest.mark.parametrize("mode, total, message", [
    ("loud", None, "mode must be one of rich, plain, quiet, not 'loud'"),
    ("plain", -1, "total must be a non-negative integer or None, not -1"),
])
def test_bad_arguments(mode, total, message):
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        Progress(mode, total=total)


def test_build_logs_its_steps_unless_quiet(tmp_path, capsys):
    assert main(["build", str(MODEL), "-o", str(tmp_path / "a"), "--topk", "1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [re.sub(rf"^{LINE}| \(\d+\.\d s\)$", "", line) for line in err] == [
        "reading digits.yaml", "lowering to hardware", "emitting Verilog", "writing the report",
        "writing the simulation bundle"]
    assert main(["--quiet", "build", str(MODEL), "-o", str(tmp_path / "b"), "--topk", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "report: " in captured.out


def test_a_bad_model_still_gives_one_line(tmp_path, capsys):
    bad = tmp_path / "m.yaml"
    bad.write_text("name: m\ninput: {shape: [8], dtype: BIPOLAR}\nlayers:\n  - {name: x, op: nope}\n")
    assert main(["build", str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bitsmith: error: ")


def test_sweep_and_bench_plots(tmp_path, capsys):
    assert main(["-q", "sweep", str(MODEL), "--topk", "1", "--jobs", "1", "--board", "icebreaker",
                 "--plot", str(tmp_path / "front.png")]) == 0
    assert (tmp_path / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "est. LUT4" in capsys.readouterr().out
    assert main(["-q", "sweep", str(MODEL), "--plot", str(tmp_path / "front.svg")]) == 2
    assert capsys.readouterr().err == "bitsmith: error: --plot must name a .png file, not " \
                                      f"'{tmp_path / 'front.svg'}'\n"
    assert main(["-q", "bench", "--plot", str(tmp_path / "nowhere" / "b.png")]) == 2
    assert capsys.readouterr().err == f"bitsmith: error: --plot {tmp_path / 'nowhere' / 'b.png'}: " \
                                      f"folder '{tmp_path / 'nowhere'}' does not exist\n"
