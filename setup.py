"""Package layout: the repository keeps the product's top-level folders (``generator/``,
``hw/``, ``sim/``, ``boards/``, ``templates/``); installed, they live under the one
``bitsmith`` namespace (``bitsmith.generator``, ``bitsmith.hw``, ...), so nothing generic
lands in site-packages. Everything else is in ``pyproject.toml``."""

from setuptools import find_packages, setup

FOLDERS = ("generator", "hw", "sim", "boards", "templates")

setup(
    package_dir={"bitsmith": "bitsmith", **{f"bitsmith.{f}": f for f in FOLDERS}},
    packages=["bitsmith"] + [f"bitsmith.{p}" for p in find_packages(include=[f"{f}*" for f in FOLDERS])],
)
