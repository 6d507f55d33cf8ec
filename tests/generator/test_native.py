"""Native description: the bundled example loads, and every kind of bad input is named."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from bitsmith.generator.errors import BitsmithError, FoldingError, ModelError
from bitsmith.generator.frontend.native import load_native
from bitsmith.generator.ir import MatrixVector
from bitsmith.generator.passes.acc_widths import AccWidths

EXAMPLE = Path(__file__).resolve().parents[2] / "generator" / "examples" / "digits" / "digits.yaml"


def write(tmp_path: Path, layers, arrays, *, input_=None, name="net") -> Path:
    np.savez(tmp_path / "w.npz", **arrays)
    spec = {"name": name, "input": input_ or {"shape": [8], "dtype": "BIPOLAR"}, "arrays": "w.npz",
            "layers": layers}
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def bipolar(rng, shape):
    return rng.choice([-1, 1], size=shape)


@pytest.fixture
def rng():
    return np.random.default_rng(1)


def test_example_loads_with_minimal_accumulators():
    g = load_native(EXAMPLE)
    assert g.nodes[0].acc_dtype is None                # left to the acc_widths pass
    g = AccWidths().apply(g)
    fc0 = g.nodes[0]
    assert isinstance(fc0, MatrixVector) and fc0.xnor
    # popcount of 64 matches is 0..64 -> UINT7 by FINN's rule
    assert fc0.acc_dtype.name == "UINT7"
    assert [n.name for n in g.nodes] == ["fc0", "fc1", "fc2"]
    assert g.out_shape == (1, 1, 10)


def test_integer_accumulator_width_from_actual_weights(tmp_path, rng):
    w = np.zeros((4, 8), dtype=np.int64)
    w[:, 0] = 3                                    # INT3 weights, only one non-zero column
    path = write(tmp_path, [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "INT3"}],
                 {"w": w}, input_={"shape": [8], "dtype": "UINT4"})
    node = AccWidths().apply(load_native(path)).nodes[0]
    # max = 3 * 15 = 45, min = 0 -> UINT6 (not the worst case 8*3*15=360)
    assert node.acc_dtype.name == "UINT6"


CASES = [
    ("unknown op", [{"name": "a", "op": "dance"}], {},
     r"^net\.yaml: layer 'a': unknown op 'dance' \(supported: .*dense.*\)$"),
    ("shape mismatch", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR"}],
     {"w": np.ones((4, 9), dtype=np.int8)},
     r"^net\.yaml: layer 'fc': weights have 9 inputs but the layer receives 8 \(input shape \(1, 1, 8\)\)$"),
    ("weights outside dtype", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR"}],
     {"w": np.full((4, 8), 2)}, r"^net\.yaml: layer 'fc': weights\[0, 0\] is 2, outside BIPOLAR \(-1 or \+1\)$"),
    ("unsorted thresholds", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR",
                              "thresholds": "t", "out_dtype": "UINT2"}],
     {"w": np.ones((4, 8), dtype=np.int8), "t": np.array([[1, 3, 2]] * 4)},
     r"^net\.yaml: layer 'fc': thresholds of channel 0 are not sorted ascending$"),
    ("non-integer thresholds", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR",
                                 "thresholds": "t", "out_dtype": "BIPOLAR"}],
     {"w": np.ones((4, 8), dtype=np.int8), "t": np.full((4, 1), 2.5)},
     r"^net\.yaml: layer 'fc': thresholds\[0, 0\] is 2\.5, which is not an integer$"),
    ("missing array", [{"name": "fc", "op": "dense", "weights": "nope", "weight_dtype": "BIPOLAR"}],
     {"w": np.ones((4, 8), dtype=np.int8)},
     r"^net\.yaml: layer 'fc': array 'nope' is not in w\.npz \(has: w\)$"),
    ("simd does not divide", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR",
                               "simd": 3}],
     {"w": np.ones((4, 8), dtype=np.int8)},
     r"^net\.yaml: layer 'fc': SIMD=3 does not divide in_features=8$"),
    ("pe does not divide", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR",
                             "pe": 3}],
     {"w": np.ones((4, 8), dtype=np.int8)},
     r"^net\.yaml: layer 'fc': PE=3 does not divide out_features=4$"),
    ("bad pe value", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR", "pe": -2}],
     {"w": np.ones((4, 8), dtype=np.int8)},
     r"^net\.yaml: layer 'fc': pe must be a positive integer or 'auto', not -2$"),
    ("thresholds overflow out dtype", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR",
                                       "thresholds": "t", "out_dtype": "UINT1"}],
     {"w": np.ones((4, 8), dtype=np.int8), "t": np.array([[1, 2, 3]] * 4)},
     r"^net\.yaml: layer 'fc': outputs 0\.\.3 of 3 thresholds do not fit BINARY$"),
    ("unknown dtype", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "INT99x"}],
     {"w": np.ones((4, 8), dtype=np.int8)},
     r"^net\.yaml: layer 'fc': weight_dtype must be an integer datatype \(BIPOLAR, BINARY, TERNARY, "
     r"INT2\.\.INT32, UINT1\.\.UINT32\), not 'INT99x'$"),
    ("threshold rows", [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR",
                         "thresholds": "t", "out_dtype": "BIPOLAR"}],
     {"w": np.ones((4, 8), dtype=np.int8), "t": np.ones((3, 1), dtype=np.int64)},
     r"^net\.yaml: layer 'fc': thresholds must have shape \(4, B\) or \(1, B\), not \(3, 1\)$"),
]


@pytest.mark.parametrize("what,layers,arrays,message", CASES, ids=[c[0] for c in CASES])
def test_bad_descriptions_are_named(tmp_path, what, layers, arrays, message):
    path = write(tmp_path, layers, arrays)
    with pytest.raises(BitsmithError) as info:
        load_native(path)
    assert re.match(message, str(info.value)), str(info.value)
    assert isinstance(info.value, (ModelError, FoldingError))


def test_unreadable_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("layers: [unclosed")
    with pytest.raises(ModelError, match=r"^.*bad\.yaml: not valid YAML: "):
        load_native(path)


def test_duplicate_layer_name(tmp_path):
    w = np.ones((8, 8), dtype=np.int8)
    layers = [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR", "thresholds": "t",
               "out_dtype": "BIPOLAR"}] * 2
    path = write(tmp_path, layers, {"w": w, "t": np.zeros((1, 1), dtype=np.int64)})
    with pytest.raises(ModelError, match=r"^net\.yaml: layer 'fc': duplicate layer name$"):
        load_native(path)
