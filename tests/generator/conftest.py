"""Shared fixtures of the generator tests."""

from __future__ import annotations

import pytest

import branching_nets


@pytest.fixture
def branching_net(tmp_path):
    """``branching_net(name) -> Path``: write one of :data:`branching_nets.NETS` to ``tmp_path``."""
    return lambda which: branching_nets.write_net(tmp_path, which)
