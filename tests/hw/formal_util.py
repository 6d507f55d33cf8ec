"""Helpers of the formal tests (marker ``formal``): prove, or expect a counterexample.

Every proof runs from scratch in the test's ``tmp_path`` (nothing is cached). The
k-induction depth or BMC depth of each proof is stated in the test that runs it.
"""

from __future__ import annotations

from pathlib import Path

from bitsmith.sim.formal.sby import ProofResult, run_sby, valid_depends_on_ready


def assert_proven(harness, *, mode: str, depth: int, workdir: Path) -> ProofResult:
    """``harness`` (``(module, free inputs)``) passes: by k-induction of ``depth``
    (``mode="prove"``) or with no failure in ``depth`` cycles from reset (``"bmc"``)."""
    result = run_sby(*harness, mode=mode, depth=depth, workdir=workdir)
    assert result.status == "PASS", result.summary()
    return result


def assert_fails(harness, prop: str, *, depth: int, workdir: Path) -> ProofResult:
    """BMC of ``depth`` finds a counterexample from reset that breaks check ``prop``
    (a check name, or the end of one: ``"order"`` matches ``track_order``)."""
    result = run_sby(*harness, mode="bmc", depth=depth, workdir=workdir)
    assert result.status == "FAIL", result.summary()
    assert any(name.endswith(prop) for name in result.failed), result.summary()
    return result


def assert_valid_independent_of_ready(component, workdir: Path, *, valid: str = "o__valid",
                                      ready: str = "o__ready") -> None:
    assert not valid_depends_on_ready(component, valid, ready, workdir=workdir), \
        f"{valid} is in the combinational cone of {ready}"


def assert_valid_depends_on_ready(component, workdir: Path) -> None:
    assert valid_depends_on_ready(component, workdir=workdir), "the check found no path"
