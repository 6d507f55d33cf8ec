"""Reading a native description file (YAML or JSON) within budgets, into plain Python data.

* The file must be a regular file of at most :data:`~generator.limits.MAX_DESCRIPTION_BYTES`,
  in UTF-8.
* Nesting deeper than :data:`~generator.limits.MAX_NESTING` is refused before anything is
  built (checked on the YAML event stream, which needs no recursion).
* YAML anchors and aliases are allowed, but the document they describe, every alias
  expanded, may hold at most :data:`~generator.limits.MAX_YAML_NODES` nodes: an alias bomb
  (a billion laughs) is refused before it is expanded. Recursive aliases are refused.
* A key given twice in one mapping is an error (YAML and JSON parsers would keep the
  last one silently); so are JSON's ``NaN`` and ``Infinity``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from ..errors import ModelError
from ..limits import MAX_DESCRIPTION_BYTES, MAX_NESTING, MAX_YAML_NODES, TooLarge
from ..safeio import read_text

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):
    """The safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:       # an unhashable key: let the constructor say so
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key!r} is given twice", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 booleans only: PyYAML follows YAML 1.1, where on/off/yes/no/y/n are booleans too,
# so a documented value such as ``winograd: on`` would arrive as True.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                              re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _where(mark) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def _yaml_error(path: Path, exc: yaml.YAMLError) -> ModelError:
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or exc.context or "malformed"
        return ModelError(f"{path}: not valid YAML: {problem}{_where(exc.problem_mark or exc.context_mark)}")
    first = str(exc).strip().splitlines()
    return ModelError(f"{path}: not valid YAML: {first[0] if first else type(exc).__name__}")


def _check_events(path: Path, text: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                raise TooLarge(f"{path}: nested deeper than {MAX_NESTING} levels{_where(event.start_mark)}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _expanded_size(path: Path, root) -> int:
    """Nodes of the document with every alias expanded (shared nodes counted each time)."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_YAML_NODES:
                raise TooLarge(f"{path}: the document expands to more than {MAX_YAML_NODES:,} nodes "
                               f"(aliases counted each time they are used){_where(node.start_mark)}")
            size[key] = total
            continue
        if key in size:
            continue
        if key in on_path:
            raise ModelError(f"{path}: not valid YAML: a recursive alias{_where(node.start_mark)}")
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise ModelError(f"{path}: not valid YAML: a recursive alias{_where(child.start_mark)}")
            if id(child) not in size:
                stack.append((child, False))
    return size[id(root)]


def _load_yaml(path: Path, text: str):
    _check_events(path, text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(path, node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} is given twice")
        out[key] = value
    return out


def _depth(data) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                break
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _load_json(path: Path, text: str):
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_refuse_constant)
    except RecursionError:
        raise TooLarge(f"{path}: nested deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:
        raise ModelError(f"{path}: not valid JSON: {str(exc).splitlines()[0]}") from None
    if _depth(data) > MAX_NESTING:
        raise TooLarge(f"{path}: nested deeper than {MAX_NESTING} levels")
    return data


def read_description(path: Path):
    """The parsed content of the description ``path`` (``.json``: JSON, else YAML)."""
    path = Path(path)
    text = read_text(path, error=ModelError, max_bytes=MAX_DESCRIPTION_BYTES)
    if path.suffix == ".json":
        return _load_json(path, text)
    try:
        return _load_yaml(path, text)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
