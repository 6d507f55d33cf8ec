"""The sparse encoding is decoded at build time and compared with the weights it came from.

The golden model and the hardware both read the encoding, so a wrong encoder makes them
agree on the wrong matrix (shown below with the check switched off); with the check,
``verify`` stops at the build with :class:`CheckFailed` (exit 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType

import bitsmith.generator.sparse.node as node_module
from bitsmith.generator.build import BuildOptions
from bitsmith.generator.errors import CheckFailed
from bitsmith.generator.ir import Graph
from bitsmith.generator.sparse import ColumnEncoding, encode_columns
from bitsmith.generator.sparse.encode import check_decodes_to
from bitsmith.generator.verify import verify
from bitsmith.sim.golden import run_graph
from tests.property.simulate import check_graph_in_amaranth

EXAMPLES = Path(node_module.__file__).resolve().parents[1] / "examples"
MESSAGE = (r"^layer '{layer}': the sparse encoding decodes to weight -?\d+ at row \d+, column \d+, "
           r"not -?\d+ as in the weights it was made from \(\d+ weights differ; an encoder bug\)$")


def corrupt(enc: ColumnEncoding, bug: str) -> ColumnEncoding:
    """``enc`` with one kind of encoder bug."""
    entries = [e.copy() for e in enc.entries]
    ptr = enc.col_ptr.copy()
    if bug == "code":            # a wrong codebook index for PE 0's first non-zero
        first = int(np.nonzero(entries[0][:, 0])[0][0])
        entries[0][first, 0] = entries[0][first, 0] % 3 + 1 if entries[0][first, 0] != 1 else 2
    elif bug == "row":           # the relative index of PE 0's first entry one too large
        entries[0][0, 1] += 1
    elif bug == "interleave":    # PE 0 and PE 1 exchanged (rows blocked, not interleaved)
        entries[0], entries[1] = entries[1], entries[0]
        ptr[[0, 1]] = ptr[[1, 0]]
    else:
        raise ValueError(bug)
    return ColumnEncoding(tuple(entries), ptr, enc.out_features)


def broken_encoder(bug: str):
    def encoder(index, n_pe):
        return corrupt(encode_columns(index, n_pe), bug)
    return encoder


@pytest.mark.parametrize("bug", ["code", "row", "interleave"])
def test_broken_encoder_cannot_pass_verify(monkeypatch, bug):
    monkeypatch.setattr(node_module, "encode_columns", broken_encoder(bug))
    x = np.random.default_rng(0).integers(0, 32, (4, 64))
    with pytest.raises(CheckFailed, match=MESSAGE.format(layer="fc0")):
        verify(EXAMPLES / "digits_sparse" / "digits_sparse.yaml", x, BuildOptions())
    assert CheckFailed.exit_code == 1


def test_broken_encoder_cannot_pass_sparse_auto(monkeypatch, tmp_path):
    """The pruned digits weights as plain dense layers, moved onto the engine by --sparse auto."""
    np.savez(tmp_path / "w.npz", **dict(np.load(EXAMPLES / "digits_sparse" / "digits_sparse.npz")))
    (tmp_path / "auto.yaml").write_text(
        "name: auto\ninput: {shape: [64], dtype: UINT5}\narrays: w.npz\nlayers:\n"
        "  - {name: fc0, op: dense, weights: sparse_fc0_w, thresholds: sparse_fc0_t, out_dtype: UINT3,"
        " weight_dtype: INT8}\n"
        "  - {name: fc1, op: dense, weights: sparse_fc1_w, weight_dtype: INT8}\n")
    monkeypatch.setattr(node_module, "encode_columns", broken_encoder("code"))
    x = np.random.default_rng(1).integers(0, 32, (4, 64))
    with pytest.raises(CheckFailed, match=MESSAGE.format(layer="fc0")):
        verify(tmp_path / "auto.yaml", x, BuildOptions(sparse="auto"))


def small_layer(seed: int = 2):
    rng = np.random.default_rng(seed)
    w = rng.integers(-3, 4, (6, 5)) * (rng.random((6, 5)) < 0.4)
    w[0, 0] = 2                                   # PE 0 holds a non-zero
    return w


def test_golden_and_hardware_agree_on_a_wrong_encoding_without_the_check(monkeypatch):
    """Why the check exists: both sides read the encoding."""
    w = small_layer()
    monkeypatch.setattr(node_module, "encode_columns", broken_encoder("code"))
    monkeypatch.setattr(node_module, "check_decodes_to", lambda *args: None)
    node = node_module.sparse_node("sp", (1, 1, 5), DataType["UINT3"], node_module.lossless_layer(w, 2),
                                   simd=5)
    graph = Graph(name="sp", in_shape=(1, 1, 5), in_dtype=DataType["UINT3"], nodes=(node,))
    x = np.random.default_rng(3).integers(0, 8, (6, 1, 1, 5))
    x[:, 0, 0, 0] = 7
    check_graph_in_amaranth(graph, x)                               # hardware == golden ...
    assert not np.array_equal(run_graph(graph, x)[:, 0, 0], x[:, 0, 0] @ w.T)  # ... != the weights


def test_right_encoding_passes_and_shape_is_checked():
    w = small_layer()
    layer = node_module.lossless_layer(w, 3)
    check_decodes_to(layer.encoding, layer.codebook, w, "layer 'x'")
    with pytest.raises(CheckFailed, match=r"^layer 'x': the sparse encoding holds a 6x5 matrix, "
                                          r"the weights are 6x4$"):
        check_decodes_to(layer.encoding, layer.codebook, w[:, :4], "layer 'x'")
    with pytest.raises(CheckFailed, match=r"^layer 'x': the sparse encoding decodes to weight 0 at row 5, "
                                          r"column 4, not 9 as in the weights it was made from "
                                          r"\(1 weights differ; an encoder bug\)$"):
        bad = w.copy()
        bad[5, 4] = 9
        check_decodes_to(layer.encoding, layer.codebook, bad, "layer 'x'")
