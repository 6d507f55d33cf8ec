"""Reading the build bundle's io section: the only thing boards take from a build."""

import json

import pytest

from bitsmith.boards.bundle import read_core_io
from bitsmith.generator.errors import ModelError, OptionError

IO = {"top": "core", "verilog": "rtl/core.v",
      "in": {"dtype": "BIPOLAR", "shape": [1, 1, 64], "elems_per_word": 32, "tdata_bits": 32,
             "words_per_frame": 2},
      "out": {"dtype": "UINT8", "shape": [1, 1, 10], "elems_per_word": 5, "tdata_bits": 40,
              "words_per_frame": 2}}


def bundle(tmp_path, io):
    (tmp_path / "rtl").mkdir(exist_ok=True)
    (tmp_path / "rtl" / "core.v").write_text("module core; endmodule\n")
    (tmp_path / "design.json").write_text(json.dumps({"io": io}))
    return tmp_path


def test_reads_the_io_section(tmp_path):
    core = read_core_io(bundle(tmp_path, IO))
    assert (core.top, core.verilog.name) == ("core", "core.v")
    assert (core.inp.frame_bytes, core.out.frame_bytes) == (8, 10)
    assert core.inp.dtype.name == "BIPOLAR" and core.out.shape == (1, 1, 10)


def test_not_a_build(tmp_path):
    with pytest.raises(OptionError, match=rf"^{tmp_path}: not a build output \(no design\.json\)$"):
        read_core_io(tmp_path)


@pytest.mark.parametrize("change, message", [
    ({"out": {**IO["out"], "tdata_bits": 36}}, r"io\.out\.tdata_bits must be a multiple of 8, "
                                               r"not 36$"),
    ({"in": {**IO["in"], "words_per_frame": 3}}, r"io\.in: shape \[1, 1, 64\] is not 3 words "
                                                 r"of 32 elements$"),
    ({"in": {**IO["in"], "dtype": "INT99X"}}, r"io\.in\.dtype 'INT99X' is not a qonnx integer datatype$"),
    ({"out": {**IO["out"], "elems_per_word": 6}}, r"io\.out: 6 x UINT8 do not fit 40 tdata bits$"),
    ({"verilog": "rtl/missing.v"}, r"io\.verilog 'rtl/missing\.v' does not exist$"),
])
def test_bad_io_is_named(tmp_path, change, message):
    with pytest.raises(ModelError, match=message):
        read_core_io(bundle(tmp_path, {**IO, **change}))
