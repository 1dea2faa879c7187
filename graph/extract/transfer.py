"""An extractor handed to the graph worker as JSON: named classes and functions, and plain data.

The worker process must build the same extractor its parent holds (the spaCy extractor with its
settings and model loader, or a test's own extractor class). The project loads nothing back with
pickle, so the object travels as a JSON *recipe* instead:

- ``None``, booleans, numbers and strings as themselves; lists and tuples as lists; dicts with
  string keys as ``{"$dict": {...}}``; paths as ``{"$path": "..."}``;
- a module-level function or class as ``{"$ref": "module:QualName"}`` (imported, never called);
- any other object of an importable class as ``{"$obj": "module:QualName", "state": ...}``, its
  state being what ``__getstate__`` returns (the instance dict by default), restored with the
  class's ``__setstate__`` or into the instance dict.

Decoding imports the modules a recipe names (from the parent's ``sys.path``) and creates instances
with ``cls.__new__``; it calls no function a recipe names, only a named class's ``__setstate__``.
What cannot be named this way (lambdas, locals, open files, loaded models) is refused when the
parent encodes it, so a worker that could not rebuild the extractor never starts.

Written by hand: the standard library's only general object transfer is pickle, which is out.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path, PurePath
from typing import Any, cast


class TransferError(TypeError):
    """The object holds something a recipe cannot name."""


def encode(obj: Any) -> bytes:
    """The JSON recipe of ``obj`` (raises :class:`TransferError` naming what cannot travel)."""
    return json.dumps(_encode(obj, "extractor")).encode()


def decode(data: bytes) -> Any:
    """The object a recipe of :func:`encode` describes, built anew in this process."""
    return _decode(json.loads(data))


def _name(obj: Any) -> str | None:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        return None
    return f"{module}:{qualname}"


def _encode(obj: Any, where: str) -> Any:
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TransferError(f"{where}: a dict with keys that are not strings")
        return {"$dict": {k: _encode(v, f"{where}.{k}") for k, v in obj.items()}}
    if isinstance(obj, PurePath):
        return {"$path": str(obj)}
    if inspect.ismethod(obj):
        raise TransferError(f"{where}: a bound method ({obj.__qualname__}) cannot travel without its object")
    if isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__"):
        name = _name(obj)
        if name is None:
            raise TransferError(f"{where}: {obj!r} is not importable by name (a lambda, local or __main__)")
        return {"$ref": name}
    name = _name(type(obj))
    if name is None:
        raise TransferError(f"{where}: class {type(obj).__qualname__} is not importable by name")
    state = obj.__getstate__() if hasattr(obj, "__getstate__") else getattr(obj, "__dict__", None)
    return {"$obj": name, "state": _encode(state, f"{where}({type(obj).__name__})")}


def _resolve(name: str) -> Any:
    module, _, qualname = name.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _decode(data: Any) -> Any:
    if isinstance(data, list):
        return [_decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "$dict" in data:
        return {k: _decode(v) for k, v in data["$dict"].items()}
    if "$path" in data:
        return Path(data["$path"])
    if "$ref" in data:
        return _resolve(data["$ref"])
    cls = _resolve(data["$obj"])
    if not isinstance(cls, type):
        raise TransferError(f"{data['$obj']} is not a class")
    obj = cast(Any, cls).__new__(cls)  # mypy matches no overload of type.__new__ for a plain ``type``
    state = _decode(data["state"])
    if hasattr(obj, "__setstate__"):
        obj.__setstate__(state)
    elif state:
        obj.__dict__.update(state)
    return obj
