"""Xilinx boards: a Vivado project script (and for PYNQ-Z2 a block design and a PYNQ
driver) rendered from templates, with resource figures from Yosys ``synth_xilinx``.

No bitstream is produced here (Vivado is not open); the figures are Yosys's and Vivado's
own synthesis will differ (different LUT packing, carry and BRAM inference, retiming).
"""

from __future__ import annotations


from jinja2 import Environment, PackageLoader, StrictUndefined

from ..bundle import CoreIO
from ..registry import Board
from ..shell.axis_wrapper import dma_width, emit_axis_wrapper
from ..shell.board_top import BoardShell
from ..tools import Steps
from .counts import over_capacity, utilisation_table
from .open_fpga import FOLD_HINT, DoesNotFit, core_only

NOTE = ("LUT/FF/BRAM/DSP from Yosys synth_xilinx -family xc7 (core alone); Vivado's "
        "synthesis will report different figures. fmax needs Vivado: run the project script.")

_env = Environment(loader=PackageLoader("bitsmith.templates", "boards"), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(template: str, **context) -> str:
    return _env.get_template(template).render(**context)


def _python_literal(shape) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def render_pynq_driver(board: Board, core: CoreIO, context: dict | None = None) -> str:
    """The PYNQ driver module for ``core`` (stand-alone: numpy and pynq only)."""
    context = dict(context or {})
    context.setdefault("core_top", core.top)
    context.setdefault("bitfile", "bitsmith.bit")
    context.setdefault("hwhfile", "bitsmith.hwh")
    context.setdefault("dma_in_bits", dma_width(core.inp.tdata_bits))
    context.setdefault("dma_out_bits", dma_width(core.out.tdata_bits))
    sides = {}
    for prefix, side in (("in", core.inp), ("out", core.out)):
        bipolar = side.dtype.name == "BIPOLAR"
        sides.update({f"{prefix}_dtype": side.dtype.name, f"{prefix}_bits": side.dtype.bitwidth(),
                      f"{prefix}_signed": side.dtype.signed() and not bipolar,
                      f"{prefix}_bipolar": bipolar, f"{prefix}_shape": _python_literal(side.shape),
                      f"{prefix}_epw": side.elems_per_word,
                      f"{prefix}_words": side.words_per_frame})
    return render("pynq_driver.py.j2", **context, **sides, board_title=board.title)


def run(board: Board, core: CoreIO, steps: Steps, *, clock_mhz: float, baud: int) -> dict:
    workdir = steps.workdir
    (workdir / core.verilog.name).write_text(core.verilog_text())
    figures = core_only(board, core, steps)
    available = board.resources.as_dict()

    steps.note("rendering the Vivado project")
    context = {"board": board, "core_top": core.top, "core_verilog": core.verilog.name,
               "script_name": "project.tcl", "project": "bitsmith", "jobs": 4,
               "bitfile": "bitsmith.bit", "hwhfile": "bitsmith.hwh"}
    extra = {}
    if board.family == "zynq7":
        wrapper_v, wrapper = emit_axis_wrapper(core)
        (workdir / "bitsmith_axis.v").write_text(wrapper_v)
        context.update(block_design=True, verilog_files=[core.verilog.name, "bitsmith_axis.v"],
                       xdc_file=None, wrapper_top="bitsmith_axis",
                       board_part_glob="*pynq-z2*", clock_mhz=f"{clock_mhz:g}",
                       dma_in_bits=wrapper.in_bits, dma_out_bits=wrapper.out_bits)
        (workdir / "driver.py").write_text(render_pynq_driver(board, core, context))
        extra = {"driver": "driver.py", "dma_bits": {"mm2s": wrapper.in_bits,
                                                     "s2mm": wrapper.out_bits}}
        clock_actual = clock_mhz
    else:
        shell = BoardShell(board, core, clock_mhz=clock_mhz, baud=baud)
        platform = board.platform_class()(toolchain="Vivado")
        plan = platform.prepare(shell, name="bitsmith_top")
        (workdir / "bitsmith_top.v").write_text(plan.files["bitsmith_top.v"])
        (workdir / "bitsmith_top.xdc").write_text(plan.files["bitsmith_top.xdc"])
        context.update(block_design=False, verilog_files=[core.verilog.name, "bitsmith_top.v"],
                       xdc_file="bitsmith_top.xdc", shell_top="bitsmith_top")
        clock_actual = shell.clock_mhz_actual
        extra = {"uart": {"baud": baud, "clocks_per_bit": shell.clocks_per_bit,
                          "timeout_cycles": shell.timeout_cycles},
                 "pll": None if shell.pll is None else {"primitive": "MMCME2_BASE",
                                                        **shell.pll.params}}
    (workdir / "project.tcl").write_text(render("vivado_project.tcl.j2", **context))

    fits = not over_capacity(figures, available)
    if not fits:
        raise DoesNotFit(f"the core does not fit {board.title} ({board.part}) by Yosys's "
                         f"estimate:\n" + utilisation_table(figures, available,
                                                           "core alone (Yosys synth_xilinx):")
                         + f"\n{FOLD_HINT}")
    return {**figures, "fmax_mhz": None, "fits": True, "clock_mhz": clock_actual,
            "project": "project.tcl", "bitstream": None, "note": NOTE, **extra}
