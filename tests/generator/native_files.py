"""Writing small native descriptions (YAML + .npz) for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml


def write_native(tmp_path: Path, name: str, layers: list, arrays: dict, in_shape, in_dtype: str) -> Path:
    """``tmp_path/net.yaml`` with ``layers`` over ``arrays`` (in ``w.npz``); returns its path."""
    np.savez(tmp_path / "w.npz", **arrays)
    spec = {"name": name, "input": {"shape": list(in_shape), "dtype": in_dtype}, "arrays": "w.npz",
            "layers": layers}
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
