"""Xilinx flows: the Vivado project script (evaluated by tclsh against stub Vivado
commands), the PYNQ driver (imported and run against a stand-in DMA), Yosys figures."""

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.boards import get_board, synth
from bitsmith.boards.bundle import CoreIO, StreamIO
from bitsmith.boards.flows.vivado import render_pynq_driver
from fixture_core import SumMaxCore, sum_max_reference, write_bundle
from bitsmith.sim.packing import pack, unpack

TCLSH = shutil.which("tclsh")

STUB_VIVADO = r"""
set text [read [open [lindex $argv 0]]]
if {![info complete $text]} { puts stderr "incomplete Tcl"; exit 3 }
set ::calls {}
rename file _file
proc file {sub args} {
    if {$sub in {normalize dirname join tail}} { return [_file $sub {*}$args] }
    lappend ::calls "file $sub"
    return ""
}
proc glob {args} { return [list stub] }
proc get_property {name args} {
    lappend ::calls get_property
    if {$name eq "PROGRESS"} { return "100%" }
    return ""
}
proc unknown {name args} { lappend ::calls $name; return "" }
source [lindex $argv 0]
puts [join $::calls \n]
"""


@pytest.fixture(scope="module")
def xilinx_builds(tmp_path_factory):
    out = write_bundle(SumMaxCore(bits=4, elems=4, words=3), tmp_path_factory.mktemp("xil"))
    return out, {name: synth(out, name) for name in ("pynq_z2", "arty_a7_35")}


def vivado_calls(script: Path) -> list[str]:
    stub = script.parent / "stub_vivado.tcl"
    stub.write_text(STUB_VIVADO)
    done = subprocess.run([TCLSH, str(stub), str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")


def in_order(calls: list[str], expected: list[str]) -> bool:
    it = iter(calls)
    return all(any(call == want for call in it) for want in expected)


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
@pytest.mark.parametrize("board, expected", [
    ("pynq_z2", ["create_project", "add_files", "add_files", "create_bd_design", "create_bd_cell",
                 "create_bd_cell", "create_bd_cell", "connect_bd_intf_net", "connect_bd_intf_net",
                 "apply_bd_automation", "connect_bd_net", "connect_bd_net", "validate_bd_design",
                 "make_wrapper", "launch_runs", "wait_on_run", "launch_runs", "wait_on_run",
                 "open_run", "report_utilization", "report_timing_summary", "file copy",
                 "file copy"]),
    ("arty_a7_35", ["create_project", "add_files", "add_files", "add_files", "launch_runs",
                    "wait_on_run", "launch_runs", "wait_on_run", "open_run",
                    "report_utilization", "report_timing_summary", "file copy"]),
])
def test_vivado_script_runs_under_tclsh(xilinx_builds, board, expected):
    out, _ = xilinx_builds
    script = out / "board" / board / "project.tcl"
    calls = vivado_calls(script)
    assert in_order(calls, expected), calls
    assert "create_bd_design" not in calls if board == "arty_a7_35" else True
    text = script.read_text()
    assert re.search(rf"-part {re.escape(get_board(board).part)} ", text)
    for name in re.findall(r"add_files .*\[file join \$here (\S+)\]", text):
        assert (script.parent / name).is_file(), name


def test_arty_shell_constraints_use_the_board_pins(xilinx_builds):
    out, _ = xilinx_builds
    xdc = (out / "board" / "arty_a7_35" / "bitsmith_top.xdc").read_text()
    for pin in ("E3", "A9", "D10"):        # clock, UART rx, UART tx (amaranth-boards)
        assert re.search(rf"^set_property LOC {pin} ", xdc, re.M), xdc
    assert re.search(r"^module bitsmith_top\(",
                     (out / "board" / "arty_a7_35" / "bitsmith_top.v").read_text(), re.M)


def test_xilinx_synth_json(xilinx_builds):
    out, results = xilinx_builds
    for board, result in results.items():
        on_disk = json.loads((out / "board" / board / "synth.json").read_text())
        assert on_disk == result
        assert {"luts", "ffs", "brams", "dsps", "fmax_mhz", "device", "fits"} <= result.keys()
        assert result["ffs"] == 30      # 1+16 (stage 1) + 1+6+4 (stage 2) + 2 (word count)
        assert result["luts"] > 0 and result["brams"] == 0 and result["dsps"] == 0
        assert result["fmax_mhz"] is None and "Vivado" in result["note"]
        assert result["units"] == {"luts": "LUT6", "ffs": "FF", "brams": "RAMB36", "dsps": "DSP48E1"}
        assert result["bram_kbit"] == 36
        assert result["fits"] is True
    assert results["pynq_z2"]["dma_bits"] == {"mm2s": 16, "s2mm": 16}


def load_driver(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def side(dtype: str, shape, epw: int, words: int) -> StreamIO:
    bits = DataType[dtype].bitwidth() * epw
    return StreamIO(DataType[dtype], tuple(shape), epw, max(8, -(-bits // 8) * 8), words)


@pytest.mark.parametrize("inp, out", [
    (side("BIPOLAR", (1, 1, 64), 32, 2), side("UINT8", (1, 1, 10), 5, 2)),
    (side("INT3", (2, 2, 6), 6, 4), side("TERNARY", (1, 1, 9), 3, 3)),
    (side("UINT8", (1, 1, 784), 49, 16), side("INT18", (1, 1, 10), 1, 10)),
])
def test_pynq_driver_packs_like_sim_packing(tmp_path, inp, out):
    core = CoreIO("dut", tmp_path / "dut.v", inp, out)
    path = tmp_path / "driver.py"
    path.write_text(render_pynq_driver(get_board("pynq_z2"), core))
    driver = load_driver(path, f"driver_{inp.dtype.name}")
    rng = np.random.default_rng(1)
    for io, fn in ((inp, "in"), (out, "out")):
        dt = io.dtype
        lo, hi = (-1, 1) if dt.name == "BIPOLAR" else (int(dt.min()), int(dt.max()))
        x = rng.integers(lo, hi + 1, size=(3, *io.shape))
        if dt.name == "BIPOLAR":
            x = np.where(x >= 0, 1, -1)
        width = (driver.IN if fn == "in" else driver.OUT)["word_bytes"]
        words = pack(x.reshape(-1), dt, io.elems_per_word)
        expected = b"".join(w.to_bytes(width, "little") for w in words)
        sided = driver.IN if fn == "in" else driver.OUT
        assert driver.pack_frames(x, sided).tobytes() == expected
        back = driver.unpack_frames(np.frombuffer(expected, dtype=np.uint8), 3, sided)
        np.testing.assert_array_equal(back, x)


class FakeChannel:
    def __init__(self):
        self.buffers = []

    def transfer(self, buffer):
        self.buffers.append(buffer)

    def wait(self):
        pass


class FakeDMA:
    """Runs the fixture core on MM2S data and fills S2MM buffers frame by frame."""

    def __init__(self):
        self.sendchannel, self.recvchannel = FakeChannel(), FakeChannel()
        self.outputs = None
        self.recvchannel.wait = self._deliver

    def _deliver(self):
        if self.outputs is None:
            data = bytes(self.sendchannel.buffers[0])
            x = unpack([int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)],
                       DataType["UINT4"], 4).reshape(-1, 1, 1, 12)
            y = sum_max_reference(x, elems=4, words=3).reshape(-1)
            words = pack(y, DataType["UINT6"], 2)
            self.outputs = [b"".join(w.to_bytes(2, "little") for w in words[i:i + 3])
                            for i in range(0, len(words), 3)]
        buffer = self.recvchannel.buffers[len(self.recvchannel.buffers) - 1]
        buffer[:] = np.frombuffer(self.outputs.pop(0), dtype=np.uint8)


def test_pynq_driver_runs_frames_through_the_dma(xilinx_builds):
    out, _ = xilinx_builds
    driver = load_driver(out / "board" / "pynq_z2" / "driver.py", "driver_fixture")
    class Overlay:
        axi_dma_0 = FakeDMA()
    acc = driver.Accelerator(Overlay(), allocate=lambda shape, dtype: np.zeros(shape, dtype))
    x = np.random.default_rng(5).integers(0, 16, size=(4, 1, 1, 12))
    np.testing.assert_array_equal(acc.run(x), sum_max_reference(x, elems=4, words=3))
    assert len(Overlay.axi_dma_0.recvchannel.buffers) == 4
    with pytest.raises(ValueError, match=r"^input frames must have shape \(1, 1, 12\), "
                                         r"not \(12,\)$"):
        acc.run(x.reshape(4, 12))
