"""The documentation: the Sphinx site builds with warnings as errors (a broken link, a
missing page, an unresolved cross-reference or a docstring that does not render fails),
every module, file and object a page names exists, and the README's tour runs."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
FOLDERS = ("generator", "hw", "sim", "boards", "templates")

# a repository path: a top-level folder, then at least one more part (bitsmith/<folder>/...
# is where an installed file lives, so it names the repository's <folder>/...)
PATH = re.compile(r"(?<![\w./-])((?:bitsmith/)?(?:generator|hw|sim|boards|templates|tests|docs|examples|bitsmith)"
                  r"/[\w./<>*-]*)")
# a dotted Python name under the package: bitsmith.x.y, or generator.x / hw.x / sim.x / boards.x
DOTTED = re.compile(r"(?<![\w./-])((?:bitsmith|generator|hw|sim|boards)(?:\.[A-Za-z_]\w*)+)")


def sphinx_build(src: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(src), str(out)], capture_output=True, text=True, timeout=600)


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    run = sphinx_build(DOCS, tmp_path / "html")
    assert run.returncode == 0, run.stderr[-5000:]
    html = {p.stem for p in (tmp_path / "html").glob("*.html")}
    assert {"index", "tour", "api", "NATIVE", "finn", "brevitas", "ARCHITECTURE", "CONV", "TRUST"} <= html
    api = (tmp_path / "html" / "api.html").read_text()
    for name in ("load", "fold", "build", "golden", "simulate", "verify", "synthesise", "Network", "BuildOptions"):
        assert f'id="bitsmith.{name}"' in api, name


def test_a_broken_reference_fails_the_build(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    src = tmp_path / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build"))
    (src / "finn.md").write_text((src / "finn.md").read_text() + "\nSee [nowhere](missing.md) and "
                                 "{func}`bitsmith.no_such_function`.\n")
    run = sphinx_build(src, tmp_path / "html")
    assert run.returncode != 0
    assert "missing.md" in run.stderr and "bitsmith.no_such_function" in run.stderr


def _exists(dotted: str) -> bool:
    name = dotted if dotted.startswith("bitsmith.") else f"bitsmith.{dotted}"
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def named_paths(text: str) -> set[str]:
    out = set()
    for match in PATH.findall(text):
        path = match.rstrip(".,:;)")
        if "<" in path or "*" in path or "/_build" in path:     # placeholders, build outputs
            continue
        head = path.split("/")
        if head[0] == "bitsmith" and len(head) > 1 and head[1] in FOLDERS:
            path = "/".join(head[1:])          # the installed location of a repository file
        out.add(path)
    return out


def named_objects(text: str) -> set[str]:
    return {m.rstrip(".") for m in DOTTED.findall(text)
            if not re.match(r"(sim|hw|boards|generator)\.(py|v|json|md|yaml)$", m)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_module_exists(page):
    text = page.read_text()
    missing = sorted(p for p in named_paths(text) if not (ROOT / p).exists())
    missing += sorted(o for o in named_objects(text) if not _exists(o))
    assert not missing, f"{page.relative_to(ROOT)} names what does not exist: {missing}"


def test_the_checker_catches_what_is_gone():
    text = "see `generator/passes/nowhere.py`, `bitsmith.generator.nothing`, `sim.golden.no_such_fn`"
    assert named_paths(text) == {"generator/passes/nowhere.py"}
    assert not any(_exists(o) for o in named_objects(text))
    assert _exists("bitsmith.generator.passes.fold.Fold") and _exists("sim.golden.run_graph")


def test_readme_tour_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    tour = readme[readme.index("<!-- tour:start -->"):readme.index("<!-- tour:end -->")]
    blocks = re.findall(r"```python\n(.*?)```", tour, re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md (tour)", "exec"), namespace)
    assert namespace["design"].ideal_cycles_per_frame == 144


@pytest.mark.verilator
def test_readme_python_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## From Python"):readme.index("## The native description")]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md (From Python)", "exec"), namespace)
    assert repr(namespace["design"]) == "Design('tiny', layers=2, ideal_cycles_per_frame=16, bottleneck='layer0')"
    assert bitsmith_verify_passed(namespace)


def bitsmith_verify_passed(namespace: dict) -> bool:
    import bitsmith
    return bitsmith.verify(namespace["design"], namespace["x"]).passed
