"""Bad input: exit 2, one line on stderr naming the culprit, no traceback, no output."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bitsmith.generator.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "generator" / "examples" / "digits" / "digits.yaml"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def assert_one_line_error(code, err, pattern):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert re.match(pattern, lines[0]), lines[0]


def test_missing_model(capsys, tmp_path):
    code, _, err = run_cli(capsys, "build", tmp_path / "nope.yaml", "-o", tmp_path / "out")
    assert_one_line_error(code, err, r"^bitsmith: error: .*nope\.yaml: no such file$")
    assert not (tmp_path / "out").exists()


def test_bad_layer_leaves_no_output(capsys, tmp_path):
    np.savez(tmp_path / "w.npz", w=np.ones((4, 9), dtype=np.int8))
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({
        "input": {"shape": [8], "dtype": "BIPOLAR"}, "arrays": "w.npz",
        "layers": [{"name": "fc", "op": "dense", "weights": "w", "weight_dtype": "BIPOLAR"}]}))
    code, _, err = run_cli(capsys, "build", tmp_path / "m.yaml", "-o", tmp_path / "out")
    assert_one_line_error(code, err, r"^bitsmith: error: m\.yaml: layer 'fc': weights have 9 inputs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml", "w.npz"]


def test_unknown_model_type(capsys, tmp_path):
    (tmp_path / "m.txt").write_text("hi")
    code, _, err = run_cli(capsys, "build", tmp_path / "m.txt", "-o", tmp_path / "out")
    assert_one_line_error(code, err, r"^bitsmith: error: .*m\.txt: unknown model type '\.txt'")


@pytest.mark.parametrize("argv,pattern", [
    (["build", str(EXAMPLE)], r"^bitsmith: error: the following arguments are required: -o/--out$"),
    (["build", str(EXAMPLE), "-o", "x", "--target-cycles", "0"],
     r"^bitsmith: error: argument --target-cycles: must be a positive integer, not '0'$"),
    (["build", str(EXAMPLE), "-o", "x", "--input-scale", "1/0", "--input-dtype", "UINT8"],
     r"^bitsmith: error: --input-scale must be a positive finite number or a fraction like 1/255, "
     r"not '1/0'$"),
    (["frobnicate"], r"^bitsmith: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (["build", str(EXAMPLE), "-o", "x", "--input-dtype", "FLOAT99"],
     r"^bitsmith: error: --input-dtype: unknown datatype 'FLOAT99'"),
])
def test_usage_errors(capsys, tmp_path, argv, pattern):
    try:
        code = main(argv)           # errors found after parsing return 2
    except SystemExit as exc:       # argparse errors exit 2 through the parser
        code = exc.code
    assert_one_line_error(code, capsys.readouterr().err, pattern)
    assert not Path("x").exists()


def test_golden_rejects_input_outside_dtype(capsys, tmp_path):
    np.save(tmp_path / "x.npy", np.full((2, 64), 3))
    code, _, err = run_cli(capsys, "golden", EXAMPLE, "--input", tmp_path / "x.npy",
                           "--output", tmp_path / "y.npy")
    assert_one_line_error(code, err, r"^bitsmith: error: .*x\.npy: batch\[0, 0\] is 3, outside BIPOLAR \(-1 or \+1\)$")
    assert not (tmp_path / "y.npy").exists()


def test_golden_rejects_wrong_frame_size(capsys, tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2, 63)))
    code, _, err = run_cli(capsys, "golden", EXAMPLE, "--input", tmp_path / "x.npy",
                           "--output", tmp_path / "y.npy")
    assert_one_line_error(code, err, r"^bitsmith: error: .*x\.npy: frames of shape \(63,\), the model takes \(64,\) \(C, batch first\)$")


def test_golden_writes_labels(capsys, tmp_path):
    from bitsmith.generator.examples.digits.train import integer_forward, load_split
    _, x, _, y = load_split()
    np.save(tmp_path / "x.npy", x[:50])
    code, out, err = run_cli(capsys, "golden", EXAMPLE, "--input", tmp_path / "x.npy",
                             "--output", tmp_path / "y.npy", "--topk", "1")
    assert code == 0, err
    labels = np.load(tmp_path / "y.npy").reshape(-1)
    arrays = dict(np.load(EXAMPLE.with_suffix(".npz")))
    assert np.array_equal(labels, integer_forward(arrays, x[:50]))   # the training script's own forward


def test_console_script_subprocess_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bitsmith.generator.cli", "build", str(tmp_path / "x.onnx"),
                           "-o", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- exit codes 3, --debug, --version
def test_version(capsys):
    from bitsmith import __version__
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"bitsmith {__version__}\n"


def test_help_documents_the_exit_codes(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for line in ("0    success", "1    a verification mismatch or failed check",
                 "2    bad input or usage", "3    internal error (a bug in bitsmith)", "128+N  stopped by signal N"):
        assert line in out


def _buggy(monkeypatch):
    from bitsmith.generator.commands import boards

    def broken(args):
        raise KeyError("the registry lost a board\nsecond line")
    monkeypatch.setattr(boards, "_run", broken)


def test_a_bug_is_one_line_exit_3(capsys, monkeypatch):
    _buggy(monkeypatch)
    assert main(["boards"]) == 3
    err = capsys.readouterr().err
    assert re.fullmatch(r"bitsmith: internal error: KeyError: 'the registry lost a board\\nsecond line' "
                        r"\(a bug; rerun with --debug for the traceback\)\n", err), err


@pytest.mark.parametrize("argv", [["--debug", "boards"], ["boards", "--debug"]])
def test_debug_shows_the_traceback(capsys, monkeypatch, argv):
    _buggy(monkeypatch)
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "in broken" in err
    assert err.splitlines()[-1].startswith("bitsmith: internal error: KeyError:")


def test_debug_shows_the_traceback_of_a_user_error_too(capsys, tmp_path):
    assert main(["--debug", "build", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].endswith("nope.yaml: no such file")
