"""The published schema of the native description: current, valid, and in agreement with the loader."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from jsonschema import Draft202012Validator

from bitsmith.generator.errors import ModelError
from bitsmith.generator.frontend.description import read_description
from bitsmith.generator.frontend.native import load_native, native_ops
from bitsmith.generator.frontend.native_schema import OPS, check_description, strict_validator
from bitsmith.generator.frontend.publish import SCHEMA_FILE, json_schema, published

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "generator" / "examples").rglob("*.yaml"))


def test_published_files_are_current():
    stale = [str(p) for p, text in published().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"regenerate with: python -m bitsmith.generator.frontend.publish --write ({stale})"


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(json.loads(SCHEMA_FILE.read_text()))


def test_every_op_declares_documented_keys():
    ops = native_ops()
    assert {"dense", "threshold", "reshape", "topk", "conv", "depthwise", "maxpool", "global_pool", "residual",
            "sparse_dense", "conv1d", "depthwise1d", "maxpool1d", "avgpool", "avgpool1d", "upsample", "fork", "add",
            "concat"} <= set(ops)
    for op, spec in ops.items():
        assert spec.doc and spec.keys[0].name == "name" and spec.keys[1].name == "op", op
        for key in spec.keys:
            assert key.doc, (op, key.name)
            if key.default_text() not in ("required", "none") and key.default_doc is None:
                assert key.kind.accepts(key.default), (op, key.name, key.default)   # declared defaults are valid


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_bundled_examples_follow_the_schema(path):
    Draft202012Validator(json_schema()).validate(read_description(path))
    load_native(path)


BASE = {"name": "net", "input": {"shape": [4, 4, 2], "dtype": "UINT2"}, "arrays": "w.npz",
        "layers": [{"name": "c", "op": "conv", "weights": "cw", "weight_dtype": "INT2", "pad": [1, 1], "pe": 2},
                   {"name": "p", "op": "maxpool", "kernel": 2},
                   {"name": "r", "op": "residual", "body": [{"op": "depthwise", "weights": "dw", "weight_dtype": "INT2",
                                                             "pad": 1, "thresholds": "t", "out_dtype": "UINT2"}]},
                   {"name": "g", "op": "global_pool"},
                   {"name": "f", "op": "reshape", "shape": [4]},
                   {"name": "d", "op": "dense", "weights": "dw2", "weight_dtype": "TERNARY", "simd": "auto"},
                   {"name": "k", "op": "topk", "k": 1}]}


def _set(path, value):
    def change(doc):
        *parents, last = path
        target = doc
        for p in parents:
            target = target[p]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return change


MUTATIONS = {
    "unknown top key": _set(["layer"], []),
    "unknown layer key": _set(["layers", 0, "padding"], 1),
    "unknown key in a residual body": _set(["layers", 2, "body", 0, "strid"], 1),
    "unknown input key": _set(["input", "colour"], "red"),
    "float pe": _set(["layers", 0, "pe"], 2.0),
    "bool pe": _set(["layers", 0, "pe"], True),
    "list for a datatype": _set(["layers", 0, "weight_dtype"], ["INT2"]),
    "INT64": _set(["input", "dtype"], "INT64"),
    "bad name": _set(["layers", 1, "name"], "p-1"),
    "keyword name": _set(["name"], "always"),
    "unknown op": _set(["layers", 1, "op"], "avg"),
    "no op": _set(["layers", 1, "op"], KeyError),
    "missing required key": _set(["layers", 0, "weights"], KeyError),
    "empty body": _set(["layers", 2, "body"], []),
    "4-D shape": _set(["input", "shape"], [1, 4, 4, 2]),
    "pad of three": _set(["layers", 0, "pad"], [1, 1, 1]),
    "sparsity of one": _set(["layers", 5], {"op": "sparse_dense", "weights": "dw2", "sparsity": 1.0}),
    "arrays as a list": _set(["arrays"], ["w.npz"]),
    "maxpool ceil_mode as a string": _set(["layers", 1, "ceil_mode"], "true"),
    "maxpool pad of three": _set(["layers", 1, "pad"], [0, 0, 0]),
}

SEQUENCE = {"name": "seq", "input": {"shape": [12, 3], "dtype": "UINT2"}, "arrays": "w.npz",
            "layers": [{"name": "k0", "op": "conv1d", "weights": "k0", "weight_layout": "OIW", "weight_dtype": "INT2",
                        "pad": [2, 2], "thresholds": "t", "out_dtype": "UINT2", "simd": 15},
                       {"name": "k1", "op": "depthwise1d", "weights": "k1", "weight_dtype": "INT2", "pad": 1},
                       {"name": "m0", "op": "maxpool1d", "kernel": 2, "ceil_mode": True},
                       {"name": "a0", "op": "avgpool1d", "kernel": 3, "stride": 1, "pad": [1, 1], "shift": 1,
                        "rounding": "half_even", "trunc_dtype": "INT4", "count_include_pad": True},
                       {"name": "u0", "op": "upsample", "scale": [2, 1], "pe": 2},
                       {"name": "a1", "op": "avgpool", "kernel": [2, 1], "ceil_mode": False},
                       {"name": "f", "op": "reshape", "shape": [6, 4]}]}

SEQUENCE_MUTATIONS = {
    "1-D kernel as a pair": _set(["layers", 2, "kernel"], [2, 1]),
    "1-D pad of four": _set(["layers", 1, "pad"], [1, 1, 1, 1]),
    "2-D layout on conv1d": _set(["layers", 0, "weight_layout"], "OIHW"),
    "1-D stride zero": _set(["layers", 0, "stride"], 0),
    "ceil_mode as an integer": _set(["layers", 2, "ceil_mode"], 1),
    "unknown rounding": _set(["layers", 3, "rounding"], "NEAREST"),
    "shift too large": _set(["layers", 3, "shift"], 63),
    "count_include_pad as a string": _set(["layers", 3, "count_include_pad"], "no"),
    "narrow as an integer": _set(["layers", 3, "narrow"], 0),
    "trunc_dtype FLOAT32": _set(["layers", 3, "trunc_dtype"], "FLOAT32"),
    "scale of three": _set(["layers", 4, "scale"], [2, 1, 1]),
    "upsample mode": _set(["layers", 4, "mode"], "nearest"),
    "avgpool without kernel": _set(["layers", 5, "kernel"], KeyError),
    "reshape to four axes": _set(["layers", 6, "shape"], [1, 6, 1, 4]),
    "input shape of four": _set(["input", "shape"], [1, 12, 1, 3]),
}

BRANCH = {"name": "branch", "input": {"shape": [4, 4, 2], "dtype": "UINT2"},
          "layers": [{"name": "f", "op": "fork", "outputs": 2, "pe": 2},
                     {"name": "a", "op": "maxpool", "kernel": 3, "stride": 1, "pad": 1, "input": "f"},
                     {"name": "b", "op": "maxpool", "kernel": 1, "input": "f"},
                     {"name": "cat", "op": "concat", "inputs": ["a", "b"], "pe": 2},
                     {"name": "s", "op": "add", "inputs": ["cat", "cat"], "scale_a": 2, "scale_b": -1}]}

BRANCH_MUTATIONS = {
    "input as a list": _set(["layers", 1, "input"], ["f"]),
    "input not a name": _set(["layers", 1, "input"], "f-1"),
    "inputs on a one-input op": _set(["layers", 2, "inputs"], ["f"]),
    "input on add": _set(["layers", 4, "input"], "cat"),
    "add without inputs": _set(["layers", 4, "inputs"], KeyError),
    "add of one": _set(["layers", 4, "inputs"], ["cat"]),
    "add of three": _set(["layers", 4, "inputs"], ["cat", "cat", "cat"]),
    "concat of one": _set(["layers", 3, "inputs"], ["a"]),
    "scale zero": _set(["layers", 4, "scale_a"], 0),
    "scale out of range": _set(["layers", 4, "scale_b"], -256),
    "float scale": _set(["layers", 4, "scale_a"], 2.0),
    "fork to one": _set(["layers", 0, "outputs"], 1),
    "unknown fork key": _set(["layers", 0, "copies"], 2),
}


def _schema_stage(doc, tmp_path) -> bool:
    """True when the loader's schema checks accept ``doc`` (values of arrays not involved)."""
    path = tmp_path / "m.yaml"
    try:
        data = check_description(copy.deepcopy(doc), path)
        _check_layers(data["layers"])
    except ModelError:
        return False
    return True


def _check_layers(layers):
    from bitsmith.generator.frontend.native_schema import IDENT, check_keys
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or layer.get("op") not in OPS or not IDENT.accepts(layer.get("name", "x")):
            raise ModelError("layer")
        check_keys(layer, OPS[layer["op"]].keys, f"layer {i}", layer["op"])
        if layer["op"] == "residual":
            _check_layers(layer["body"])


def test_the_unmutated_documents_pass_both(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {BASE["name"]: dict(cw=rng.integers(-2, 2, (4, 3, 3, 2)), dw=rng.integers(-2, 2, (4, 3, 3)),
                                 t=np.sort(rng.integers(-9, 9, (1, 3)), axis=1), dw2=rng.integers(-1, 2, (5, 4))),
              SEQUENCE["name"]: dict(k0=rng.integers(-2, 2, (4, 3, 5)), k1=rng.integers(-2, 2, (4, 3)),
                                     t=np.sort(rng.integers(-6, 6, (4, 3)), axis=1))}
    arrays[BRANCH["name"]] = {}
    for doc in (BASE, SEQUENCE, BRANCH):
        assert strict_validator(json_schema()).is_valid(doc)
        assert _schema_stage(doc, tmp_path)
        np.savez(tmp_path / "w.npz", **arrays[doc["name"]])
        (tmp_path / "net.yaml").write_text(yaml.safe_dump(doc))
        load_native(tmp_path / "net.yaml")


CASES = ([(BASE, m) for m in MUTATIONS.values()] + [(SEQUENCE, m) for m in SEQUENCE_MUTATIONS.values()]
         + [(BRANCH, m) for m in BRANCH_MUTATIONS.values()])


@pytest.mark.parametrize("base, mutate", CASES, ids=list(MUTATIONS) + list(SEQUENCE_MUTATIONS)
                         + list(BRANCH_MUTATIONS))
def test_schema_and_loader_agree(tmp_path, base, mutate):
    doc = copy.deepcopy(base)
    mutate(doc)
    assert not strict_validator(json_schema()).is_valid(doc)
    assert not _schema_stage(doc, tmp_path)
