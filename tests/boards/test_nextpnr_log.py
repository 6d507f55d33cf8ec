"""Following nextpnr's log: phases and timing estimates as it runs (boards/flows/nextpnr_log.py)."""

from __future__ import annotations

import sys

from bitsmith.boards.flows.nextpnr_log import NextpnrLog
from bitsmith.boards.tools import Steps

# Lines of a real nextpnr-ice40 0.11 run (the iCEBreaker shell around a small core), cut.
ICE40_LOG = """\
Info: Packing constants..
Info: Packing IOs..
Info: Packing LUT-FFs..
Info: Device utilisation:
Info: 	         ICESTORM_LC:     811/   5280    15%
Info: Placed 7 cells based on constraints.
Info: Creating initial analytic placement for 741 cells, random placement wirelen = 20076.
Info:     at initial placer iter 0, wirelen = 168
Info: Running main analytical placer, max placement attempts per cell = 83640.
Info:     at iteration #1, type ALL: wirelen solved = 145, spread = 2435, legal = 3218; time = 0.03s
Info: HeAP Placer Time: 0.36s
Info: Running simulated annealing placer for refinement.
Info:   at iteration #1: temp = 0.000000, timing cost = 412, wirelen = 2737
Info: SA placement time 0.61s

Info: Max frequency for clock 'core_clk': 41.47 MHz (PASS at 30.02 MHz)
Info: Max frequency for clock      'clk': 51.33 MHz (PASS at 12.00 MHz)

Info: Max delay <async>          -> posedge clk     : 2.59 ns
Info: Routing..
Info: Setting up routing queue.
Info:       1000 |       86        898 |   86   898 |      1466|       0.22       0.22|
Info: Routing complete.
Info: Critical path report for clock 'core_clk' (posedge -> posedge):
Info: Max frequency for clock 'core_clk': 38.31 MHz (PASS at 30.02 MHz)
Info: Max frequency for clock      'clk': 46.07 MHz (PASS at 12.00 MHz)
"""

ICE40_MESSAGES = [
    "nextpnr: packing",
    "nextpnr: placing (analytic placer)",
    "nextpnr: placing (annealing refinement)",
    "nextpnr: estimate after placement: core_clk 41.5 MHz (goal 30.0), clk 51.3 MHz (goal 12.0)",
    "nextpnr: routing (last estimate core_clk 41.5 MHz (goal 30.0), clk 51.3 MHz (goal 12.0))",
    "nextpnr: estimate after routing: core_clk 38.3 MHz (goal 30.0), clk 46.1 MHz (goal 12.0)",
]


def follow(text: str, label: str = "nextpnr") -> list[str]:
    messages: list[str] = []
    log = NextpnrLog(messages.append, label)
    for line in text.splitlines():
        log(line)
    log.finish()
    return messages


def test_ice40_phases_and_estimates():
    assert follow(ICE40_LOG) == ICE40_MESSAGES


def test_ecp5_global_net_names_lose_their_prefix_and_the_core_clock_comes_first():
    text = ("Info: Running main analytical placer, max placement attempts per cell = 129540.\n"
            "Info: Max frequency for clock '$glbnet$clk_buf.buf.i': 179.76 MHz (PASS at 25.00 MHz)\n"
            "Info: Max frequency for clock      '$glbnet$core_clk': 160.54 MHz (FAIL at 200.00 MHz)\n"
            "Info: Running router2...\n")
    assert follow(text, "nextpnr seed 2") == [
        "nextpnr seed 2: placing (analytic placer)",
        "nextpnr seed 2: estimate after placement: core_clk 160.5 MHz (goal 200.0), "
        "clk_buf.buf.i 179.8 MHz (goal 25.0)",
        "nextpnr seed 2: routing (last estimate core_clk 160.5 MHz (goal 200.0), "
        "clk_buf.buf.i 179.8 MHz (goal 25.0))",
    ]


def test_repeated_phase_lines_give_one_message():
    assert follow("Info: Packing constants..\nInfo: Packing IOs..\nInfo: Packing RAMs..\n") == [
        "nextpnr: packing"]


def test_steps_run_streams_lines_to_the_log_and_the_follower(tmp_path, monkeypatch):
    script = tmp_path / "fake_nextpnr.py"
    script.write_text("import sys\nprint('Info: Packing constants..', flush=True)\n"
                      "print('Info: Routing..', file=sys.stderr, flush=True)\nsys.exit(3)\n")
    monkeypatch.setenv("NEXTPNR_ICE40", str(tmp_path / "fake"))
    (tmp_path / "fake").write_text(f"#!{sys.executable}\nexec(open({str(script)!r}).read())\n")
    (tmp_path / "fake").chmod(0o755)
    notes, lines = [], []
    steps = Steps(tmp_path, notes.append)
    done = steps.run("pnr", "nextpnr-ice40", [], log_name="pnr.log", description="nextpnr: go",
                     check=False, on_line=lines.append)
    assert done.returncode == 3
    assert lines == ["Info: Packing constants..", "Info: Routing.."]
    assert (tmp_path / "pnr.log").read_text() == "Info: Packing constants..\nInfo: Routing..\n"
    assert notes == ["nextpnr: go"]


def test_a_failed_tool_names_its_first_error_line_not_its_last(tmp_path, monkeypatch):
    # Yosys prints the error in the middle of its module list (an SPRAM cell on an ECP5):
    # the last line ("Used module: ...") said nothing
    import pytest

    from bitsmith.generator.errors import ToolError
    script = tmp_path / "fake_yosys.py"
    script.write_text("print('Used module: \\\\top.shell')\n"
                      "print(\"ERROR: Module `\\\\SB_SPRAM256KA' referenced in module `\\\\w' is not part of the design.\")\n"
                      "print('ERROR: a second one')\nprint('Used module: \\\\top.clk_buf')\nraise SystemExit(1)\n")
    monkeypatch.setenv("NEXTPNR_ICE40", str(tmp_path / "fake"))
    (tmp_path / "fake").write_text(f"#!{sys.executable}\nexec(open({str(script)!r}).read())\n")
    (tmp_path / "fake").chmod(0o755)
    with pytest.raises(ToolError, match=r"^nextpnr-ice40 failed \(synth\); see .*synth\.log \(ERROR: Module "
                                        r"`\\SB_SPRAM256KA' referenced in module `\\w' is not part of the design\.\)$"):
        Steps(tmp_path, None).run("synth", "nextpnr-ice40", [], log_name="synth.log", description="go")
    (tmp_path / "quiet.log").write_text("a\nthe end\n")
    from bitsmith.boards.tools import first_error
    assert first_error(tmp_path / "quiet.log") is None
