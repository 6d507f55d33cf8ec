"""Hostile command lines: output-folder hazards, path tricks, inputs, outputs, options.

Each case prepares the sandbox (a small valid model ``m.yaml`` unless it says otherwise,
copies of one real build where a command needs one) and expects the clean refusal of
``conftest.Sandbox.rejects``: exit 2, one line, nothing changed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from bitsmith.generator.cli import main
from bitsmith.generator.outdir import MARKER

from conftest import Sandbox

BUILD = ("build", "m.yaml", "-o", "out")
GOLDEN = ("golden", "m.yaml", "--input", "x.npy", "--output", "y.npy")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    """One real build of the sandbox's default model, copied into the cases that need it."""
    root = tmp_path_factory.mktemp("build")
    sb = Sandbox(root, root, None)
    sb.native()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert main(["build", "m.yaml", "-o", "out"]) == 0
    finally:
        os.chdir(cwd)
    return root / "out"


def copy_build(sandbox, build_dir, name="out") -> Path:
    target = sandbox.path(name)
    shutil.copytree(build_dir, target, symlinks=True)
    return target


def x_ok(sandbox, n=3) -> Path:
    np.save(sandbox.path("x.npy"), np.random.default_rng(0).choice([-1, 1], size=(n, 16)).astype(np.int8))
    return sandbox.path("x.npy")


# ----------------------------------------------------------------------------- the output folder
def _model_in_subfolder(sb, bd):
    sb.path("sub").mkdir()
    sb.native(file="sub/m.yaml")
    (sb.path("sub") / "w.npz").write_bytes(sb.path("w.npz").read_bytes())
    sb.path("w.npz").unlink()
    return ("build", "sub/m.yaml", "-o", str(sb.work)), r".*refusing to overwrite OUT .*: it is or contains the input sub/m\.yaml .*"


def _model_saved_in_old_build(sb, bd):
    out = copy_build(sb, bd)
    sb.native(file="out/m.yaml")
    shutil.move(sb.path("w.npz"), out / "w.npz")
    return ("build", "out/m.yaml", "-o", "out"), r".*refusing to overwrite OUT out: it is or contains the input out/m\.yaml .*"


def _foreign(sb, bd):
    sb.native()
    sb.path("out").mkdir()
    (sb.path("out") / "thesis.tex").write_text("years of work")
    return BUILD, r".*refusing to overwrite OUT out: it holds 'thesis\.tex', which bitsmith did not write"


def _build_plus(sb, bd, what):
    sb.native()
    out = copy_build(sb, bd)
    if what == "file":
        (out / "rtl" / "notes.txt").write_text("mine")
    elif what == "changed":
        with open(out / "report.md", "a") as f:
            f.write("my notes\n")
    elif what == "link":
        (out / "sim" / "data").symlink_to(sb.work)
    elif what == "folder":
        (out / "mine").mkdir()
    elif what == "marker garbage":
        (out / MARKER).write_text("{not json")
    elif what == "marker escapes":
        data = json.loads((out / MARKER).read_text())
        data["files"]["../m.yaml"] = {"bytes": 1, "sha256": "0" * 64}
        (out / MARKER).write_text(json.dumps(data))
    elif what == "no marker":
        (out / MARKER).unlink()
    elif what == "marker lies":
        data = json.loads((out / MARKER).read_text())
        data["files"]["design.json"]["sha256"] = "0" * 64
        (out / MARKER).write_text(json.dumps(data))
    return BUILD


OUT_CASES = {
    "OUT is the model's folder": (lambda sb, bd: (sb.native() and ("build", "m.yaml", "-o", ".")),
                                  r".*refusing to overwrite OUT \.: it is or contains the input m\.yaml \(choose a new folder\)"),
    "OUT is the model's folder by absolute path": (lambda sb, bd: (sb.native() and ("build", "m.yaml", "-o", str(sb.work))),
                                                   r".*refusing to overwrite OUT .*work: it is or contains the input m\.yaml .*"),
    "OUT contains the model's folder": (_model_in_subfolder, None),
    "model saved inside an earlier build": (_model_saved_in_old_build, None),
    "OUT contains the current folder": (lambda sb, bd: (sb.native() and ("build", str(sb.work / "m.yaml"), "-o", "..")),
                                        r".*refusing to overwrite OUT \.\.: it is or contains the input .*m\.yaml .*"),
    "OUT is the current folder": (lambda sb, bd: (sb.native(), sb.path("sub").mkdir(), os.chdir(sb.path("sub"))) and
                                  ("build", "../m.yaml", "-o", "."),
                                  r".*refusing to overwrite OUT \.: it is or contains the current folder"),
    "OUT holds a foreign file": (_foreign, None),
    "OUT is a build plus a file": (lambda sb, bd: _build_plus(sb, bd, "file"),
                                   r".*refusing to overwrite OUT out: it holds 'rtl/notes\.txt', which bitsmith did not write"),
    "OUT is a build with a changed file": (lambda sb, bd: _build_plus(sb, bd, "changed"),
                                           r".*refusing to overwrite OUT out: 'report\.md' was changed after bitsmith wrote it"),
    "OUT is a build plus a link": (lambda sb, bd: _build_plus(sb, bd, "link"),
                                   r".*refusing to overwrite OUT out: it holds 'sim/data', a link or special file bitsmith did not make"),
    "OUT is a build plus a folder": (lambda sb, bd: _build_plus(sb, bd, "folder"),
                                     r".*refusing to overwrite OUT out: it holds the folder 'mine', which bitsmith did not make"),
    "OUT marker is garbage": (lambda sb, bd: _build_plus(sb, bd, "marker garbage"),
                              r".*refusing to overwrite OUT out: it has no \.bitsmith-build\.json marker, so it is not known .*"),
    "OUT marker points outside": (lambda sb, bd: _build_plus(sb, bd, "marker escapes"),
                                  r".*refusing to overwrite OUT out: it has no \.bitsmith-build\.json marker, so .*"),
    "OUT without marker": (lambda sb, bd: _build_plus(sb, bd, "no marker"),
                           r".*refusing to overwrite OUT out: it has no \.bitsmith-build\.json marker, so it is not known to "
                           r"hold only bitsmith's files \(a build by an older bitsmith\? remove it yourself\)"),
    "OUT marker with a wrong hash": (lambda sb, bd: _build_plus(sb, bd, "marker lies"),
                                     r".*refusing to overwrite OUT out: 'design\.json' was changed after bitsmith wrote it"),
    "OUT is a file": (lambda sb, bd: (sb.native(), sb.path("out").write_text("x")) and BUILD,
                      r".*refusing to overwrite OUT out: it is not a folder"),
    "OUT is a link to a build": (lambda sb, bd: (sb.native(), copy_build(sb, bd, "real"), sb.path("out").symlink_to("real"))
                                 and BUILD, r".*refusing to overwrite OUT out: it is a symbolic link \(give the folder itself\)"),
    "OUT below a file": (lambda sb, bd: sb.native() and ("build", "m.yaml", "-o", "m.yaml/out"),
                         r"(?:.*OUT m\.yaml/out: cannot make the folder m\.yaml.*|.*m\.yaml/out.*Not a directory.*)"),
    "OUT on a read-only file system": (lambda sb, bd: sb.native() and ("build", "m.yaml", "-o", "/proc/bitsmith-out"),
                                       r".*OUT /proc/bitsmith-out: cannot write there \(.*\)"),
    "OUT name with a newline": (lambda sb, bd: (sb.native(), sb.path("a\nb").mkdir(), (sb.path("a\nb") / "f").write_text("x"))
                                and ("build", "m.yaml", "-o", "a\nb"),
                                r".*refusing to overwrite OUT a\\nb: it holds 'f', which bitsmith did not write"),
    "verify into the model's folder": (lambda sb, bd: (sb.native(), x_ok(sb)) and ("verify", "m.yaml", "--input", "x.npy", "-o", "."),
                                       r".*refusing to overwrite OUT \.: it is or contains the input m\.yaml .*"),
    "verify into a foreign folder": (lambda sb, bd: _foreign(sb, bd) and (x_ok(sb), ) and
                                     ("verify", "m.yaml", "--input", "x.npy", "-o", "out"),
                                     r".*refusing to overwrite OUT out: it holds 'thesis\.tex', which bitsmith did not write"),
    "demo into a foreign folder": (lambda sb, bd: _foreign(sb, bd) and ("demo", "-o", "out"),
                                   r".*refusing to overwrite OUT out: it holds 'thesis\.tex', which bitsmith did not write"),
    "bench into a foreign folder": (lambda sb, bd: (sb.path("b/digits").mkdir(parents=True), (sb.path("b/digits") / "x").write_text("x"))
                                    and ("bench", "--no-synth", "--networks", "digits", "-o", "b"),
                                    r".*refusing to overwrite OUT b/digits: it holds 'x', which bitsmith did not write"),
}


@pytest.mark.parametrize("prepare, pattern", OUT_CASES.values(), ids=list(OUT_CASES))
def test_output_folder(sandbox, build_dir, prepare, pattern):
    result = prepare(sandbox, build_dir)
    argv, pattern = result if pattern is None else (result, pattern)
    sandbox.rejects(argv, rf"^bitsmith: error: {pattern}$")


def test_progress_lines_then_the_error(sandbox):
    """Without --quiet (stderr is no terminal here) the steps that finished before the
    failure print their progress lines; the error is the last line."""
    sandbox.native()
    sandbox.rejects(("build", "m.yaml", "-o", "m.yaml/out"),
                    r"^bitsmith: error: OUT m\.yaml/out: cannot write there \(Not a directory\)$", quiet=False)
    assert len(sandbox.stderr_lines) >= 2 and "] reading m.yaml (" in sandbox.stderr_lines[0], sandbox.stderr_lines


@pytest.mark.parametrize("argv, pattern", [
    (("build", "m.yaml", "-o", "out", "--board", "nope"),
     r"^bitsmith: error: --board: unknown board 'nope' \(known: .*\)$"),
    (("golden", "m.yaml", "--input", "nope.npy", "--output", "y.npy"),
     r"^bitsmith: error: --input nope\.npy: no such file$"),
])
def test_an_error_in_the_first_step_is_alone_without_quiet(sandbox, argv, pattern):
    sandbox.native()
    sandbox.rejects(argv, pattern, quiet=False)
    assert len(sandbox.stderr_lines) == 1, sandbox.stderr_lines


# ----------------------------------------------------------------------------- model paths
PATH_CASES = {
    "missing": (lambda sb: None, ("build", "nope.yaml", "-o", "out"), r"nope\.yaml: no such file"),
    "unknown suffix": (lambda sb: sb.path("m.txt").write_text("x"), ("build", "m.txt", "-o", "out"),
                       r"m\.txt: unknown model type '\.txt' \(expected \.onnx, \.yaml, \.yml or \.json\)"),
    "a device": (lambda sb: None, ("build", "/dev/zero", "-o", "out"),
                 r"/dev/zero: is not a regular file \(a pipe, device or socket\); give a file"),
    "standard input": (lambda sb: None, ("build", "/dev/stdin", "-o", "out"), r"/dev/stdin: .*"),
    "link to a pipe": (lambda sb: (sb.fifo("p"), sb.path("m.yaml").symlink_to("p")), BUILD,
                       r"m\.yaml: is not a regular file \(a pipe, device or socket\); give a file"),
    "dangling link": (lambda sb: sb.path("m.yaml").symlink_to("gone.yaml"), BUILD, r"m\.yaml: no such file"),
    "link loop": (lambda sb: (sb.path("a.yaml").symlink_to("b.yaml"), sb.path("b.yaml").symlink_to("a.yaml")),
                  ("build", "a.yaml", "-o", "out"), r"a\.yaml: cannot read it \(Too many levels of symbolic links\)"),
    "through a file": (lambda sb: sb.native(), ("build", "m.yaml/x.yaml", "-o", "out"),
                       r"m\.yaml/x\.yaml: no such file \(a part of the path is not a folder\)"),
    "name too long": (lambda sb: None, ("build", "x" * 300 + ".yaml", "-o", "out"), r"x+\.yaml: cannot read it \(File name too long\)"),
    "name with a newline": (lambda sb: None, ("build", "a\nb.yaml", "-o", "out"), r"a\\nb\.yaml: no such file"),
    "name with escape codes": (lambda sb: None, ("build", "\x1b[31mred.yaml", "-o", "out"), r"\\x1b\[31mred\.yaml: no such file"),
}


@pytest.mark.parametrize("prepare, argv, pattern", PATH_CASES.values(), ids=list(PATH_CASES))
def test_model_paths(sandbox, prepare, argv, pattern):
    prepare(sandbox)
    sandbox.rejects(argv, rf"^bitsmith: error: {pattern}$")


# ----------------------------------------------------------------------------- options
OPTION_CASES = {
    "target fps nan": (("--target-fps", "nan", "--clock-mhz", "100"), r"argument --target-fps: must be a positive number, not 'nan'"),
    "target fps inf": (("--target-fps", "inf", "--clock-mhz", "100"), r"argument --target-fps: must be a positive number, not 'inf'"),
    "target fps negative": (("--target-fps=-5", "--clock-mhz", "100"), r"argument --target-fps: must be a positive number, not '-5'"),
    "target fps alone": (("--target-fps", "1000"), r"--target-fps and --clock-mhz go together"),
    "clock zero": (("--target-fps", "10", "--clock-mhz", "0"), r"argument --clock-mhz: must be a positive number, not '0'"),
    "target cycles and fps": (("--target-cycles", "8", "--target-fps", "10", "--clock-mhz", "1"),
                              r"give either --target-cycles or --target-fps with --clock-mhz, not both"),
    "target cycles zero": (("--target-cycles", "0",), r"argument --target-cycles: must be a positive integer, not '0'"),
    "target cycles text": (("--target-cycles", "fast"), r"argument --target-cycles: must be a positive integer, not 'fast'"),
    "target cycles huge": (("--target-cycles", "9" * 40), r"argument --target-cycles: must be a positive integer, not '9+'"),
    "target cycles in e-notation": (("--target-cycles", "1e3"), r"argument --target-cycles: must be a positive integer, not '1e3'"),
    "topk above the classes": (("--topk", "9"), r"--topk must be in 1\.\.4, not 9"),
    "board unknown": (("--board", "nope"), r"--board: unknown board 'nope' \(known: .*\)"),
    "sparse choice": (("--sparse", "on"), r"argument --sparse: invalid choice: 'on' \(choose from 'off', 'auto'\)"),
    "input dtype differs": (("--input-dtype", "UINT8"), r"--input-dtype UINT8 differs from m\.yaml's input datatype BIPOLAR"),
    "input scale on native": (("--input-dtype", "BIPOLAR", "--input-scale", "0.5"),
                              r"--input-scale applies to ONNX models; m\.yaml already takes integers"),
    "fold file missing": (("--fold", "nope.json"), r"--fold nope\.json: no such file"),
    "fold file a folder": (("--fold", "."), r"--fold \.: is a folder, not a file"),
    "fold file a pipe": (("--fold", "pipe.json"), r"--fold pipe\.json: is not a regular file .*"),
    "fold not JSON": (("--fold", "f.txt"), r"--fold f\.txt: cannot read JSON \(.*\)"),
    "fold a list": (("--fold", "list.json"), r"--fold list\.json: must map layer names to \{\"pe\": P, \"simd\": S\}"),
    "fold value a list": (("--fold", "vlist.json"), r"--fold vlist\.json: must map layer names to .*"),
    "fold value bool": (("--fold", "bool.json"), r"--fold bool\.json: layer 'fc0' takes \['pe', 'simd'\] as positive integers, not .*"),
    "fold unknown layer": (("--fold", "unknown.json"), r"--fold unknown\.json: no layer named 'fc9' \(layers: fc0, fc1\)"),
    "fold not dividing": (("--fold", "div.json"), r"layer 'fc0': PE=3 does not divide out_features=8"),
    "fold not UTF-8": (("--fold", "bin.json"), r"--fold .*bin\.json: not UTF-8 text \(byte 0xff at offset 0\)"),
}

FOLD_FILES = {"f.txt": "pe=2", "list.json": "[1, 2]", "vlist.json": '{"fc0": [1]}',
              "bool.json": '{"fc0": {"pe": true}}', "unknown.json": '{"fc9": {"pe": 1}}', "div.json": '{"fc0": {"pe": 3}}'}


@pytest.mark.parametrize("options, pattern", OPTION_CASES.values(), ids=list(OPTION_CASES))
def test_build_options(sandbox, options, pattern):
    sandbox.native()
    for name, text in FOLD_FILES.items():
        sandbox.path(name).write_text(text)
    sandbox.path("bin.json").write_bytes(b"\xff{}")
    sandbox.fifo("pipe.json")
    sandbox.rejects(BUILD + options, rf"^bitsmith: error: {pattern}$")


# ----------------------------------------------------------------------------- input batches
def _npy(sb, array, name="x.npy"):
    np.save(sb.path(name), array)


def _raw(sb, data: bytes, name="x.npy"):
    sb.path(name).write_bytes(data)


def _header(shape, descr="<i8") -> bytes:
    text = repr({"descr": descr, "fortran_order": False, "shape": shape})
    text += " " * (-(len(text) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


INPUT_CASES = {
    "missing": (lambda sb: None, r"--input x\.npy: no such file"),
    "empty file": (lambda sb: _raw(sb, b""), r"--input x\.npy: empty file, not a numpy \.npy array"),
    "a folder": (lambda sb: sb.path("x.npy").mkdir(), r"--input x\.npy: is a folder, not a file"),
    "a pipe": (lambda sb: sb.fifo("x.npy"), r"--input x\.npy: is not a regular file .*"),
    "text": (lambda sb: sb.path("x.npy").write_text("1,2,3"), r"--input x\.npy: not a numpy \.npy array \(.*\)"),
    "pickled objects": (lambda sb: _npy(sb, np.array([[object()] * 16], dtype=object)),
                        r"--input x\.npy: holds '\|O' values; bitsmith reads numbers only .*"),
    "header claims 10**12": (lambda sb: _raw(sb, _header((10 ** 6, 10 ** 6))),
                             r"--input x\.npy: shape \(1000000, 1000000\) is 1,000,000,000,000 elements; bitsmith's budget is 67,108,864"),
    "truncated data": (lambda sb: _raw(sb, _header((3, 16)) + b"\0" * 10),
                       r"--input x\.npy: corrupt \.npy \(the header promises 384 bytes of data, the file has 10\)"),
    "uint64 max": (lambda sb: _npy(sb, np.full((2, 16), 2 ** 64 - 1, dtype=np.uint64)),
                   r"x\.npy: batch\[0, 0\] is 18446744073709551615, which does not fit a 64-bit signed integer"),
    "float 0.5": (lambda sb: _npy(sb, np.full((2, 16), 0.5)), r"x\.npy: batch\[0, 0\] is 0\.5, which is not an integer"),
    "nan": (lambda sb: _npy(sb, np.full((2, 16), np.nan)), r"x\.npy: batch\[0, 0\] is nan, which is not a finite number"),
    "outside BIPOLAR": (lambda sb: _npy(sb, np.where(np.arange(32).reshape(2, 16) == 20, 0, 1)),
                        r"x\.npy: batch\[1, 4\] is 0, outside BIPOLAR \(-1 or \+1\)"),
    "booleans with a False": (lambda sb: _npy(sb, np.arange(32).reshape(2, 16) != 3),
                              r"x\.npy: batch\[0, 3\] is 0, outside BIPOLAR \(-1 or \+1\)"),
    "complex": (lambda sb: _npy(sb, np.ones((2, 16), dtype=np.complex128)), r"--input x\.npy: holds '<c16' values; .*"),
    "scalar": (lambda sb: _npy(sb, np.int8(1)), r"--input x\.npy: needs at least one frame \(batch first\), got shape \(\)"),
    "no frames": (lambda sb: _npy(sb, np.ones((0, 16))), r"--input x\.npy: needs at least one frame \(batch first\), got shape \(0, 16\)"),
    "wrong length": (lambda sb: _npy(sb, np.ones((2, 15))), r"x\.npy: frames of shape \(15,\), the model takes \(16,\) \(C, batch first\)"),
    "image for a vector": (lambda sb: _npy(sb, np.ones((2, 4, 4, 1))),
                           r"x\.npy: frames of shape \(4, 4, 1\), the model takes \(16,\) \(C, batch first\); "
                           r"x\.reshape\(-1, 16\) gives that shape if the values are in that order"),
}


@pytest.mark.parametrize("prepare, pattern", INPUT_CASES.values(), ids=list(INPUT_CASES))
def test_golden_inputs(sandbox, prepare, pattern):
    sandbox.native()
    prepare(sandbox)
    sandbox.rejects(GOLDEN, rf"^bitsmith: error: {pattern}$")


def _conv_model(sb):
    layers = [{"name": "c0", "op": "conv", "weights": "cw", "weight_dtype": "INT2", "pad": 1}]
    sb.native(layers, npz={"cw": np.ones((2, 3, 3, 3), dtype=np.int8)}, input={"shape": [5, 6, 3], "dtype": "UINT2"})


@pytest.mark.parametrize("shape, pattern", [
    ((2, 3, 5, 6), r"x\.npy: frames of shape \(3, 5, 6\), the model takes \(5, 6, 3\) \(NHWC, batch first\); it looks like "
                   r"channels first \(NCHW\): x\.transpose\(0, 2, 3, 1\) gives NHWC"),
    ((2, 90), r"x\.npy: frames of shape \(90,\), the model takes \(5, 6, 3\) \(NHWC, batch first\); x\.reshape\(-1, 5, 6, 3\) "
              r"gives that shape if the values are in that order"),
    ((2, 6, 5, 3), r"x\.npy: frames of shape \(6, 5, 3\), the model takes \(5, 6, 3\) \(NHWC, batch first\)"),
], ids=["NCHW batch", "flat batch", "H and W swapped"])
def test_batch_layouts_for_an_image_model(sandbox, shape, pattern):
    _conv_model(sandbox)
    np.save(sandbox.path("x.npy"), np.ones(shape, dtype=np.int8))
    sandbox.rejects(GOLDEN, rf"^bitsmith: error: {pattern}$")


# ----------------------------------------------------------------------------- output files
OUTPUT_CASES = {
    "a folder": (lambda sb: sb.path("y.npy").mkdir(), "y.npy", r"--output y\.npy is a folder; give a file name"),
    "the input": (lambda sb: None, "x.npy", r"--output x\.npy is also an input of this command; refusing to overwrite it"),
    "the model": (lambda sb: None, "m.yaml", r"--output m\.yaml is also an input of this command; refusing to overwrite it"),
    "a foreign file": (lambda sb: sb.path("notes.txt").write_text("mine"), "notes.txt",
                       r"--output notes\.txt exists and does not hold an earlier result of this kind; refusing to overwrite it"),
    "missing folder": (lambda sb: None, "nope/y.npy", r"--output nope/y\.npy: folder nope does not exist"),
    "a pipe": (lambda sb: sb.fifo("y.npy"), "y.npy", r"--output y\.npy is not a regular file .*"),
    "a dangling link": (lambda sb: sb.path("y.npy").symlink_to("gone.npy"), "y.npy", r"--output y\.npy is a broken link; refusing to replace it"),
    "a link to an array": (lambda sb: (np.save(sb.path("z.npy"), np.ones(2)), sb.path("y.npy").symlink_to("z.npy")), "y.npy",
                           r"--output y\.npy is a symbolic link; refusing to replace it"),
    "a device": (lambda sb: None, "/dev/null", r"--output /dev/null is not a regular file .*"),
}


@pytest.mark.parametrize("prepare, output, pattern", OUTPUT_CASES.values(), ids=list(OUTPUT_CASES))
def test_golden_outputs(sandbox, prepare, output, pattern):
    sandbox.native()
    x_ok(sandbox)
    prepare(sandbox)
    sandbox.rejects(("golden", "m.yaml", "--input", "x.npy", "--output", output), rf"^bitsmith: error: {pattern}$")


def test_golden_replaces_its_own_earlier_result(sandbox):
    sandbox.native()
    x_ok(sandbox)
    np.save(sandbox.path("y.npy"), np.zeros(3))
    assert sandbox.run(*GOLDEN)[0] == 0
    assert np.load(sandbox.path("y.npy")).shape == (3, 1, 1, 4)
    assert sorted(p.name for p in sandbox.work.iterdir()) == ["m.yaml", "w.npz", "x.npy", "y.npy"]


# ----------------------------------------------------------------------------- sim on a build
def _design(sb, bd, change):
    out = copy_build(sb, bd)
    path = out / "design.json"
    if isinstance(change, bytes):
        path.write_bytes(change)
    else:
        design = json.loads(path.read_text())
        change(design)
        path.write_text(json.dumps(design))
    return out


def _set(key, value):
    def change(d):
        d[key] = value
    return change


def _set_io(key, value):
    def change(d):
        d["io"][key] = value
    return change


def _first_node_kind(kind):
    def change(d):
        d["graph"]["nodes"][0]["__kind__"] = kind
    return change


SIM_CASES = {
    "OUT is a file": (lambda sb, bd: sb.path("out").write_text("x"), r"out: not a bitsmith build \(not a folder\)"),
    "OUT has no design": (lambda sb, bd: sb.path("out").mkdir(), r"out: not a bitsmith build \(no design\.json\)"),
    "design is a list": (lambda sb, bd: _design(sb, bd, b"[1, 2]"), r"out/design\.json: not a bitsmith design \(not a JSON object\)"),
    "design not UTF-8": (lambda sb, bd: _design(sb, bd, b'{"a": "\xff"}'), r"out/design\.json: not UTF-8 text \(byte 0xff at offset 7\)"),
    "design nested deep": (lambda sb, bd: _design(sb, bd, b"[" * 100000 + b"]" * 100000),
                           r"out/design\.json: not a bitsmith design \(nested too deeply\)"),
    "design not JSON": (lambda sb, bd: _design(sb, bd, b"{"), r"out/design\.json: not valid JSON \(.*\)"),
    "design format": (lambda sb, bd: _design(sb, bd, _set("format", "other/9")),
                      r"out/design\.json: unknown format 'other/9' \(expected bitsmith-design/1\)"),
    "design without graph": (lambda sb, bd: _design(sb, bd, lambda d: d.pop("graph")),
                             r"out/design\.json: not a bitsmith build's design \(no graph\)"),
    "unknown layer kind": (lambda sb, bd: _design(sb, bd, _first_node_kind("Teleporter")),
                           r"out/design\.json: design\.json: unknown layer kind 'Teleporter'"),
    "object array": (lambda sb, bd: _design(sb, bd, lambda d: d["graph"]["nodes"][0]["weights"].update(dtype="object")),
                     r"out/design\.json: design\.json: arrays hold numbers, not object"),
    "verilog path escapes": (lambda sb, bd: _design(sb, bd, _set_io("verilog", "../../etc/passwd")),
                             r"out/design\.json: io\.verilog must be a path inside the build, not '\.\./\.\./etc/passwd'"),
    "top not an identifier": (lambda sb, bd: _design(sb, bd, _set_io("top", "x; rm -rf /")),
                              r"out/design\.json: io\.top must be an identifier: .*"),
    "bad stream width": (lambda sb, bd: _design(sb, bd, lambda d: d["io"]["in"].update(tdata_bits=True)),
                         r"out/design\.json: io\.in\.tdata_bits must be a positive integer, not True"),
    "layer reads an unknown tensor": (lambda sb, bd: _design(sb, bd, _first_node_inputs(["ghost"])),
                                      r"out/design\.json: layer 'fc0' reads 'ghost', which is neither a layer nor "
                                      r"the graph input 'input'"),
    "layers in a cycle": (lambda sb, bd: _design(sb, bd, _first_node_inputs(["fc1"])),
                          r"out/design\.json: layer 'fc0' reads 'fc1', which is listed after it: the graph has a "
                          r"cycle \(fc0 -> fc1 -> fc0\)"),
    "layer inputs not names": (lambda sb, bd: _design(sb, bd, _first_node_inputs([7])),
                               r"out/design\.json: design\.json: a layer's inputs are not a list of tensor names"),
    "FIFO of two words": (lambda sb, bd: _design(sb, bd, lambda d: d["graph"]["fifos"][0].update(depth=2)),
                          r"out/design\.json: design\.json: a FIFO edge needs port names, a depth >= 3 and "
                          r"positive widths, not FifoEdge\(.*depth=2.*\)"),
    "FIFOs not a list of edges": (lambda sb, bd: _design(sb, bd, lambda d: d["graph"].update(fifos=[3])),
                                  r"out/design\.json: design\.json: the graph's fifos are not a list of FIFO edges"),
}


def _first_node_inputs(inputs):
    def change(d):
        d["graph"]["nodes"][0]["inputs"] = inputs
    return change


@pytest.mark.parametrize("prepare, pattern", SIM_CASES.values(), ids=list(SIM_CASES))
def test_sim_on_damaged_builds(sandbox, build_dir, prepare, pattern):
    prepare(sandbox, build_dir)
    x_ok(sandbox)
    sandbox.rejects(("sim", "out", "--input", "x.npy", "--output", "y.npy"), rf"^bitsmith: error: {pattern}$")


@pytest.mark.parametrize("argv, prepare, pattern", [
    (("--waves", "w"), lambda sb: sb.path("w").mkdir(), r"--waves w is a folder; give a file name"),
    (("--waves", "w.vcd"), lambda sb: sb.path("w.vcd").write_text("my notes"),
     r"--waves w\.vcd exists and does not hold an earlier result of this kind; refusing to overwrite it"),
    (("--waves", "x.npy"), lambda sb: None, r"--waves x\.npy is also an input of this command; refusing to overwrite it"),
    (("--simulator", "iverilog"), lambda sb: None, r"argument --simulator: invalid choice: 'iverilog' .*"),
], ids=["waves folder", "waves foreign", "waves the input", "simulator"])
def test_sim_options(sandbox, build_dir, argv, prepare, pattern):
    copy_build(sandbox, build_dir)
    x_ok(sandbox)
    prepare(sandbox)
    sandbox.rejects(("sim", "out", "--input", "x.npy", "--output", "y.npy") + argv, rf"^bitsmith: error: {pattern}$")


def test_sim_output_into_the_build(sandbox, build_dir):
    copy_build(sandbox, build_dir)
    x_ok(sandbox)
    sandbox.rejects(("sim", "out", "--input", "x.npy", "--output", "out/design.json"),
                    r"^bitsmith: error: --output out/design\.json is also an input of this command; refusing to overwrite it$")


# ----------------------------------------------------------------------------- other commands
def _board_folder(sb, bd):
    out = copy_build(sb, bd)
    (out / "board" / "icebreaker").mkdir(parents=True)
    (out / "board" / "icebreaker" / "mine.txt").write_text("x")


def _spram_build(sb, bd):
    out = copy_build(sb, bd)
    design = json.loads((out / "design.json").read_text())
    design["graph"]["nodes"][0]["weight_memory"] = "spram"       # as a build folded for the iCEBreaker
    (out / "design.json").write_text(json.dumps(design))


COMMAND_CASES = {
    "synth over foreign board files": (_board_folder, ("synth", "out", "--board", "icebreaker"),
                                       r"synth: out/board/icebreaker: refusing to replace it \(it holds 'board/icebreaker/mine\.txt', "
                                       r"which bitsmith did not write\)"),
    "synth clock nan": (lambda sb, bd: copy_build(sb, bd), ("synth", "out", "--board", "icebreaker", "--clock-mhz", "nan"),
                        r"argument --clock-mhz: must be a positive number, not 'nan'"),
    "synth on a non-build": (lambda sb, bd: sb.path("out").mkdir(), ("synth", "out", "--board", "icebreaker"),
                             r"out: not a build output \(no design\.json\)"),
    "synth an SPRAM build for the ECP5": (_spram_build, ("synth", "out", "--board", "ulx3s"),
                                          r"--board ulx3s: out keeps the weights of '[^']+' in iCE40 SPRAM \(it was "
                                          r"folded for an iCE40 UltraPlus board\), which LFE5U-85F does not have; build "
                                          r"it again with --board ulx3s"),
    "synth unknown board": (lambda sb, bd: copy_build(sb, bd), ("synth", "out", "--board", "nope"), r".*nope.*"),
    "sweep targets unicode": (lambda sb, bd: sb.native(), ("sweep", "m.yaml", "--targets", "\u00b2"),
                              r"--targets must be positive integers separated by commas, not '\u00b2'"),
    "sweep targets zero": (lambda sb, bd: sb.native(), ("sweep", "m.yaml", "--targets", "0,4"),
                           r"--targets must be positive integers separated by commas, not '0,4'"),
    "sweep too many targets": (lambda sb, bd: sb.native(), ("sweep", "m.yaml", "--targets", ",".join(map(str, range(1, 400)))),
                               r"--targets gives 399 targets; at most 256"),
    "sweep jobs zero": (lambda sb, bd: sb.native(), ("sweep", "m.yaml", "--jobs", "0"), r"argument --jobs: must be a positive integer, not '0'"),
    "bench unknown network": (lambda sb, bd: None, ("bench", "--networks", "resnet"), r".*resnet.*"),
    "bench two frames": (lambda sb, bd: None, ("bench", "--no-synth", "--frames", "2"),
                         r"--frames must be an integer >= 3 \(steady state needs 3\), not 2"),
    "run output folder": (lambda sb, bd: (copy_build(sb, bd), x_ok(sb), sb.path("y").mkdir()),
                          ("run", "out", "--board", "icebreaker", "--port", "/dev/null", "--input", "x.npy", "--output", "y"),
                          r"--output y is a folder; give a file name"),
    "run baud zero": (lambda sb, bd: None, ("run", "--board", "icebreaker", "--port", "p", "--input", "x", "--output", "y",
                                            "--baud", "0"), r"argument --baud: must be a positive integer, not '0'"),
    "run timeout nan": (lambda sb, bd: None, ("run", "--board", "icebreaker", "--port", "p", "--input", "x", "--output", "y",
                                              "--timeout", "nan"), r"argument --timeout: must be a positive number, not 'nan'"),
    "run retries negative": (lambda sb, bd: None, ("run", "--board", "icebreaker", "--port", "p", "--input", "x", "--output",
                                                   "y", "--retries=-1"), r"argument --retries: must be an integer >= 0, not '-1'"),
    "demo target cycles zero": (lambda sb, bd: None, ("demo", "--target-cycles", "0"),
                                r"argument --target-cycles: must be a positive integer, not '0'"),
    "verify expected of the wrong size": (lambda sb, bd: (sb.native(), x_ok(sb), np.save(sb.path("e.npy"), np.ones(7))),
                                          ("verify", "m.yaml", "--input", "x.npy", "--expected", "e.npy"),
                                          r"--expected holds 7 values for 3 frames of 4 outputs"),
    "verify input of the wrong shape": (lambda sb, bd: (sb.native(), np.save(sb.path("x.npy"), np.ones((3, 15)))),
                                        ("verify", "m.yaml", "--input", "x.npy"),
                                        r"x\.npy: frames of shape \(15,\), the model takes \(16,\) \(C, batch first\)"),
    "unknown command": (lambda sb, bd: None, ("frobnicate",), r"argument COMMAND: invalid choice: 'frobnicate' .*"),
    "no command": (lambda sb, bd: None, (), r"the following arguments are required: COMMAND"),
    "build without -o": (lambda sb, bd: sb.native(), ("build", "m.yaml"), r"the following arguments are required: -o/--out"),
}


@pytest.mark.parametrize("prepare, argv, pattern", COMMAND_CASES.values(), ids=list(COMMAND_CASES))
def test_commands(sandbox, build_dir, prepare, argv, pattern):
    prepare(sandbox, build_dir)
    sandbox.rejects(argv, rf"^bitsmith: error: {pattern}$")


# ----------------------------------------------------------------------------- regressions that must work
def test_design_json_keeps_a_reshape_layer(sandbox):
    """``Reshape`` is a layer kind and a host stage: design.json must tell them apart."""
    from bitsmith.generator.build import BuildOptions, load_model, prepare
    from bitsmith.generator.ir import Reshape
    from bitsmith.generator.ir.serialize import dump_graph, load_graph
    sandbox.native([{"name": "r", "op": "reshape", "shape": [4, 4, 1]}, {"name": "r2", "op": "reshape", "shape": [16]}])
    graph = prepare(load_model(sandbox.path("m.yaml"), BuildOptions()), BuildOptions())
    again = load_graph(json.loads(json.dumps(dump_graph(graph))))
    assert [type(n) for n in again.nodes] == [Reshape, Reshape]
    assert [type(s).__name__ for s in again.host_pre] == ["InputFrame", "ToNHWC"]


def test_amaranth_sim_of_a_build_with_a_reshape_layer(sandbox):
    layers = [{"name": "r", "op": "reshape", "shape": [16]},
              {"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "INT2", "pe": 2, "simd": 4}]
    sandbox.native(layers, npz={"w": np.ones((4, 16), dtype=np.int8)}, input={"shape": [4, 4, 1], "dtype": "UINT2"})
    np.save(sandbox.path("x.npy"), np.arange(48).reshape(3, 4, 4, 1) % 4)
    assert sandbox.run(*BUILD)[0] == 0
    code, out, err = sandbox.run("sim", "out", "--input", "x.npy", "--output", "y.npy", "--simulator", "amaranth")
    assert code == 0, err
    expected = (np.arange(48).reshape(3, 16) % 4).sum(axis=1)
    assert np.array_equal(np.load(sandbox.path("y.npy")).reshape(3, 4), np.repeat(expected[:, None], 4, axis=1))
