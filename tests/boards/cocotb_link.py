"""cocotb side of the end-to-end link test: a pty stands in for the board's serial port.

The real ``bitsmith run`` CLI (a subprocess) opens the pty's slave end with pyserial;
this module moves its bytes bit by bit onto the shell's ``rx`` pin in Verilator and the
shell's ``tx`` bits back, optionally corrupting or dropping one byte. Cases come from
``$BITSMITH_LINK_CASES`` (JSON); results go to ``$BITSMITH_LINK_RESULTS``.
"""

import json
import os
import select
import subprocess
import termios
import time
import tty

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge


class PtyBridge:
    def __init__(self, dut, cpb: int):
        self.dut, self.cpb = dut, cpb
        self.master, slave = os.openpty()
        tty.setraw(slave, termios.TCSANOW)
        tty.setraw(self.master, termios.TCSANOW)
        self.slave_name = os.ttyname(slave)
        self.slave = slave                         # kept open so the pty never hangs up
        os.set_blocking(self.master, False)
        self.sent_to_dut = 0
        self.sent_to_host = 0
        self.fault = None                          # (direction, index, "flip"|"drop")

    def _fault(self, direction: str, index: int, byte: int):
        if self.fault and self.fault[0] == direction and self.fault[1] == index:
            return None if self.fault[2] == "drop" else byte ^ 0x04
        return byte

    async def host_to_dut(self):
        dut, cpb = self.dut, self.cpb
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.001)
            data = os.read(self.master, 4096) if ready else b""
            if not data:
                await ClockCycles(dut.clk, 32)
                continue
            for byte in data:
                byte = self._fault("to_device", self.sent_to_dut, byte)
                self.sent_to_dut += 1
                if byte is None:
                    continue
                for bit in [0] + [byte >> k & 1 for k in range(8)] + [1]:
                    dut.rx.value = bit
                    await ClockCycles(dut.clk, cpb)

    async def dut_to_host(self):
        dut, cpb = self.dut, self.cpb
        while True:
            await FallingEdge(dut.tx)
            await ClockCycles(dut.clk, cpb // 2)
            byte = 0
            for k in range(8):
                await ClockCycles(dut.clk, cpb)
                byte |= int(dut.tx.value) << k
            await ClockCycles(dut.clk, cpb)
            assert int(dut.tx.value) == 1, "shell sent a bad stop bit"
            byte = self._fault("to_host", self.sent_to_host, byte)
            self.sent_to_host += 1
            if byte is not None:
                os.write(self.master, bytes([byte]))


@cocotb.test()
async def link_cases(dut):
    cases = json.loads(os.environ["BITSMITH_LINK_CASES"])
    cpb = int(os.environ["BITSMITH_LINK_CPB"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 5)
    dut.rst.value = 0
    results = []
    for case in cases:
        bridge = PtyBridge(dut, cpb)
        bridge.fault = tuple(case["fault"]) if case.get("fault") else None
        tasks = [cocotb.start_soon(bridge.host_to_dut()), cocotb.start_soon(bridge.dut_to_host())]
        start = time.monotonic()
        proc = subprocess.Popen(
            [os.environ["BITSMITH_PYTHON"], "-m", "bitsmith.generator.cli", "run", case["out"],
             "--board", "icebreaker", "--port", bridge.slave_name, "--input", case["input"],
             "--output", case["output"], "--timeout", "30", "--retries", str(case["retries"])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=os.environ["BITSMITH_REPO"])
        while proc.poll() is None:
            await ClockCycles(dut.clk, 64)
        out, err = proc.communicate()
        for task in tasks:
            task.cancel()
        dut.rx.value = 1
        await ClockCycles(dut.clk, 20 * 10 * cpb)        # let the shell go idle
        os.close(bridge.master)
        os.close(bridge.slave)
        results.append({"name": case["name"], "rc": proc.returncode, "stderr": err,
                        "to_device": bridge.sent_to_dut, "to_host": bridge.sent_to_host,
                        "seconds": round(time.monotonic() - start, 2)})
    with open(os.environ["BITSMITH_LINK_RESULTS"], "w") as f:
        json.dump(results, f, indent=1)
