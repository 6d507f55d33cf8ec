"""Native format branches: input/inputs, fork/add/concat ops, residual expansion, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from bitsmith.generator.errors import ModelError
from bitsmith.generator.frontend.native import load_native
from bitsmith.generator.ir import Add, Concat, Fork
from bitsmith.sim.golden import run_graph


def write(tmp_path: Path, layers, arrays=None, shape=(4, 4, 2)) -> Path:
    rng = np.random.default_rng(0)
    arrays = arrays or {"w": rng.integers(-2, 2, size=(2, 3, 3, 2)), "w4": rng.integers(-2, 2, size=(2, 1, 1, 4)),
                        "t": np.sort(rng.integers(-4, 5, size=(2, 3)), axis=1)}
    np.savez(tmp_path / "w.npz", **arrays)
    spec = {"name": "net", "input": {"shape": list(shape), "dtype": "UINT2"}, "arrays": "w.npz",
            "layers": layers}
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def conv(name, **extra):
    return {"name": name, "op": "conv", "weights": "w", "weight_dtype": "INT2", "pad": 1, "thresholds": "t",
            "out_dtype": "UINT2", **extra}


def test_named_inputs_fork_add_concat(tmp_path):
    layers = [conv("a"), {"name": "f", "op": "fork", "pe": 2}, conv("b", input="f"), conv("c", input="f"),
              {"name": "cat", "op": "concat", "inputs": ["b", "c"]},
              conv("d", weights="w4", pad=0),
              {"name": "s", "op": "add", "inputs": ["d", "input"], "scale_a": 2, "scale_b": -1, "pe": 1}]
    g = load_native(write(tmp_path, layers))
    f, s, cat = g.node("f"), g.node("s"), g.node("cat")
    assert isinstance(f, Fork) and f.outputs == 2 and f.pe == 2 and f.inputs == ("a",)
    assert isinstance(cat, Concat) and cat.inputs == ("b", "c") and cat.channels == (2, 2) and cat.pe == 0
    assert isinstance(s, Add) and s.inputs == ("d", "input") and (s.scale_a, s.scale_b) == (2, -1)
    assert s.out_dtype.name == "INT4"                           # 2*[0, 3] - [0, 3] = -3..6
    assert [n.name for n in g.consumers("input")] == ["a", "s"]  # forked by the insert_forks pass
    x = np.random.default_rng(1).integers(0, 4, size=(2, 4, 4, 2))
    y = run_graph(g, x)
    want = 2 * run_graph(g, x, upto=6) - x
    np.testing.assert_array_equal(y, want)


def test_residual_convenience_expands(tmp_path):
    g = load_native(write(tmp_path, [conv("a"), {"name": "r", "op": "residual", "pe": 1,
                                                  "body": [conv("b"), conv("c")]}, conv("d")]))
    assert [(n.name, n.inputs) for n in g.nodes] == [
        ("a", ("input",)), ("r_fork", ("a",)), ("b", ("r_fork",)), ("c", ("b",)), ("r", ("c", "r_fork")),
        ("d", ("r",))]
    assert g.node("d").in_dtype.name == "UINT3"


CASES = [
    ([conv("a", input="nope")],
     "net.yaml: layer 'a': input 'nope' is not a layer listed before this one (known: input)"),
    ([conv("a", input="b"), conv("b")],
     "net.yaml: layer 'a': input 'b' is listed after this layer (a layer reads only layers listed before it, "
     "so the network has no cycle)"),
    ([conv("a", input="a")], "net.yaml: layer 'a': input 'a' is the layer itself (a cycle)"),
    ([conv("a", inputs=["input", "input"])],
     "net.yaml: layer 'a': unknown key 'inputs' for conv (did you mean 'input'?)"),
    ([conv("a", input="input", inputs=["input"])],
     "net.yaml: layer 'a': unknown key 'inputs' for conv (did you mean 'input'?)"),
    ([conv("a", input=["input"])],
     "net.yaml: layer 'a': input must be a layer name, or 'input' (the network input), not ['input']"),
    ([{"name": "s", "op": "add", "inputs": ["input"]}],
     "net.yaml: layer 's': inputs must be a list of 2 layer names (or 'input'), not ['input']"),
    ([{"name": "s", "op": "add", "input": "input"}],
     "net.yaml: layer 's': unknown key 'input' for add (did you mean 'inputs'?)"),
    ([{"name": "s", "op": "add"}], "net.yaml: layer 's': inputs is required"),
    ([{"name": "c", "op": "concat", "inputs": "input"}],
     "net.yaml: layer 'c': inputs must be a list of 2 to 1024 layer names (or 'input'), not 'input'"),
    ([{"name": "p", "op": "maxpool", "kernel": 2}, {"name": "s", "op": "add", "inputs": ["p", "input"]}],
     "net.yaml: layer 's': add inputs have shapes (2, 2, 2) and (4, 4, 2)"),
    ([{"name": "s", "op": "add", "inputs": ["input", "input"], "scale_a": 0}],
     "net.yaml: layer 's': scale_a must be a nonzero integer in -255..255, not 0"),
    ([{"name": "s", "op": "add", "inputs": ["input", "input"], "scale_a": 256}],
     "net.yaml: layer 's': scale_a must be a nonzero integer in -255..255, not 256"),
    ([{"name": "s", "op": "add", "inputs": ["input", "input"], "scale_b": 1.5}],
     "net.yaml: layer 's': scale_b must be a nonzero integer in -255..255, not 1.5"),
    ([{"name": "s", "op": "add", "inputs": ["input", "input"], "scale": 2}],
     "net.yaml: layer 's': unknown key 'scale' for add (did you mean 'scale_b'?)"),
    ([{"name": "p", "op": "maxpool", "kernel": 2}, {"name": "c", "op": "concat", "inputs": ["p", "input"]}],
     "net.yaml: layer 'c': concat inputs must have equal H, W, not (2, 2, 2), (4, 4, 2)"),
    ([conv("a"), {"name": "c", "op": "concat", "inputs": ["a", "input"], "pe": 3}],
     "net.yaml: layer 'c': PE=3 does not divide channels of input 0=2"),
    ([conv("a"), {"name": "s", "op": "add", "inputs": ["a", "input"]},
      {"name": "c", "op": "concat", "inputs": ["s", "input"]}],
     "net.yaml: layer 'c': concat inputs must have one datatype, not UINT3, UINT2"),
    ([{"name": "f", "op": "fork"}, conv("a")],
     "net.yaml: layer 'f': the fork has 1 reader(s), not two or more"),
    ([{"name": "f", "op": "fork", "outputs": 3}, conv("a", input="f"), conv("b", input="f"),
      {"name": "s", "op": "add", "inputs": ["a", "b"]}],
     "net.yaml: layer 'f': the fork has 2 reader(s), not 3"),
    ([conv("a"), {"name": "r", "op": "residual", "body": [conv("b", input="input")]}],
     "net.yaml: layer 'r': body layer 'b': input 'input' is not a layer listed before this one "
     "(known: r_fork)"),
    ([conv("a"), conv("input")],
     "net.yaml: layer 1: name must be an identifier (a letter or _ first, then letters, digits, _; at most "
     "64 characters; not a Verilog keyword), not 'input'"),
    ([conv("a"), conv("b"), conv("c", input="a")],
     "net.yaml: network 'net' must have exactly one output, not 2 (b, c)"),
]


@pytest.mark.parametrize("layers, msg", CASES)
def test_errors_name_file_and_layer(tmp_path, layers, msg):
    with pytest.raises(ModelError, match=f"^{re.escape(msg)}$"):
        load_native(write(tmp_path, layers))
