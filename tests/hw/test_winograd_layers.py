"""Lowered Winograd F(2x2, 3x3) conv layers (five stages, FIFOs sized by their schedule
model) vs the golden model of the direct conv, under idle/backpressure; steady-state
cycles per frame == the estimate (the folding bound)."""

from __future__ import annotations

import numpy as np
import pytest

from bitsmith.generator.estimate import node_cycles
from bitsmith.generator.ir.winograd import WinogradConv
from bitsmith.hw.compute.winograd_input import WinogradInput
from bitsmith.hw.compute.winograd_output import WinogradOutput
from bitsmith.generator.estimate.winograd import INPUT_LATENCY, OUTPUT_LATENCY
from qonnx.core.datatype import DataType
from tests.hw.test_conv_layers import conv, run_layer, steady_period
from tests.hw.util import PATTERNS

DT = DataType


def winograd(rng, in_shape, oc, pad=(1, 1, 1, 1), wdt="INT3", xdt="UINT3", pe=1, simd=1, thr=True):
    node = WinogradConv.from_conv(conv(rng, in_shape, oc, pad=pad, wdt=wdt, xdt=xdt, pe=pe, simd=simd, thr=thr))
    node.check()
    return node


LAYERS = [
    dict(in_shape=(6, 6, 2), oc=3, pad=(1, 1, 1, 1)),
    dict(in_shape=(5, 7, 4), oc=4, pad=(1, 1, 1, 1), pe=2, simd=2),          # odd H and W: crop
    dict(in_shape=(6, 5, 3), oc=2, pad=(0, 0, 0, 0), thr=False, wdt="INT4", xdt="INT4"),
    dict(in_shape=(4, 4, 2), oc=4, pad=(2, 1, 0, 2), pe=4, simd=2, xdt="UINT8"),
    dict(in_shape=(4, 6, 3), oc=2, pad=(1, 1, 1, 1), pe=2, simd=3, wdt="INT8", xdt="UINT8"),
]
MATRIX = [(i, b) for i in PATTERNS for b in PATTERNS]


def layer_id(kw):
    return "x".join(map(str, kw["in_shape"])) + f"-oc{kw['oc']}-pe{kw.get('pe', 1)}-simd{kw.get('simd', 1)}"


@pytest.mark.parametrize("idle,backpressure", MATRIX, ids=[f"{i}-{b}" for i, b in MATRIX])
@pytest.mark.parametrize("layer", LAYERS, ids=layer_id)
def test_winograd_layer_matches_golden(layer, idle, backpressure):
    rng = np.random.default_rng(len(str(layer)))
    run_layer(winograd(rng, **layer), frames=2, idle=idle, backpressure=backpressure, seed=3)


@pytest.mark.parametrize("layer", LAYERS, ids=layer_id)
def test_winograd_layer_cycles_equal_estimate(layer):
    rng = np.random.default_rng(len(str(layer)))
    node = winograd(rng, **layer)
    assert steady_period(node) == node_cycles(node)


def test_schedule_latencies_are_the_components():
    wgin = WinogradInput(channels=2, simd=1, in_dtype=DT["UINT3"], out_dtype=DT["INT6"])
    wgout = WinogradOutput(tiles=(1, 1), out_hw=(2, 2), channels=2, pe=1, in_dtype=DT["INT8"],
                           y_dtype=DT["INT10"], out_dtype=DT["INT8"])
    assert (wgin.latency, wgout.latency) == (INPUT_LATENCY, OUTPUT_LATENCY)
