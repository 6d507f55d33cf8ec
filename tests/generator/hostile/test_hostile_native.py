"""Hostile native descriptions: keys, types, values, arrays, YAML/JSON bombs, budgets.

Each case builds its files in the sandbox, runs ``bitsmith --quiet build m.yaml -o out`` and
expects the clean refusal of ``conftest.Sandbox.rejects``.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from conftest import DROP

BUILD = ("build", "m.yaml", "-o", "out")

W0 = {"name": "fc0", "op": "dense", "weights": "w0", "weight_dtype": "BIPOLAR", "thresholds": "t0",
      "out_dtype": "BIPOLAR"}
W1 = {"name": "fc1", "op": "dense", "weights": "w1", "weight_dtype": "INT2"}
RNG = np.random.default_rng(0)


def dense(**changes) -> list:
    """The default two dense layers, the first changed by ``changes`` (DROP removes a key)."""
    layer = {**W0, **changes}
    return [{k: v for k, v in layer.items() if v is not DROP}, W1]


def conv_net(**changes) -> tuple[list, dict]:
    layer = {"name": "c0", "op": "conv", "weights": "cw", "weight_dtype": "INT2", "kernel": 3,
             "stride": 1, "pad": 1, **changes}
    return [{k: v for k, v in layer.items() if v is not DROP}], \
        {"cw": RNG.integers(-2, 2, size=(4, 3, 3, 2)).astype(np.int8)}


SEQUENCE_INPUT = {"shape": [8, 2], "dtype": "INT2"}
SEQUENCE_LAYERS = {        # one layer of each op on the sequence input [8, 2]
    "conv1d": {"op": "conv1d", "weights": "kw", "weight_dtype": "INT2", "pad": 1},
    "depthwise1d": {"op": "depthwise1d", "weights": "dw", "weight_dtype": "INT2", "pad": [1, 1]},
    "maxpool1d": {"op": "maxpool1d", "kernel": 2},
    "avgpool1d": {"op": "avgpool1d", "kernel": 2, "stride": 1},
    "maxpool": {"op": "maxpool", "kernel": [2, 1], "ceil_mode": True},
    "avgpool": {"op": "avgpool", "kernel": [2, 1], "shift": 1, "rounding": "floor", "trunc_dtype": "INT2"},
    "upsample": {"op": "upsample", "scale": [2, 1]},
}


def sequence_net(op: str, **changes) -> tuple[list, dict]:
    """One ``op`` layer named ``s0`` on the input [8, 2], changed by ``changes``."""
    layer = {"name": "s0", **SEQUENCE_LAYERS[op], **changes}
    return [{k: v for k, v in layer.items() if v is not DROP}], \
        {"kw": RNG.integers(-2, 2, size=(4, 3, 2)).astype(np.int8), "dw": RNG.integers(-2, 2, size=(2, 3)).astype(np.int8)}


# ----------------------------------------------------------------------------- keys and types
# (layers, top-level changes, pattern after "bitsmith: error: ")
KEY_CASES = {
    "padding instead of pad": ("conv", dict(padding=1),
                               r"m\.yaml: layer 'c0': unknown key 'padding' for conv \(did you mean 'pad'\?\)"),
    "strid": ("conv", dict(strid=2), r"m\.yaml: layer 'c0': unknown key 'strid' for conv \(did you mean 'stride'\?\)"),
    "activation on dense": ("dense", dict(activation="relu"),
                            r"m\.yaml: layer 'fc0': unknown key 'activation' for dense \(valid keys: input, name, "
                            r"op, out_bias, out_dtype, out_scale, pe, simd, thresholds, weight_dtype, weights\)"),
    "kernal on conv": ("conv", dict(kernal=3), r".*unknown key 'kernal' for conv \(did you mean 'kernel'\?\)"),
    "pe as float": ("dense", dict(pe=2.0), r"m\.yaml: layer 'fc0': pe must be a positive integer or 'auto', not 2\.0"),
    "pe as bool": ("dense", dict(pe=True), r".*'fc0': pe must be a positive integer or 'auto', not True"),
    "pe as string": ("dense", dict(pe="4"), r".*'fc0': pe must be a positive integer or 'auto', not '4'"),
    "pe zero": ("dense", dict(pe=0), r".*'fc0': pe must be a positive integer or 'auto', not 0"),
    "pe huge": ("dense", dict(pe=2 ** 40), r".*'fc0': pe must be a positive integer or 'auto', not 1099511627776"),
    "simd list": ("dense", dict(simd=[4]), r".*'fc0': simd must be a positive integer or 'auto', not \[4\]"),
    "dtype as list": ("dense", dict(weight_dtype=["BIPOLAR"]),
                      r".*'fc0': weight_dtype must be an integer datatype \(.*\), not \['BIPOLAR'\]"),
    "dtype INT64": ("dense", dict(weight_dtype="INT64"), r".*'fc0': weight_dtype must be an integer datatype .*'INT64'"),
    "dtype FLOAT32": ("dense", dict(out_dtype="FLOAT32"), r".*'fc0': out_dtype must be an integer datatype .*'FLOAT32'"),
    "dtype lower case": ("dense", dict(weight_dtype="bipolar"), r".*'fc0': weight_dtype must be .*, not 'bipolar'"),
    "dtype INT0": ("dense", dict(weight_dtype="INT0"), r".*'fc0': weight_dtype must be .*, not 'INT0'"),
    "weights missing": ("dense", dict(weights=DROP), r"m\.yaml: layer 'fc0': weights is required"),
    "weights as number": ("dense", dict(weights=5), r".*'fc0': weights must be the name of an array in the \.npz, not 5"),
    "thresholds as list": ("dense", dict(thresholds=["t0"]), r".*'fc0': thresholds must be the name of an array .*"),
    "out_scale float": ("dense", dict(out_scale=1.5), r".*'fc0': out_scale must be an integer, not 1\.5"),
    "out_bias string": ("dense", dict(out_bias="0"), r".*'fc0': out_bias must be an integer, not '0'"),
    "out_bias huge": ("dense", dict(out_bias=10 ** 30), r".*'fc0': out_bias must be an integer, not 10+"),
    "out_dtype without thresholds": ("dense", dict(thresholds=DROP),
                                     r"m\.yaml: layer 'fc0': out_dtype given without thresholds"),
    "stride three values": ("conv", dict(stride=[1, 2, 3]),
                            r".*'c0': stride must be an integer >= 1 or \[H, W\] of them, not \[1, 2, 3\]"),
    "pad negative": ("conv", dict(pad=-1), r".*'c0': pad must be an integer, \[H, W\] or \[top, left, bottom, right\] "
                                           r"of non-negative integers, not -1"),
    "kernel string": ("conv", dict(kernel="3"), r".*'c0': kernel must be an integer >= 1 or \[H, W\] of them, not '3'"),
    "weight layout": ("conv", dict(weight_layout="NCHW"), r".*'c0': weight_layout must be one of OHWI, OIHW, not 'NCHW'"),
    "name with dash": ("dense", dict(name="fc-0"), r"m\.yaml: layer 0: name must be an identifier .*, not 'fc-0'"),
    "name keyword": ("dense", dict(name="module"), r"m\.yaml: layer 0: name must be an identifier .*not 'module'"),
    "name with newline": ("dense", dict(name="a\nb"), r"m\.yaml: layer 0: name must be an identifier .*not 'a\\nb'"),
    "name too long": ("dense", dict(name="x" * 65), r"m\.yaml: layer 0: name must be an identifier .*not 'x+\.\.\.x+'"),
    "name is a list": ("dense", dict(name=["fc"]), r"m\.yaml: layer 0: name must be an identifier .*not \['fc'\]"),
    "op misspelled": ("dense", dict(op="dence"), r".*'fc0': unknown op 'dence' \(did you mean 'dense'\? supported: .*\)"),
    "op missing": ("dense", dict(op=DROP), r".*'fc0': unknown op None \(supported: .*\)"),
    "op is a list": ("dense", dict(op=["dense"]), r".*'fc0': unknown op \['dense'\] \(supported: .*\)"),
    # the 1-D ops, pools and upsampling
    "padding on conv1d": ("conv1d", dict(padding=1),
                          r"m\.yaml: layer 's0': unknown key 'padding' for conv1d \(did you mean 'pad'\?\)"),
    "count_include_pads": ("avgpool", dict(count_include_pads=False),
                           r"m\.yaml: layer 's0': unknown key 'count_include_pads' for avgpool \(did you mean "
                           r"'count_include_pad'\?\)"),
    "ceilmode": ("maxpool1d", dict(ceilmode=True), r".*'s0': unknown key 'ceilmode' for maxpool1d \(did you mean 'ceil_mode'\?\)"),
    "mode on upsample": ("upsample", dict(mode="nearest"),
                         r"m\.yaml: layer 's0': unknown key 'mode' for upsample \(valid keys: input, name, op, pe, "
                         r"scale\)"),
    "conv1d kernel as a pair": ("conv1d", dict(kernel=[3, 1]), r".*'s0': kernel must be a positive integer, not \[3, 1\]"),
    "conv1d 2-D layout": ("conv1d", dict(weight_layout="OHWI"), r".*'s0': weight_layout must be one of OWI, OIW, not 'OHWI'"),
    "depthwise1d pad of four": ("depthwise1d", dict(pad=[1, 1, 1, 1]),
                                r".*'s0': pad must be an integer or \[left, right\] of non-negative integers, "
                                r"not \[1, 1, 1, 1\]"),
    "maxpool1d stride float": ("maxpool1d", dict(stride=2.0), r".*'s0': stride must be a positive integer, not 2\.0"),
    "maxpool1d kernel missing": ("maxpool1d", dict(kernel=DROP), r"m\.yaml: layer 's0': kernel is required"),
    "ceil_mode as a string": ("maxpool", dict(ceil_mode="true"), r".*'s0': ceil_mode must be true or false, not 'true'"),
    "ceil_mode as an integer": ("avgpool1d", dict(ceil_mode=1), r".*'s0': ceil_mode must be true or false, not 1"),
    "pad as a boolean": ("maxpool", dict(pad=True), r".*'s0': pad must be an integer, \[H, W\] or \[top, left, bottom, "
                                                     r"right\] of non-negative integers, not True"),
    "shift huge": ("avgpool", dict(shift=2 ** 31), r".*'s0': shift must be an integer in 0\.\.62, not 2147483648"),
    "shift negative": ("avgpool1d", dict(shift=-1), r".*'s0': shift must be an integer in 0\.\.62, not -1"),
    "rounding as a list": ("avgpool", dict(rounding=["FLOOR"]),
                           r".*'s0': rounding must be one of ROUND, HALF_EVEN, CEIL, FLOOR, UP, DOWN, HALF_UP, HALF_DOWN "
                           r"\(any case\), not \['FLOOR'\]"),
    "rounding unknown": ("avgpool", dict(rounding="nearest"), r".*'s0': rounding must be one of .* \(any case\), not 'nearest'"),
    "trunc_dtype FLOAT32": ("avgpool", dict(trunc_dtype="FLOAT32"),
                            r".*'s0': trunc_dtype must be an integer datatype \(.*\), not 'FLOAT32'"),
    "trunc_dtype BIPOLAR": ("avgpool", dict(trunc_dtype="BIPOLAR"),
                            r"m\.yaml: layer 's0': trunc_dtype must be an INTn or UINTn datatype, not 'BIPOLAR'"),
    "narrow as an integer": ("avgpool", dict(narrow=1), r".*'s0': narrow must be true or false, not 1"),
    "count_include_pad as a string": ("avgpool1d", dict(count_include_pad="false"),
                                      r".*'s0': count_include_pad must be true or false, not 'false'"),
    "count_include_pad false with padding": ("avgpool1d", dict(pad=1, count_include_pad=False),
                                             r".*'s0': count_include_pad: false with padding \(1, 0, 1, 0\) divides border "
                                             r"windows by the input pixels they cover, .*"),
    "scale zero": ("upsample", dict(scale=0), r".*'s0': scale must be an integer >= 1 or \[H, W\] of them, not 0"),
    "scale of three": ("upsample", dict(scale=[2, 1, 1]), r".*'s0': scale must be an integer >= 1 or \[H, W\] of them, "
                                                          r"not \[2, 1, 1\]"),
    "scale missing": ("upsample", dict(scale=DROP), r"m\.yaml: layer 's0': scale is required"),
    "upsample pe string": ("upsample", dict(pe="2"), r".*'s0': pe must be a positive integer or 'auto', not '2'"),
}


@pytest.mark.parametrize("kind, changes, pattern", KEY_CASES.values(), ids=list(KEY_CASES))
def test_layer_keys_and_types(sandbox, kind, changes, pattern):
    if kind == "conv":
        layers, arrays = conv_net(**changes)
        sandbox.native(layers, npz=arrays, input={"shape": [6, 6, 2], "dtype": "INT2"})
    elif kind == "dense":
        sandbox.native(dense(**changes))
    else:
        layers, arrays = sequence_net(kind, **changes)
        sandbox.native(layers, npz=arrays, input=SEQUENCE_INPUT)
    sandbox.rejects(BUILD, rf"^bitsmith: error: {pattern}$")


@pytest.mark.parametrize("op", ["conv1d", "depthwise1d", "maxpool1d", "avgpool1d"])
def test_one_d_op_on_an_image(sandbox, op):
    layers, arrays = sequence_net(op)
    sandbox.native(layers, npz=arrays, input={"shape": [8, 8, 2], "dtype": "INT2"})
    sandbox.rejects(BUILD, r"^bitsmith: error: m\.yaml: layer 's0': a 1-D layer takes a sequence \(L, 1, C\) "
                           r"\(input shape \[L, C\]\), not \(8, 8, 2\)$")


@pytest.mark.parametrize("op", sorted(SEQUENCE_LAYERS))
def test_the_sequence_layers_build(sandbox, op):
    """The unchanged layers of the cases above are valid: each case fails by its change."""
    layers, arrays = sequence_net(op)
    sandbox.native(layers, npz=arrays, input=SEQUENCE_INPUT)
    code, out, err = sandbox.run("--quiet", *BUILD)
    assert code == 0 and not err, err


def test_a_key_error_without_quiet_is_one_line(sandbox):
    """Without --quiet nothing has finished when the description is refused: one line."""
    layers, arrays = sequence_net("avgpool", count_include_pads=False)
    sandbox.native(layers, npz=arrays, input=SEQUENCE_INPUT)
    sandbox.rejects(BUILD, r"^bitsmith: error: m\.yaml: layer 's0': unknown key 'count_include_pads' for avgpool "
                           r"\(did you mean 'count_include_pad'\?\)$", quiet=False)
    assert len(sandbox.stderr_lines) == 1


TOP_CASES = {
    "misspelled layers": (dict(layer=[W0]), r"m\.yaml: unknown key 'layer' for the description \(did you mean 'layers'\?\)"),
    "no input": (dict(input=DROP), r".*m\.yaml: input is required"),
    "no layers": (dict(layers=DROP), r".*m\.yaml: layers is required"),
    "empty layers": (dict(layers=[]), r".*m\.yaml: layers must be a non-empty list of layers, not \[\]"),
    "layers as mapping": (dict(layers={"fc0": W0}), r".*m\.yaml: layers must be a non-empty list of layers, not \{.*\}"),
    "layer as list": (dict(layers=[["dense"]]), r".*m\.yaml: layer 0 must be a mapping, not \['dense'\]"),
    "layer as string": (dict(layers=["dense"]), r".*m\.yaml: layer 0 must be a mapping, not 'dense'"),
    "input as list": (dict(input=[16, "BIPOLAR"]), r".*m\.yaml: input must be a mapping with shape and dtype, not \[16, 'BIPOLAR'\]"),
    "input key misspelled": (dict(input={"shape": [16], "dtyp": "BIPOLAR"}),
                             r".*m\.yaml: input: unknown key 'dtyp' for input \(did you mean 'dtype'\?\)"),
    "input dtype INT64": (dict(input={"shape": [16], "dtype": "INT64"}), r".*m\.yaml: input: dtype must be an integer datatype .*'INT64'"),
    "input dtype number": (dict(input={"shape": [16], "dtype": 8}), r".*m\.yaml: input: dtype must be an integer datatype .*, not 8"),
    "input shape 4-D": (dict(input={"shape": [1, 4, 4, 1], "dtype": "BIPOLAR"}),
                        r".*m\.yaml: input: shape must be \[C\], \[L, C\] or \[H, W, C\] of positive integers, "
                        r"not \[1, 4, 4, 1\]"),
    "input sequence of zero length": (dict(input={"shape": [0, 16], "dtype": "BIPOLAR"}),
                                      r".*input: shape must be .*, not \[0, 16\]"),
    "input shape zero": (dict(input={"shape": [0], "dtype": "BIPOLAR"}), r".*input: shape must be .*, not \[0\]"),
    "input shape float": (dict(input={"shape": [16.0], "dtype": "BIPOLAR"}), r".*input: shape must be .*, not \[16\.0\]"),
    "input shape bool": (dict(input={"shape": [True], "dtype": "BIPOLAR"}), r".*input: shape must be .*, not \[True\]"),
    "input shape string": (dict(input={"shape": "16", "dtype": "BIPOLAR"}), r".*input: shape must be .*, not '16'"),
    "input shape huge": (dict(input={"shape": [100000, 100000, 3], "dtype": "BIPOLAR"}),
                         r".*m\.yaml: input: a tensor of shape \(100000, 100000, 3\) has 30,000,000,000 elements; "
                         r"bitsmith's budget is 16,777,216 per tensor"),
    "network name with space": (dict(name="my net"), r".*m\.yaml: name must be an identifier .*, not 'my net'"),
    "network name digit first": (dict(name="9net"), r".*m\.yaml: name must be an identifier .*, not '9net'"),
    "network name keyword": (dict(name="wire"), r".*m\.yaml: name must be an identifier .*, not 'wire'"),
    "arrays as list": (dict(arrays=["w.npz"]), r".*m\.yaml: arrays must be a file path .*, not \['w\.npz'\]"),
    "arrays missing file": (dict(arrays="nope.npz"), r".*m\.yaml: arrays .*nope\.npz: no such file"),
    "arrays a folder": (dict(arrays="."), r".*m\.yaml: arrays .*: is a folder, not a file"),
    "arrays empty string": (dict(arrays=""), r".*m\.yaml: arrays must be a file path .*, not ''"),
}


@pytest.mark.parametrize("changes, pattern", TOP_CASES.values(), ids=list(TOP_CASES))
def test_top_level(sandbox, changes, pattern):
    sandbox.native(**changes)
    sandbox.rejects(BUILD, rf"^bitsmith: error: {pattern}$")


def test_too_many_layers(sandbox):
    layer = {"op": "reshape", "shape": [16]}
    sandbox.native([layer] * 1025)
    sandbox.rejects(BUILD, r"^bitsmith: error: .*m\.yaml: 1,025 layers; bitsmith's budget is 1,024$")


# ----------------------------------------------------------------------------- branches
IMAGE = {"shape": [4, 4, 2], "dtype": "UINT2"}
POOL = {"name": "p", "op": "maxpool", "kernel": 2}                            # (2, 2, 2)
SAME = {"name": "q", "op": "maxpool", "kernel": 3, "stride": 1, "pad": 1}      # (4, 4, 2)
ADD = {"name": "s", "op": "add", "inputs": ["q", "input"]}

BRANCH_CASES = {
    "unknown input name": ([{**SAME, "input": "nope"}],
                           r"m\.yaml: layer 'q': input 'nope' is not a layer listed before this one \(known: input\)"),
    "input of a later layer": ([{**SAME, "input": "p"}, POOL],
                               r"m\.yaml: layer 'q': input 'p' is listed after this layer \(a layer reads only "
                               r"layers listed before it, so the network has no cycle\)"),
    "cycle through add": ([SAME, {**ADD, "inputs": ["q", "r"]}, {**SAME, "name": "r", "input": "s"}],
                          r"m\.yaml: layer 's': input 'r' is listed after this layer \(a layer reads only layers "
                          r"listed before it, so the network has no cycle\)"),
    "input of itself": ([{**SAME, "input": "q"}], r"m\.yaml: layer 'q': input 'q' is the layer itself \(a cycle\)"),
    "input as a list": ([{**SAME, "input": ["input"]}],
                        r"m\.yaml: layer 'q': input must be a layer name, or 'input' \(the network input\), "
                        r"not \['input'\]"),
    "input not a name": ([{**SAME, "input": "q 1"}],
                         r"m\.yaml: layer 'q': input must be a layer name, or 'input' \(the network input\), "
                         r"not 'q 1'"),
    "inputs on a one-input op": ([{**SAME, "inputs": ["input"]}],
                                 r"m\.yaml: layer 'q': unknown key 'inputs' for maxpool \(did you mean 'input'\?\)"),
    "add of one input": ([SAME, {**ADD, "inputs": ["q"]}],
                         r"m\.yaml: layer 's': inputs must be a list of 2 layer names \(or 'input'\), not \['q'\]"),
    "add of three inputs": ([SAME, {**ADD, "inputs": ["q", "input", "input"]}],
                            r"m\.yaml: layer 's': inputs must be a list of 2 layer names \(or 'input'\), "
                            r"not \['q', 'input', 'input'\]"),
    "add without inputs": ([SAME, {"name": "s", "op": "add"}], r"m\.yaml: layer 's': inputs is required"),
    "add with input": ([SAME, {"name": "s", "op": "add", "input": "q"}],
                       r"m\.yaml: layer 's': unknown key 'input' for add \(did you mean 'inputs'\?\)"),
    "concat of one input": ([SAME, {"name": "c", "op": "concat", "inputs": ["q"]}],
                            r"m\.yaml: layer 'c': inputs must be a list of 2 to 1024 layer names \(or 'input'\), "
                            r"not \['q'\]"),
    "scale zero": ([SAME, {**ADD, "scale_a": 0}],
                   r"m\.yaml: layer 's': scale_a must be a nonzero integer in -255\.\.255, not 0"),
    "scale out of range": ([SAME, {**ADD, "scale_b": 256}],
                           r"m\.yaml: layer 's': scale_b must be a nonzero integer in -255\.\.255, not 256"),
    "scale huge": ([SAME, {**ADD, "scale_a": -2 ** 40}],
                   r"m\.yaml: layer 's': scale_a must be a nonzero integer in -255\.\.255, not -1099511627776"),
    "scale float": ([SAME, {**ADD, "scale_a": 2.0}],
                    r"m\.yaml: layer 's': scale_a must be a nonzero integer in -255\.\.255, not 2\.0"),
    "scale bool": ([SAME, {**ADD, "scale_b": True}],
                   r"m\.yaml: layer 's': scale_b must be a nonzero integer in -255\.\.255, not True"),
    "scale misspelled": ([SAME, {**ADD, "scale": 2}],
                         r"m\.yaml: layer 's': unknown key 'scale' for add \(did you mean 'scale_b'\?\)"),
    "add of mismatched shapes": ([POOL, {**ADD, "inputs": ["p", "input"]}],
                                 r"m\.yaml: layer 's': add inputs have shapes \(2, 2, 2\) and \(4, 4, 2\)"),
    "concat of mismatched H, W": ([POOL, {"name": "c", "op": "concat", "inputs": ["p", "input"]}],
                                  r"m\.yaml: layer 'c': concat inputs must have equal H, W, not \(2, 2, 2\), "
                                  r"\(4, 4, 2\)"),
    "concat of mismatched datatypes": ([SAME, {**ADD, "scale_a": 3}, {"name": "c", "op": "concat",
                                                                       "inputs": ["s", "input"]}],
                                       r"m\.yaml: layer 'c': concat inputs must have one datatype, not UINT4, UINT2"),
    "concat pe not dividing": ([SAME, {"name": "c", "op": "concat", "inputs": ["q", "input"], "pe": 4}],
                               r"m\.yaml: layer 'c': PE=4 does not divide channels of input 0=2"),
    "fork of one reader": ([{"name": "f", "op": "fork"}, SAME],
                           r"m\.yaml: layer 'f': the fork has 1 reader\(s\), not two or more"),
    "fork outputs wrong": ([{"name": "f", "op": "fork", "outputs": 3}, {**SAME, "input": "f"},
                            {**ADD, "inputs": ["q", "f"]}],
                           r"m\.yaml: layer 'f': the fork has 2 reader\(s\), not 3"),
    "fork outputs one": ([{"name": "f", "op": "fork", "outputs": 1}],
                         r"m\.yaml: layer 'f': outputs must be an integer in 2\.\.1024, not 1"),
    "two outputs": ([SAME, {**SAME, "name": "r", "input": "input"}],
                    r"m\.yaml: network 'net' must have exactly one output, not 2 \(q, r\)"),
    "residual body reads outside": ([SAME, {"name": "r", "op": "residual",
                                            "body": [{**SAME, "name": "b", "input": "input"}]}],
                                    r"m\.yaml: layer 'r': body layer 'b': input 'input' is not a layer listed before "
                                    r"this one \(known: r_fork\)"),
    "residual body changes the shape": ([{"name": "r", "op": "residual", "body": [POOL]}],
                                        r"m\.yaml: layer 'r': the body gives shape \(2, 2, 2\), the add needs the "
                                        r"input shape \(4, 4, 2\)"),
    "residual name clash": ([{"name": "r", "op": "residual", "body": [SAME]}, {**SAME, "name": "r_fork"}],
                            r"m\.yaml: layer 'r_fork': duplicate layer name"),
}


@pytest.mark.parametrize("layers, pattern", BRANCH_CASES.values(), ids=list(BRANCH_CASES))
def test_branches(sandbox, layers, pattern):
    sandbox.native(layers, npz={}, input=IMAGE)
    sandbox.rejects(BUILD, rf"^bitsmith: error: {pattern}$")


def test_a_branching_network_builds(sandbox):
    """Every branch op and key of the cases above in one valid network."""
    layers = [{"name": "c0", "op": "concat", "inputs": ["input", "input"], "pe": 2},
              {"name": "f", "op": "fork", "outputs": 2},
              {**POOL, "input": "f"},
              {**SAME, "name": "r", "input": "f"},
              {**ADD, "inputs": ["r", "c0"], "scale_a": 2, "scale_b": -1},
              {"name": "rs", "op": "residual", "body": [{**SAME, "name": "b"}], "pe": 2},
              {"name": "u", "op": "upsample", "scale": 2, "input": "p"},
              {"name": "out", "op": "add", "inputs": ["rs", "u"]}]
    sandbox.native(layers, npz={}, input=IMAGE)
    code, out, err = sandbox.run("--quiet", *BUILD)
    assert code == 0 and not err, err


def test_duplicate_layer_names(sandbox):
    sandbox.native([{"name": "a", "op": "reshape", "shape": [16]}] * 2)
    sandbox.rejects(BUILD, r"^bitsmith: error: m\.yaml: layer 'a': duplicate layer name$")


# ----------------------------------------------------------------------------- array values
ARRAY_CASES = {
    "uint64 max as BIPOLAR weight": (dict(w0=np.full((8, 16), 2 ** 64 - 1, dtype=np.uint64)),
                                     r"m\.yaml: layer 'fc0': weights\[0, 0\] is 18446744073709551615, which does "
                                     r"not fit a 64-bit signed integer"),
    "float weight": (dict(w0=np.full((8, 16), 0.5)), r".*'fc0': weights\[0, 0\] is 0\.5, which is not an integer"),
    "nan weight": (dict(w0=np.where(np.eye(8, 16) > 0, np.nan, 1.0)), r".*'fc0': weights\[0, 0\] is nan, which is not a finite number"),
    "inf weight": (dict(w0=np.full((8, 16), np.inf, dtype=np.float32)), r".*'fc0': weights\[0, 0\] is inf, which is not a finite number"),
    "1e19 weight": (dict(w0=np.full((8, 16), 1e19)), r".*'fc0': weights\[0, 0\] is 1e\+19, which does not fit a 64-bit signed integer"),
    "weight outside BIPOLAR": (dict(w0=np.where(np.arange(128).reshape(8, 16) == 37, 0, 1)),
                               r".*'fc0': weights\[2, 5\] is 0, outside BIPOLAR \(-1 or \+1\)"),
    "complex weights": (dict(w0=np.ones((8, 16), dtype=np.complex64)), r".*m\.yaml: arrays .*w\.npz: array 'w0': holds "
                                                                       r"'<c8' values; bitsmith reads numbers only .*"),
    "string weights": (dict(w0=np.array([["a"] * 16] * 8)), r".*array 'w0': holds '<U1' values; bitsmith reads numbers only .*"),
    "weights 3-D": (dict(w0=np.ones((8, 16, 1), dtype=np.int8)), r".*'fc0': weights must be 2-D \(out_features, in_features\), not shape \(8, 16, 1\)"),
    "weights wrong width": (dict(w0=np.ones((8, 15), dtype=np.int8)), r".*'fc0': weights have 15 inputs but the layer receives 16 .*"),
    "weights missing": (dict(w0=DROP), r".*'fc0': array 'w0' is not in w\.npz \(has: t0, w1\)"),
    "threshold 1e19": (dict(t0=np.array([[1e19]])), r".*'fc0': thresholds\[0, 0\] is 1e\+19, which does not fit a 64-bit signed integer"),
    "threshold uint64 huge": (dict(t0=np.array([[2 ** 63]], dtype=np.uint64)),
                              r".*'fc0': thresholds\[0, 0\] is 9223372036854775808, which does not fit a 64-bit signed integer"),
    "thresholds 3-D": (dict(t0=np.zeros((1, 1, 1))), r".*'fc0': thresholds must have shape \(8, B\) or \(1, B\), not \(1, 1, 1\)"),
    "thresholds unsorted": (dict(t0=np.array([[5, 3]] * 8)), r".*'fc0': thresholds of channel 0 are not sorted ascending"),
    "thresholds wrong rows": (dict(t0=np.zeros((3, 1), dtype=np.int64)), r".*'fc0': thresholds must have shape \(8, B\) or \(1, B\), not \(3, 1\)"),
}


@pytest.mark.parametrize("arrays, pattern", ARRAY_CASES.values(), ids=list(ARRAY_CASES))
def test_array_values(sandbox, arrays, pattern):
    base = {"w0": RNG.choice([-1, 1], size=(8, 16)).astype(np.int8), "t0": np.zeros((1, 1), dtype=np.int64),
            "w1": RNG.integers(-2, 2, size=(4, 8)).astype(np.int8)}
    base.update(arrays)
    sandbox.native(npz={k: v for k, v in base.items() if v is not DROP})
    sandbox.rejects(BUILD, rf"^bitsmith: error: {pattern}$")


def test_bool_weights_are_zero_and_one(sandbox):
    # booleans convert to 0/1 exactly; 0 is no BIPOLAR value
    sandbox.native(npz={"w0": np.ones((8, 16), dtype=bool) & (np.arange(16) > 0), "t0": np.zeros((1, 1)),
                           "w1": np.zeros((4, 8), dtype=np.int8)})
    sandbox.rejects(BUILD, r"^bitsmith: error: .*'fc0': weights\[0, 0\] is 0, outside BIPOLAR \(-1 or \+1\)$")


def test_unsorted_thresholds_named(sandbox):
    layers = [{"name": "t", "op": "threshold", "thresholds": "t", "out_dtype": "UINT2"}]
    sandbox.native(layers, npz={"t": np.array([[1, 3, 2]] * 16)}, input={"shape": [16], "dtype": "UINT4"})
    sandbox.rejects(BUILD, r"^bitsmith: error: m\.yaml: layer 't': thresholds of channel 0 are not sorted ascending$")


def test_thresholds_near_int64_limits_are_sorted():
    """Ascending thresholds at the int64 limits: no overflow in the order check."""
    from bitsmith.generator.ir import Thresholds, dtype
    lo, hi = -(2 ** 63), 2 ** 63 - 1
    th = Thresholds(values=np.array([[lo, 0, hi]]), out_dtype=dtype("UINT2"))
    th.check("here", 4)       # no "not sorted" from a wrapped-around difference
    with pytest.raises(Exception, match=r"^here: thresholds of channel 0 are not sorted ascending$"):
        Thresholds(values=np.array([[hi, lo]]), out_dtype=dtype("UINT2")).check("here", 4)


def test_hardware_budget(sandbox):
    n = 2048
    layers = [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BINARY", "pe": n, "simd": n}]
    sandbox.native(layers, npz={"w": np.ones((n, n), dtype=np.int8)}, input={"shape": [n], "dtype": "UINT2"})
    sandbox.rejects(BUILD, r"^bitsmith: error: network 'net': the folded design needs an estimated [\d,]+ LUTs and "
                           r"[\d,]+ BRAM18; bitsmith's budget is 2,000,000 LUTs and 20,000 BRAM18 \(fold more: "
                           r"--target-cycles, or smaller pe/simd\)$")


# ----------------------------------------------------------------------------- the .npz itself
def _zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _npy_bytes(array) -> bytes:
    import io
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _header(shape: tuple, descr: str = "<i8") -> bytes:
    """An .npy v1 header for ``shape`` (no data)."""
    text = repr({"descr": descr, "fortran_order": False, "shape": shape})
    text += " " * (-(len(text) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


NPZ_CASES = {
    "text file": (lambda p: p.write_text("w0,w1\n1,2\n"), r"m\.yaml: arrays .*w\.npz: not an \.npz archive \(numpy\.savez writes one\)"),
    "empty file": (lambda p: p.write_bytes(b""), r".*w\.npz: not an \.npz archive .*"),
    "plain npy": (lambda p: np.save(open(p, "wb"), np.ones(3)), r".*w\.npz: not an \.npz archive .*"),
    "pickled object array": (lambda p: np.savez(p, w0=np.array([object()] * 3, dtype=object)),
                             r".*w\.npz: array 'w0': holds '\|O' values; bitsmith reads numbers only .*"),
    "member not npy": (lambda p: _zip(p, {"w0.txt": b"1 2 3"}), r".*w\.npz: member 'w0\.txt' is not a \.npy array"),
    "corrupt member header": (lambda p: _zip(p, {"w0.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': <<<}\n"}),
                              r".*w\.npz: array 'w0': not a numpy \.npy array \(.*\)"),
    "member claims 10**12 elements": (lambda p: _zip(p, {"w0.npy": _header((10 ** 6, 10 ** 6))}),
                                      r".*w\.npz: array 'w0': shape \(1000000, 1000000\) is 1,000,000,000,000 elements; "
                                      r"bitsmith's budget is 67,108,864"),
    "member truncated": (lambda p: _zip(p, {"w0.npy": _header((8, 16)) + b"\0" * 100}),
                         r".*w\.npz: array 'w0' is corrupt \(the header promises 1,024 bytes of data, the archive 100\)"),
    "member negative shape": (lambda p: _zip(p, {"w0.npy": _header((-1, 16))}), r".*array 'w0': not a numpy \.npy array \(.*\)"),
    "member garbage": (lambda p: _zip(p, {"w0.npy": b"\0" * 64}), r".*array 'w0': not a numpy \.npy array \(.*\)"),
    "damaged archive": (lambda p: p.write_bytes(_corrupt_zip()), r".*w\.npz: corrupt \.npz archive.*"),
    "duplicate member": (lambda p: _zip_twice(p), r".*w\.npz: array 'w0' is stored twice"),
}


def _corrupt_zip() -> bytes:
    import io
    buf = io.BytesIO()
    np.savez_compressed(buf, w0=np.arange(1000))
    data = bytearray(buf.getvalue())
    data[60:90] = b"\xff" * 30             # inside the deflated data: CRC or zlib error
    return bytes(data)


def _zip_twice(path) -> None:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _zip(path, {"w0.npy": _npy_bytes(np.ones(3))})
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("w0.npy", _npy_bytes(np.ones(3)))


@pytest.mark.parametrize("make, pattern", NPZ_CASES.values(), ids=list(NPZ_CASES))
def test_npz_files(sandbox, make, pattern):
    sandbox.native()
    path = sandbox.path("w.npz")
    path.unlink()
    make(path)
    sandbox.rejects(BUILD, rf"^bitsmith: error: {pattern}$")


def test_arrays_named_pipe(sandbox):
    sandbox.native(npz={}, arrays="pipe.npz")
    sandbox.fifo("pipe.npz")
    sandbox.rejects(BUILD, r"^bitsmith: error: .*pipe\.npz: is not a regular file \(a pipe, device or socket\); give a file$")


# ----------------------------------------------------------------------------- YAML and JSON
BOMB = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] +
                 [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]) + "\n"

TEXT_CASES = {
    "non-UTF-8 bytes": ("m.yaml", b"name: net\ninput: {shape: [16], dtype: BIPOLAR}\n# \xff\xfe\n",
                        r"m\.yaml: not UTF-8 text \(byte 0xff at offset 49\)"),
    "alias bomb": ("m.yaml", BOMB.encode(), r"m\.yaml: the document expands to more than 200,000 nodes "
                                            r"\(aliases counted each time they are used\) \(line \d+, column \d+\)"),
    "recursive alias": ("m.yaml", b"layers: &l [*l]\n", r"m\.yaml: not valid YAML: a recursive alias \(line 1, column 9\)"),
    "deep nesting": ("m.yaml", b"[" * 5000 + b"]" * 5000,
                     r"m\.yaml: not valid YAML: exceeded maximum nesting depth \(line 1, column 1001\)"),
    "moderate nesting": ("m.yaml", b"[" * 40 + b"]" * 40, r"m\.yaml: nested deeper than 32 levels \(line 1, column 33\)"),
    "duplicate key": ("m.yaml", b"name: a\nname: b\n", r"m\.yaml: not valid YAML: the key 'name' is given twice \(line 2, column 1\)"),
    "syntax error": ("m.yaml", b"layers: [unclosed\n",
                     r"m\.yaml: not valid YAML: did not find expected ',' or '\]' \(line 2, column 1\)"),
    "tab indentation": ("m.yaml", b"input:\n\tshape: [16]\n",
                        r"m\.yaml: not valid YAML: found character that cannot start any token \(line 2, column 1\)"),
    "empty file": ("m.yaml", b"", r"m\.yaml: the top level must be a mapping with 'input' and 'layers', not None"),
    "top-level list": ("m.yaml", b"- a\n- b\n", r"m\.yaml: the top level must be a mapping .*, not \['a', 'b'\]"),
    "top-level scalar": ("m.yaml", b"42\n", r"m\.yaml: the top level must be a mapping .*, not 42"),
    "unhashable key": ("m.yaml", b"? [a, b]\n: 1\n", r"m\.yaml: not valid YAML: found unhashable key \(line 1, column 3\)"),
    "binary tag": ("m.yaml", b"name: !!binary aGVsbG8=\ninput: {shape: [16], dtype: BIPOLAR}\nlayers: [{op: reshape, shape: [16]}]\n",
                   r"m\.yaml: name must be an identifier .*, not b'hello'"),
    "python tag": ("m.yaml", b"name: !!python/object/apply:os.system [echo hi]\n",
                   r"m\.yaml: not valid YAML: could not determine a constructor for the tag "
                   r"'tag:yaml\.org,2002:python/object/apply:os\.system' \(line 1, column 7\)"),
    "JSON deep": ("m.json", b"[" * 100000 + b"]" * 100000, r"m\.json: nested deeper than 32 levels"),
    "JSON moderately deep": ("m.json", b"[" * 40 + b"]" * 40, r"m\.json: nested deeper than 32 levels"),
    "JSON NaN": ("m.json", b'{"name": NaN}', r"m\.json: not valid JSON: NaN is not a JSON number"),
    "JSON duplicate": ("m.json", b'{"name": "a", "name": "b"}', r"m\.json: not valid JSON: the key 'name' is given twice"),
    "JSON syntax": ("m.json", b'{"name": ', r"m\.json: not valid JSON: Expecting value: line 1 column 10 \(char 9\)"),
    "JSON non-UTF-8": ("m.json", b'{"name": "\xc3\x28"}', r"m\.json: not UTF-8 text \(byte 0xc3 at offset 10\)"),
}


@pytest.mark.parametrize("name, data, pattern", TEXT_CASES.values(), ids=list(TEXT_CASES))
def test_yaml_and_json_files(sandbox, name, data, pattern):
    sandbox.path(name).write_bytes(data)
    sandbox.rejects(("build", name, "-o", "out"), rf"^bitsmith: error: {pattern}$")


def test_description_too_large(sandbox):
    with open(sandbox.path("m.yaml"), "wb") as f:      # sparse: refused by its size, never read
        f.truncate(16 * 1024 * 1024 + 1)
    sandbox.rejects(BUILD, r"^bitsmith: error: m\.yaml: 16,777,217 bytes; bitsmith reads at most 16,777,216 bytes here$")


def test_description_is_a_pipe(sandbox):
    sandbox.fifo("m.yaml")
    sandbox.rejects(BUILD, r"^bitsmith: error: m\.yaml: is not a regular file \(a pipe, device or socket\); give a file$")


def test_description_is_a_folder(sandbox):
    sandbox.path("m.yaml").mkdir()
    sandbox.rejects(BUILD, r"^bitsmith: error: m\.yaml: is a folder, not a file$")


def test_json_description_with_wrong_types(sandbox):
    sandbox.native()
    data = json.loads(json.dumps(__import__("yaml").safe_load(sandbox.path("m.yaml").read_text())))
    data["layers"][0]["pe"] = 4.5
    sandbox.path("m.json").write_text(json.dumps(data))
    sandbox.rejects(("build", "m.json", "-o", "out"),
                    r"^bitsmith: error: m\.json: layer 'fc0': pe must be a positive integer or 'auto', not 4\.5$")
