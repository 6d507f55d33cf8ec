"""iCE40 and ECP5: Yosys + nextpnr + icepack/ecppack, all from YoWASP.

:class:`~boards.shell.board_top.BoardShell` (PLL, reset, UART shell) around the core is
prepared by the amaranth-boards platform (pin constraints) and synthesised once with the
core kept as a separate module (``keep_hierarchy``): the core's own cell counts are the
design's LUT/FF/BRAM/DSP figures (as out of context: nothing is optimised across its
ports) and the first fit check (a core that alone exceeds the device stops here). On
ECP5 the flip-flops after block RAM reads then move into the RAMs' output registers
(:mod:`.ecp5_outreg`), and those around multipliers into the MULT18X18Ds
(:mod:`.ecp5_dsp_regs`). The netlist is placed and routed by nextpnr (``--report`` gives
Fmax and utilisation) and packed into a bitstream.
"""

from __future__ import annotations

import json
import re

from bitsmith.generator.errors import CheckFailed

from ..bundle import CoreIO
from ..registry import Board
from ..shell.board_top import BoardShell
from ..tools import Steps, tail, yosys_stat
from .counts import over_capacity, resources, synth_command, utilisation_table
from .ecp5_dsp_regs import absorb_multiplier_registers
from .ecp5_outreg import absorb_output_registers
from .nextpnr_log import NextpnrLog

FOLD_HINT = ("hint: fold more (smaller PE/SIMD, e.g. `bitsmith build --target-cycles` with a "
             "larger target) or pick a bigger board")

_NO_FIT = re.compile(r"than available|no BELs remaining|Unable to place cell|"
                     r"failed to place|exceeds the number of|Unable to find legal placement")
#: nextpnr utilisation names -> synth.json keys
_BEL_KEYS = {"ice40": {"ICESTORM_LC": "luts", "ICESTORM_RAM": "brams", "ICESTORM_DSP": "dsps"},
             "ecp5": {"TRELLIS_COMB": "luts", "TRELLIS_FF": "ffs", "DP16KD": "brams",
                      "MULT18X18D": "dsps"}}
#: What nextpnr counts under each synth.json key of ``system``: an iCE40 logic cell
#: (ICESTORM_LC) is a LUT4, a flip-flop and a carry together, so ``luts`` there counts
#: logic cells, not LUTs; ECP5's TRELLIS_COMB is one LUT4 (or half a carry cell).
SYSTEM_UNITS = {"ice40": {"luts": "logic cells", "ffs": "FF", "brams": "EBR",
                          "dsps": "SB_MAC16"},
                "ecp5": {"luts": "LUT4", "ffs": "FF", "brams": "DP16KD", "dsps": "MULT18X18D"}}


#: nextpnr-ice40's analytic placer weighs timing 3x its default (10): on the iCEBreaker
#: builds of TFC-w1a1, TFC-w2a2 and the digits MLP the median of seeds 1-10 went from
#: 58.1 / 57.9 / 57.5 MHz to 59.4 / 60.6 / 59.0 (fifteenth session, docs/FIT.md); 20, 50
#: and 100 did worse than 30, a raised criticality exponent mixed.
ICE40_PLACER = ["--placer-heap-timingweight", "30"]


class DoesNotFit(CheckFailed):
    """The design needs more of a resource than the device has (exit 1)."""


def core_only(board: Board, core: CoreIO, steps: Steps) -> dict:
    """Out-of-context synthesis of the core; returns its LUT/FF/BRAM/DSP."""
    workdir = steps.workdir
    (workdir / "core.ys").write_text(
        f"read_verilog {core.verilog.name}\n{synth_command(board.family, core.top)}\n"
        f"tee -q -o core_stat.json stat -json\n")
    steps.run("core_synth", "yosys", ["core.ys"], log_name="core_synth.log",
              description=f"Yosys: core alone ({synth_command(board.family, core.top).split()[0]})")
    return resources(board.family, yosys_stat(workdir / "core_stat.json"))


def run(board: Board, core: CoreIO, steps: Steps, *, clock_mhz: float, baud: int,
        seeds: int = 1) -> dict:
    """Run the whole flow in ``steps.workdir``; returns the ``synth.json`` figures.

    ``seeds`` > 1 places and routes with nextpnr seeds 1..``seeds`` and keeps the one
    with the fastest core clock (``synth.json`` lists every seed's figure).
    """
    workdir = steps.workdir
    family = board.family
    (workdir / core.verilog.name).write_text(core.verilog_text())
    available = board.resources.as_dict()

    # One synthesis gives both figures: the core is kept as its own module (so nothing
    # is optimised across its ports, as out of context), counted, then flattened.
    shell = BoardShell(board, core, clock_mhz=clock_mhz, baud=baud)
    platform = board.platform_class()()
    plan = platform.prepare(
        shell, name="top",
        script_after_read=f"setattr -mod -set keep_hierarchy 1 {core.top}",
        script_after_synth="tee -q -o hier_stat.json stat -json\nflatten\n"
                           "tee -q -o top_stat.json stat -json")
    for name, content in plan.files.items():
        if name.endswith((".il", ".ys", ".pcf", ".lpf")):
            (workdir / name).write_text(content)
    steps.run("synth", "yosys", ["top.ys"], log_name="synth.log",
              description=f"Yosys: {synth_command(family, 'top').split()[0]} (shell + core)")
    core_figures = resources(family, yosys_stat(workdir / "hier_stat.json", module=core.top))
    if over_capacity(core_figures, available):
        raise DoesNotFit(f"the core does not fit {board.title} ({board.device}):\n"
                         + utilisation_table(core_figures, available, "core alone (Yosys):")
                         + f"\n{FOLD_HINT}")
    absorbed = multipliers = None
    if family == "ecp5":
        absorbed = absorb_output_registers(workdir / "top.json")
        steps.note(f"ECP5 block RAM output registers: {absorbed} read port(s) now use REGMODE=OUTREG")
        multipliers = absorb_multiplier_registers(workdir / "top.json")
        if multipliers:
            steps.note(f"ECP5 multiplier registers: {multipliers} MULT18X18D(s) now hold their "
                       f"operand and/or product registers")

    def pnr_args(seed: int, suffix: str) -> list[str]:
        args = ["--json", "top.json", "--report", f"report{suffix}.json", "--freq",
                f"{shell.clock_mhz_actual:g}", "--timing-allow-fail", "--seed", str(seed)]
        if family == "ice40":
            return args + ICE40_PLACER + [
                platform._nextpnr_device_options[platform.device], "--package",
                platform.package.lower(), "--pcf", "top.pcf", "--asc", f"top{suffix}.asc"]
        return args + [platform._nextpnr_device_options[platform.device], "--package",
                       platform._nextpnr_package_options[platform.package].upper(),
                       "--speed", platform.speed, "--lpf", "top.lpf",
                       "--textcfg", f"top{suffix}.config"]

    if family == "ice40":
        tool, pack_tool, placed = "nextpnr-ice40", "icepack", "asc"
        pack_args, bitstream = ["top.asc", "top.bin"], "top.bin"
    else:
        tool, pack_tool, placed = "nextpnr-ecp5", "ecppack", "config"
        pack_args, bitstream = ["--input", "top.config", "--bit", "top.bit"], "top.bit"

    # nextpnr's placement is seeded; with several seeds the fastest core clock is kept
    # (its report, log and placed design take the plain names), the others' logs stay
    by_seed = {}
    for seed in range(1, seeds + 1):
        suffix = "" if seeds == 1 else f"_seed{seed}"
        log = f"pnr{suffix}.log"
        follow = NextpnrLog(steps.note, "nextpnr" + (f" seed {seed}" if seeds > 1 else ""))
        done = steps.run(f"pnr{suffix}", tool, pnr_args(seed, suffix), log_name=log,
                         check=False, on_line=follow,
                         description=f"nextpnr: place and route on {board.device} at "
                                     f"{shell.clock_mhz_actual:g} MHz"
                                     + (f" (seed {seed} of {seeds})" if seeds > 1 else ""))
        follow.finish()
        pnr_log = (workdir / log).read_text(errors="replace")
        if done.returncode != 0:
            if _NO_FIT.search(pnr_log):
                synthesised = resources(family, yosys_stat(workdir / "top_stat.json"))
                used = _utilisation_from_log(family, pnr_log) or synthesised
                if family == "ice40":         # nextpnr counts iCE40 FFs inside logic cells
                    used["ffs"] = synthesised["ffs"]
                raise DoesNotFit(f"the design does not fit {board.title} ({board.device}):\n"
                                 + utilisation_table(used, available, "board design (nextpnr):")
                                 + f"\n{FOLD_HINT}\nlog: {workdir / log}")
            raise CheckFailed(f"{tool} failed; see {workdir / log}:\n{tail(workdir / log)}")
        by_seed[seed] = _fmax(json.loads((workdir / f"report{suffix}.json").read_text()))[0]
    best = max(by_seed, key=lambda k: by_seed[k] or 0.0)
    if seeds > 1:
        for name, ext in (("report", "json"), ("top", placed), ("pnr", "log")):
            (workdir / f"{name}_seed{best}.{ext}").replace(workdir / f"{name}.{ext}")
        for seed in by_seed:
            if seed != best:
                (workdir / f"report_seed{seed}.json").unlink()
                (workdir / f"top_seed{seed}.{placed}").unlink()

    report = json.loads((workdir / "report.json").read_text())
    steps.run("bitstream", pack_tool, pack_args, log_name="pack.log",
              description=f"{pack_tool}: bitstream")
    fmax, shell_fmax = _fmax(report)
    return {
        **core_figures,
        "fmax_mhz": fmax,
        "fits": True,
        "clock_mhz": shell.clock_mhz_actual,
        "timing_met": fmax is not None and fmax >= shell.clock_mhz_actual,
        "pll": None if shell.pll is None else {"primitive": "SB_PLL40_2_PAD" if family == "ice40"
                                               else "EHXPLLL", **shell.pll.params,
                                               "vco_mhz": round(shell.pll.f_vco_mhz, 3)},
        "uart": {"baud": baud, "clocks_per_bit": shell.clocks_per_bit,
                 "timeout_cycles": shell.timeout_cycles},
        "shell_clock": {"clock_mhz": shell.shell_mhz, "fmax_mhz": shell_fmax,
                        "timing_met": shell_fmax is not None and shell_fmax >= shell.shell_mhz},
        "system": _system(family, report, available,
                          resources(family, yosys_stat(workdir / "top_stat.json"))),
        "critical_path": _critical_path(report),
        # ECP5: block RAM read ports whose following flip-flops became the RAM's output
        # register (boards/flows/ecp5_outreg.py); the LUT/FF figures above are Yosys's,
        # counted before, so they include those flip-flops
        "bram_output_registers": absorbed,
        "multiplier_registers": multipliers,
        "nextpnr_seeds": {str(k): v for k, v in by_seed.items()},
        "seed": best,
        "bitstream": bitstream,
    }


def _fmax(report: dict) -> tuple[float | None, float | None]:
    """Achieved Fmax of the core's clock net (``core_clk``) and of the shell's (the
    oscillator's net, whatever the platform named it). With no PLL both domains share
    one net and both figures are that net's."""
    fmax = {net: v["achieved"] for net, v in report.get("fmax", {}).items() if "achieved" in v}
    if len(fmax) == 1:
        only = round(next(iter(fmax.values())), 2)
        return only, only
    core = [v for net, v in fmax.items() if "core_clk" in net]
    shell = [v for net, v in fmax.items() if "core_clk" not in net]
    return (round(min(core), 2) if core else None), (round(min(shell), 2) if shell else None)


def _system(family: str, report: dict, available: dict, synthesised: dict) -> dict:
    """Whole board design (shell + core) as placed: used/available per resource and its
    ``unit`` (nextpnr's counts, :data:`SYSTEM_UNITS`; iCE40 flip-flops, which nextpnr
    counts inside logic cells, from Yosys)."""
    out = {key: {"used": synthesised[key], "available": available[key]}
           for key in ("luts", "ffs", "brams", "dsps")}
    for bel, value in report.get("utilization", {}).items():
        key = _BEL_KEYS[family].get(bel)
        if key is not None:
            out[key] = {"used": value["used"], "available": value["available"]}
    for key, unit in SYSTEM_UNITS[family].items():
        out[key]["unit"] = unit
    return out


def _critical_path(report: dict) -> dict | None:
    """The worst path within the core's clock domain (paths between the two clocks go
    through the crossing FIFOs' synchronisers and are not timed against either)."""
    paths = [p for p in report.get("critical_paths") or [] if p.get("path")
             and "core_clk" in p.get("from", "") and "core_clk" in p.get("to", "")]
    if not paths:
        paths = [p for p in report.get("critical_paths") or [] if p.get("path")
                 and p.get("from") == p.get("to")]
    if not paths:
        return None
    steps = max(paths, key=lambda p: sum(s.get("delay", 0.0) for s in p["path"]))["path"]
    total = sum(s.get("delay", 0.0) for s in steps)
    return {"from": steps[0].get("from", {}).get("cell"), "to": steps[-1].get("to", {}).get("cell"),
            "delay_ns": round(total, 3), "logic_levels": sum(s.get("type") == "logic" for s in steps)}


def _utilisation_from_log(family: str, text: str) -> dict | None:
    """``Info:  ICESTORM_LC:  6000/  5280   113%`` lines -> used counts, if present."""
    used = {}
    for bel, key in _BEL_KEYS[family].items():
        match = re.search(rf"{bel}:\s+(\d+)/\s*(\d+)", text)
        if match:
            used[key] = int(match.group(1))
    if "luts" not in used:
        return None
    return {k: used.get(k, 0) for k in ("luts", "ffs", "brams", "dsps")}
