"""Sphinx configuration of the bitsmith documentation site.

Build it with ``python -m sphinx -W --keep-going docs docs/_build/html`` (the ``docs``
extra: Sphinx and MyST); ``tests/test_docs.py`` does, with warnings as errors, so a
broken link, a missing page or a docstring that does not render fails the suite.
The pages are Markdown (MyST); the API reference comes from the numpydoc docstrings
(autodoc + napoleon).
"""

from bitsmith import __version__

project = "bitsmith"
author = "the bitsmith authors"
copyright = "the bitsmith authors, Apache-2.0"
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "img", "README.md"]

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}

html_theme = "alabaster"
html_title = f"bitsmith {release}"
napoleon_custom_sections = [("Members", "params_style")]

# A code block the lexer cannot parse is shown plain; that is not a broken reference.
suppress_warnings = ["misc.highlighting_failure"]

# Every cross-reference must resolve (broken references fail the docs test), except to
# projects whose inventories a machine without internet cannot fetch, and to the words
# numpydoc type lines use ("optional", "{'a', 'b'}" value sets).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|pathlib|torch|onnx|qonnx|typing|collections\.abc|amaranth|types)(\..*)?"),
    (r"py:.*", r"(Path|Any|Callable|Mapping|MappingProxyType|Graph|Waves|Progress|NoneType|DataType)"),
    (r"py:.*", r"bitsmith\.generator\.(ir|execute)\..*"),
    (r"py:class", r"(optional|callable|mapping|sequence|str to numpy\.ndarray|.*[\"{}].*)"),
]
