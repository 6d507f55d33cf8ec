"""Word packing against a bit-by-bit reference (DESIGN.md §3: element i at bits [i*w, (i+1)*w))."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.sim.packing import decode, encode, pack, tdata_bits, unpack


def reference_word(values, dt):
    word = 0
    for i, v in enumerate(values):
        code = (v + 1) // 2 if dt.name == "BIPOLAR" else v & ((1 << dt.bitwidth()) - 1)
        word |= int(code) << (i * dt.bitwidth())
    return word


@pytest.mark.parametrize("name,n", [("BIPOLAR", 64), ("BIPOLAR", 3), ("INT4", 5), ("UINT8", 49),
                                    ("TERNARY", 3), ("INT32", 3), ("BINARY", 130), ("INT2", 1)])
def test_pack_matches_reference_and_round_trips(name, n):
    dt = DataType[name]
    rng = np.random.default_rng(n)
    v = rng.choice([-1, 1], n * 7) if name == "BIPOLAR" else rng.integers(dt.min(), dt.max() + 1, n * 7)
    words = pack(v, dt, n)
    assert words == [reference_word(g.tolist(), dt) for g in v.reshape(-1, n)]
    assert np.array_equal(unpack(words, dt, n), v)


def test_encode_rejects_values_outside_the_type():
    with pytest.raises(ValueError, match=r"^value 8 is outside INT4$"):
        encode(np.array([1, 8]), DataType["INT4"])
    assert decode(np.array([0, 1]), DataType["BIPOLAR"]).tolist() == [-1, 1]


def test_tdata_is_padded_to_bytes():
    assert [tdata_bits(b) for b in (1, 8, 9, 392)] == [8, 8, 16, 392]
