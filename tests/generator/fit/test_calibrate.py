"""The calibration fit (``bitsmith.generator.fit.calibrate``) recovers known coefficients."""

import numpy as np
import pytest

from bitsmith.generator.fit.calibrate import DESIGNS, KEYS, Measured, fit, main


def test_fit_recovers_the_coefficients_that_made_the_counts():
    rng = np.random.default_rng(1)
    truth = {"xnor": 2.9, "compare": 2.1, "layer": 120.0, "skid": 2.5}
    designs = []
    for d in range(6):
        layers = []
        for i in range(4):
            feats = {"xnor": int(rng.integers(1, 1000)), "compare": int(rng.integers(0, 80)),
                     "control": int(rng.integers(100, 700)), "layer": 1, "skid": int(rng.integers(3, 40))}
            luts = sum(truth.get(k, 0) * v for k, v in feats.items())
            layers.append((f"L{i}", luts, feats))
        model = float(rng.integers(300, 900))
        designs.append(Measured(f"d{d}", None, layers, 0.9 * model, model, 0.0, 0.0))
    coef, plumbing = fit(designs)
    assert set(coef) == set(KEYS)
    for key in KEYS:
        assert coef[key] == pytest.approx(truth.get(key, 0.0), abs=1e-6), key
    assert plumbing == pytest.approx(0.9)


def test_every_design_names_a_file_of_the_checkout_and_unknown_ones_are_refused(capsys):
    from bitsmith.generator.bench import NETWORKS
    assert all((model or NETWORKS[kw["bench"]].source).exists() for model, kw in DESIGNS.values())
    with pytest.raises(SystemExit) as exc:
        main(["/nonexistent", "--designs", "tfc1-board,lenet"])
    assert exc.value.code == 2
    assert "unknown design(s): lenet" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["/nonexistent", "--keep", "threshold,wires"])
    assert exc.value.code == 2
    assert "--keep takes layer coefficients of: xnor," in capsys.readouterr().err


def test_kept_coefficients_stay_and_the_others_fit_what_is_left():
    truth = {"xnor": 2.9, "compare": 2.1, "layer": 120.0, "threshold": 1.5}
    rng = np.random.default_rng(2)
    layers = []
    for i in range(12):
        feats = {"xnor": int(rng.integers(1, 1000)), "compare": int(rng.integers(0, 80)),
                 "layer": 1, "threshold": int(rng.integers(0, 300))}
        layers.append((f"L{i}", sum(truth[k] * v for k, v in feats.items()), feats))
    coef, _ = fit([Measured("d", None, layers, 1.0, 1.0, 0.0, 0.0)], fixed={"threshold": 1.5})
    assert coef["threshold"] == 1.5
    for key in ("xnor", "compare", "layer"):
        assert coef[key] == pytest.approx(truth[key], abs=1e-6), key
