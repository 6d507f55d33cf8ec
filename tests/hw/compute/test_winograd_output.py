"""WinogradOutput: A^T M A >> 2 per tile, raster order, crop; cycles; refusals."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bitsmith.generator.ir.winograd import OUTPUT_TRANSFORM
from bitsmith.hw.compute.winograd_output import OUTPUT_TERMS, WinogradOutput
from bitsmith.sim.packing import pack, unpack
from tests.hw.compute.test_mvau import random_values
from tests.hw.util import PATTERNS, assert_rejects, run_stream

DT = DataType


def test_output_terms_are_the_ir_transform():
    assert np.array_equal(np.array(OUTPUT_TERMS), OUTPUT_TRANSFORM)


def reference(m, tiles, out_hw, channels):
    """``m`` (frames, TH, TW, 16, C) -> (frames, OH, OW, C): floor(A^T M A / 4), cropped."""
    y = np.einsum("qt,fhwtc->fhwqc", OUTPUT_TRANSFORM, m) >> 2
    f, th, tw = m.shape[:3]
    y = y.reshape(f, th, tw, 2, 2, channels).transpose(0, 1, 3, 2, 4, 5).reshape(f, 2 * th, 2 * tw, channels)
    return y[:, :out_hw[0], :out_hw[1]]


def check(tiles, out_hw, channels, pe, frames=2, idle="none", backpressure="none", seed=0):
    rng = np.random.default_rng(seed)
    mdt, ydt, odt = DT["INT8"], DT["INT12"], DT["INT10"]
    m = random_values(rng, mdt, (frames, *tiles, 16, channels))
    m[0, 0, 0] = rng.choice([-128, 127], size=(16, channels))
    dut = WinogradOutput(tiles=tiles, out_hw=out_hw, channels=channels, pe=pe, in_dtype=mdt,
                         y_dtype=ydt, out_dtype=odt)
    expected = reference(m, tiles, out_hw, channels)
    src, cap = run_stream(dut, pack(m.reshape(-1, channels), mdt, pe), expected.size // pe,
                          idle=idle, backpressure=backpressure, seed=seed)
    got = unpack(cap.words, odt, pe).reshape(expected.shape)
    for f, y, x, c in zip(*np.nonzero(got != expected)):
        pytest.fail(f"frame {f} output ({y}, {x}) channel {c}: expected {expected[f, y, x, c]}, "
                    f"got {got[f, y, x, c]}")
    return dut, src, cap


SHAPES = [((2, 3), (4, 6), 4, 2), ((2, 2), (3, 3), 2, 1), ((3, 1), (5, 2), 3, 3), ((1, 2), (2, 3), 4, 4),
          ((1, 1), (1, 1), 2, 2),
          ((2, 3), (3, 5), 6, 2),     # 3 channel groups, both crops
          ((2, 4), (4, 8), 8, 2)]     # re-order memories of 32 words: block RAM, registered before the choice
MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


def shape_id(s):
    return "t{}x{}-o{}x{}-c{}-pe{}".format(*s[0], *s[1], s[2], s[3])


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_winograd_output_matches_numpy(shape, idle, backpressure):
    check(*shape, idle=idle, backpressure=backpressure,
          seed=zlib.crc32(f"{shape}{idle}{backpressure}".encode()) % 1000)


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_winograd_output_never_stalls_its_input(shape):
    """Always valid, always ready: one M word per cycle, no stall across tile rows and
    frames; a tile row's first output :attr:`latency` cycles after its last input."""
    tiles, out_hw, channels, pe = shape
    dut, src, cap = check(*shape, frames=3)
    assert src == list(range(len(src)))
    row_in = tiles[1] * 16 * channels // pe                 # input words per tile row
    row_words = out_hw[1] * channels // pe                  # output words per output row
    starts, k = [], 0
    for r in range(3 * tiles[0]):
        starts.append(k)
        last = r % tiles[0] == tiles[0] - 1
        k += row_words * (1 if last and out_hw[0] % 2 else 2)
    assert k == len(cap.cycles)
    assert [cap.cycles[k] for k in starts] == [(r + 1) * row_in - 1 + dut.latency for r in range(len(starts))]


def make(**changes):
    kw = dict(tiles=(2, 2), out_hw=(4, 4), channels=4, pe=2, in_dtype=DT["INT8"], y_dtype=DT["INT12"],
              out_dtype=DT["INT10"])
    kw.update(changes)
    return WinogradOutput(**kw)


@pytest.mark.parametrize("changes,error,message", [
    (dict(out_hw=(2, 4)), ValueError, "out_hw must be covered by the tiles (2, 2) with at most one row "
                                      "and column to crop, not (2, 4)"),
    (dict(pe=3), ValueError, "pe must divide channels=4, not 3"),
    (dict(in_dtype=DT["UINT8"]), ValueError, "in_dtype must be a signed integer type, not UINT8"),
    (dict(y_dtype=DT["UINT12"]), ValueError, "y_dtype must be a signed integer type, not UINT12"),
    (dict(out_dtype=DT["UINT8"]), ValueError, "out_dtype must hold y_dtype >> 2 (9 bits), not UINT8"),
    (dict(out_dtype=DT["INT9"]), ValueError, "out_dtype must hold y_dtype >> 2 (10 bits), not INT9"),
    (dict(tiles=(2,)), TypeError, "tiles must be (TH, TW), not (2,)"),
])
def test_winograd_output_rejects(changes, error, message):
    assert_rejects(lambda: make(**changes), error, message)
