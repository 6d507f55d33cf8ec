"""Per-flow synthesis back ends: ``open_fpga`` (iCE40/ECP5), ``vivado`` (7-series, Zynq),
``asic`` (generic Yosys)."""
