"""Lowering of :class:`~bitsmith.generator.ir.winograd.WinogradConv`: five stages.

``<name>_swu`` the :class:`~hw.compute.sliding_window.SlidingWindow` walking 4x4 patches
at stride 2 over the tile padding, ``<name>_wgin`` the input transform
(:class:`~hw.compute.winograd_input.WinogradInput`), ``<name>`` the products
(:class:`~hw.compute.winograd_mvau.WinogradMVAU`), ``<name>_wgout`` the output transform,
rescale and re-order (:class:`~hw.compute.winograd_output.WinogradOutput`), then, with
thresholds, ``<name>_thr`` the stand-alone threshold unit.
"""

from __future__ import annotations

from bitsmith.hw.compute.winograd_input import WinogradInput
from bitsmith.hw.compute.winograd_mvau import WinogradMVAU
from bitsmith.hw.compute.winograd_output import WinogradOutput
from bitsmith.hw.top import Stage

from ..ir.winograd import WinogradConv
from . import lower_node, lowering
from .conv import window_stage


@lowering(WinogradConv)
def lower_winograd(node: WinogradConv) -> list[Stage]:
    simd, pe = node.simd, node.pe
    in_bits, v_dt, m_dt = node.in_dtype.bitwidth(), node.v_dtype, node.m_dtype
    acc_dt = node.acc_dtype
    window = window_stage(node.tile_window(), simd, False, node.tile_padding)
    transform = WinogradInput(channels=node.in_channels, simd=simd, in_dtype=node.in_dtype, out_dtype=v_dt)
    products = WinogradMVAU(weights=node.transformed_weights(), weight_dtype=node.u_dtype, in_dtype=v_dt,
                            acc_dtype=m_dt, pe=pe, simd=simd)
    output = WinogradOutput(tiles=node.tiles, out_hw=node.out_hw, channels=node.out_channels, pe=pe,
                            in_dtype=m_dt, y_dtype=node.y_dtype, out_dtype=acc_dt)
    stages = [window,
              Stage(component=transform, name=f"{node.name}_wgin", in_elem_bits=in_bits, in_elems=simd,
                    out_elem_bits=v_dt.bitwidth(), out_elems=simd),
              Stage(component=products, name=node.name, in_elem_bits=v_dt.bitwidth(), in_elems=simd,
                    out_elem_bits=m_dt.bitwidth(), out_elems=pe),
              Stage(component=output, name=f"{node.name}_wgout", in_elem_bits=m_dt.bitwidth(), in_elems=pe,
                    out_elem_bits=acc_dt.bitwidth(), out_elems=pe)]
    thr = node.thresholds_node()
    return stages + (lower_node(thr) if thr is not None else [])
