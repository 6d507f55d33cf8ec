"""The schema of the native description: every op's keys, their types, defaults and meaning.

Each op declares its keys in one place, next to its parser::

    @native_op("maxpool", "Max pooling over k x k windows.",
               Key("kernel", PAIR, "window size", required=True),
               Key("stride", PAIR, "step between windows", default_doc="the kernel"),
               PE)
    def parse_maxpool(spec, in_shape, in_dtype, arrays, where): ...

``name`` and ``op`` are added to every op. A :class:`Kind` is a value type: a JSON Schema
fragment (the single source of truth: values are checked against it with ``jsonschema``)
plus the words the error messages and the reference use. The decorated parser checks its
spec before running (so direct calls are checked too): an unknown key is an error naming
the closest valid one, a value of the wrong type (a list for a string, a float for an
integer, a boolean anywhere but where a boolean belongs) is an error naming the key, and
declared defaults are filled in.

From the declarations come the published JSON Schema (``native.schema.json`` next to this
file) and the reference page ``docs/NATIVE.md`` (:mod:`.publish`; ``python -m
bitsmith.generator.frontend.publish --write`` regenerates both, and a test fails when they
are stale).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ModelError
from ..ir.core import DTYPE_CHOICES, STREAM_DTYPES
from ..ir.names import KEYWORDS, MAX_LENGTH
from ..limits import MAX_TENSOR_ELEMENTS

INT_LIMIT = (1 << 31) - 1     # integers in a description fit 32 bits (sizes, scales, biases)

_short = reprlib.Repr()
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 6
_short.maxstring = _short.maxother = 60
_short.maxlevel = 3


def short(value) -> str:
    """A bounded repr of a user's value, for error messages."""
    return _short.repr(value)


# --------------------------------------------------------------------------- value kinds

@functools.cache
def _validator_class():
    from jsonschema import Draft202012Validator, validators

    def is_integer(checker, instance):       # 2.0 is a float, True is a boolean
        return isinstance(instance, int) and not isinstance(instance, bool)
    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", is_integer)
    return validators.extend(Draft202012Validator, type_checker=checker)


def strict_validator(schema: dict):
    """A Draft 2020-12 validator for ``schema`` whose integers exclude floats and booleans."""
    return _validator_class()(schema)


@dataclass(frozen=True)
class Kind:
    """A value type: ``text`` for messages and the reference, ``schema`` its JSON Schema;
    a ``shared`` kind is published once under ``$defs/<shared>`` and referenced."""

    text: str
    schema: dict = field(hash=False, compare=False)
    shared: str | None = None

    def accepts(self, value) -> bool:
        return _validator(self)(value)


@functools.cache
def _validator(kind: Kind) -> Callable[[Any], bool]:
    return strict_validator(kind.schema).is_valid


def _int(lo: int = -INT_LIMIT - 1, hi: int = INT_LIMIT) -> dict:
    return {"type": "integer", "minimum": lo, "maximum": hi}


IDENT = Kind(f"an identifier (a letter or _ first, then letters, digits, _; at most {MAX_LENGTH} "
             f"characters; not a Verilog keyword)",
             {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": MAX_LENGTH,
              "not": {"enum": sorted(KEYWORDS)}}, shared="identifier")
ARRAY = Kind("the name of an array in the .npz", {"type": "string", "minLength": 1})
PATH = Kind("a file path (relative to the description)", {"type": "string", "minLength": 1})
DTYPE = Kind(f"an integer datatype ({DTYPE_CHOICES})",
             {"type": "string", "pattern": f"^({STREAM_DTYPES.pattern})$"}, shared="datatype")
FOLD = Kind("a positive integer or 'auto'", {"anyOf": [_int(1), {"const": "auto"}]}, shared="folding")
INT = Kind("an integer", _int())
FRACTION = Kind("a number in [0, 1)", {"type": "number", "minimum": 0, "exclusiveMaximum": 1})
SHAPE = Kind("[C], [L, C] or [H, W, C] of positive integers",
             {"type": "array", "items": _int(1, MAX_TENSOR_ELEMENTS), "minItems": 1, "maxItems": 3})
BOOL = Kind("true or false", {"type": "boolean"})
POSITIVE = Kind("a positive integer", _int(1))
LAYERS = Kind("a non-empty list of layers", {"type": "array", "minItems": 1})


def int_range(lo: int, hi: int) -> Kind:
    return Kind(f"an integer in {lo}..{hi}", _int(lo, hi))


def one_of(*values: str) -> Kind:
    return Kind(f"one of {', '.join(values)}", {"enum": list(values)})


def pair(minimum: int) -> Kind:
    item = _int(minimum)
    return Kind(f"an integer >= {minimum} or [H, W] of them",
                {"anyOf": [item, {"type": "array", "items": item, "minItems": 2, "maxItems": 2}]})


PAIR = pair(1)
PAD = Kind("an integer, [H, W] or [top, left, bottom, right] of non-negative integers",
           {"anyOf": [_int(0), {"type": "array", "items": _int(0), "minItems": 2, "maxItems": 2},
                      {"type": "array", "items": _int(0), "minItems": 4, "maxItems": 4}]})
PAD_1D = Kind("an integer or [left, right] of non-negative integers",
              {"anyOf": [_int(0), {"type": "array", "items": _int(0), "minItems": 2, "maxItems": 2}]})

_NO_DEFAULT = object()


@dataclass(frozen=True)
class Key:
    """One key of an op: its kind, meaning, and whether it is required or what it defaults to.

    ``default`` is filled in when the key is absent; ``default_doc`` describes a default the
    parser computes (from the weights, the input, ...).
    """

    name: str
    kind: Kind
    doc: str
    required: bool = False
    default: Any = _NO_DEFAULT
    default_doc: str | None = None

    def default_text(self) -> str:
        if self.required:
            return "required"
        if self.default is not _NO_DEFAULT:
            return json.dumps(self.default)
        return self.default_doc or "none"

    def schema(self) -> dict:
        out = {"$ref": f"#/$defs/{self.kind.shared}"} if self.kind.shared else dict(self.kind.schema)
        if self.default is not _NO_DEFAULT:
            out["default"] = self.default
        return {"description": self.doc, **out}


@dataclass(frozen=True)
class OpSpec:
    """A native op: its name, what it does, its keys and its parser.

    ``multi_input``: the layer reads the tensors listed in its ``inputs`` key and the
    parser gets tuples of their shapes and datatypes; otherwise it reads one tensor
    (``input``, by default the layer before). ``takes_input_name``: the parser also gets
    ``input_name=`` (the tensor the layer reads, for ops that expand into several layers).
    """

    op: str
    doc: str
    keys: tuple[Key, ...]
    parse: Callable
    multi_input: bool = False
    takes_input_name: bool = False

    def key(self, name: str) -> Key | None:
        return next((k for k in self.keys if k.name == name), None)


NAME = Key("name", IDENT, "the layer's name (unique in the network)",
           default_doc="layer0, layer1, ... by position")
OP = Key("op", Kind("an op name", {"type": "string"}), "what the layer is", required=True)

TENSOR = Kind("a layer name, or 'input' (the network input)",
              {"anyOf": [IDENT.schema, {"const": "input"}]}, shared="tensor")
INPUT = Key("input", TENSOR, "the tensor the layer reads: a layer listed before it, or 'input' (the "
            "network input)", default_doc="the layer listed before (the network input for the first)")
INPUT_KEY_NAMES = ("input", "inputs")
"""The keys naming what a layer reads; :func:`~.native.parse_layers` resolves them, so a
parser never sees them."""


def inputs_key(minimum: int, maximum: int | None = None, doc: str = "") -> Key:
    """The ``inputs`` key of a multi-input op: ``minimum`` (to ``maximum``) tensor names."""
    count = f"{minimum}" if maximum == minimum else f"{minimum} or more" if maximum is None \
        else f"{minimum} to {maximum}"
    schema = {"type": "array", "items": TENSOR.schema, "minItems": minimum}
    if maximum is not None:
        schema["maxItems"] = maximum
    kind = Kind(f"a list of {count} layer names (or 'input')", schema)
    return Key("inputs", kind, doc or "the tensors the layer reads, in order: layers listed before it, "
               "or 'input' (the network input)", required=True)


OPS: dict[str, OpSpec] = {}
"""Every native op by name, filled by :func:`native_op` as the op modules are imported."""


def check_keys(spec, keys: tuple[Key, ...], where: str, what: str) -> dict:
    """``spec`` checked against ``keys`` (a mapping, no unknown key, every value of its
    kind, required keys present), with declared defaults filled in."""
    if not isinstance(spec, dict):
        raise ModelError(f"{where} must be a mapping of keys to values, not {short(spec)}")
    known = {k.name: k for k in keys}
    for name in spec:
        if name not in known:
            close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6) \
                if isinstance(name, str) else []
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(sorted(known))}"
            raise ModelError(f"{where}: unknown key {short(name)} for {what} ({hint})")
    out = dict(spec)
    for key in keys:
        if key.name not in spec:
            if key.required:
                raise ModelError(f"{where}: {key.name} is required")
            if key.default is not _NO_DEFAULT:
                out[key.name] = key.default
        elif not key.kind.accepts(spec[key.name]):
            raise ModelError(f"{where}: {key.name} must be {key.kind.text}, not {short(spec[key.name])}")
    return out


def native_op(op: str, doc: str, *keys: Key, multi_input: bool = False,
              takes_input_name: bool = False) -> Callable[[Callable], Callable]:
    """Declare native op ``op`` with ``keys`` (besides ``name``, ``op`` and, for a
    one-input op, ``input``); decorates its parser ``fn(spec, in_shape, in_dtype, arrays,
    where) -> Node``, which then receives the spec checked and with defaults filled in.

    A ``multi_input`` op declares its own ``inputs`` key (:func:`inputs_key`) and its
    parser gets tuples of shapes and datatypes; a ``takes_input_name`` parser also gets
    ``input_name=`` (see :class:`OpSpec`). ``input``/``inputs`` are published and
    checked by :func:`~.native.parse_layers`, which removes them before the parser runs.
    """
    all_keys = (NAME, OP) + (() if multi_input else (INPUT,)) + tuple(keys)
    names = [k.name for k in all_keys]
    if len(set(names)) != len(names):
        raise ValueError(f"op {op!r} declares a key twice: {names}")
    if multi_input != ("inputs" in names):
        raise ValueError(f"op {op!r}: a multi-input op, and only one, declares 'inputs'")
    # the parser's spec comes without input/inputs: still known keys (for the hints), never required
    spec_keys = tuple(dataclasses.replace(k, required=False) if k.name in INPUT_KEY_NAMES else k
                      for k in all_keys)

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def parse(spec, in_shape, in_dtype, arrays, where, **extra):
            keys = spec_keys if isinstance(spec, dict) and "op" in spec else spec_keys[:1] + spec_keys[2:]
            return fn(check_keys(spec, keys, where, op), in_shape, in_dtype, arrays, where, **extra)
        OPS[op] = OpSpec(op, doc, all_keys, parse, multi_input=multi_input,
                         takes_input_name=takes_input_name)
        return parse
    return wrap


def input_keys(spec: OpSpec) -> tuple[Key, ...]:
    """The keys of ``spec`` that name what a layer reads (``input`` or ``inputs``)."""
    return tuple(k for k in spec.keys if k.name in INPUT_KEY_NAMES)


# --------------------------------------------------------------------------- the description

INPUT_KEYS = (
    Key("shape", SHAPE, "the input frame: [C] for a vector, [L, C] for a sequence (the tensor "
        "(L, 1, C) of the 1-D ops), [H, W, C] for an image (NHWC)", required=True),
    Key("dtype", DTYPE, "the datatype of the input values", required=True),
)

TOP_KEYS = (
    Key("name", IDENT, "the network's name: the Verilog top module", default_doc="the file name, made an identifier"),
    Key("input", Kind("a mapping with shape and dtype", {"type": "object"}), "the input frame",
        required=True),
    Key("arrays", PATH, "the .npz file of integer arrays (weights, thresholds)", default_doc="no arrays"),
    Key("layers", LAYERS, "the layers, first to last", required=True),
)


def check_description(data, path: Path) -> dict:
    """The top level and ``input`` of a description checked (layers are checked by their
    ops as they are parsed)."""
    if not isinstance(data, dict):
        raise ModelError(f"{path}: the top level must be a mapping with 'input' and 'layers', "
                         f"not {short(data)}")
    data = check_keys(data, TOP_KEYS, str(path), "the description")
    data["input"] = check_keys(data["input"], INPUT_KEYS, f"{path}: input", "input")
    return data
