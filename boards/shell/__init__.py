"""The UART shell that puts a bitsmith core on a board with a serial port.

``UARTReceiver``/``UARTTransmitter`` move bytes, ``RequestReceiver`` parses and checks
request frames into the ``InputFrame`` buffer, ``ResponseSender`` answers them and packs
the core's output words, ``Bridge`` joins them around the core's AXI4-Stream ports and
``BoardShell``/``SimShell`` instantiate the core's Verilog. The protocol is in
:mod:`bitsmith.boards.protocol`.
"""

from .uart_rx import UARTReceiver
from .uart_tx import UARTTransmitter
from .receiver import RequestReceiver
from .input_frame import InputFrame
from .sender import ResponseSender
from .bridge import Bridge
from .core import CoreInstance, CoreIO

__all__ = ["UARTReceiver", "UARTTransmitter", "RequestReceiver", "InputFrame",
           "ResponseSender", "Bridge", "CoreInstance", "CoreIO"]
