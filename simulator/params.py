"""Declaring parameters: the field helper behind every scenario key and registry parameter.

A parameter is a field of a frozen dataclass declared with :func:`param`: its default, its
choices or range, whether it is a size with units, one line of doc, and, where they differ from
the field's name, its scenario key and command-line flag. The scenario sections
(:mod:`simulator.config`) are such dataclasses, and so are the parameters each registry entry
owns: a workload kind's (``workloads/*.py``), a KVM backend's, a notifier design's, the trace
reader options (:class:`simulator.traces.TraceOptions`). The configuration builds its keys,
checks and ``mglru-sim list keys`` from these declarations.

This is a leaf module (it imports nothing of the simulator), so the model's registries can
declare parameters without importing the configuration, which imports them.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

SAME = "\0same"
"""``param(key=...)`` default: the scenario key is the field's name."""


class ConfigError(ValueError):
    """A scenario value is missing, malformed or out of range.

    ``str()`` is the one line the CLI prints: ``FILE: key 'a.b': what was expected``.
    """

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        where = f"key '{one_line(key)}': " if key else ""
        super().__init__(f"{one_line(source)}: {where}{one_line(message, MAX_MESSAGE)}")


MAX_MESSAGE = 400
"""The longest message an error line shows (a value quoted in it is cut short)."""


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` for one error line: control characters (a newline in a file name) escaped,
    and cut at ``limit`` characters."""
    out = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))
    return out if len(out) <= limit else out[:limit] + "..."


def suggest(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the option closest to a misspelt ``word``, or nothing."""
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def spec(*, choices: tuple[str, ...] | None = None, lo: float | None = None,
         hi: float | None = None, size: bool = False, doc: str = "", key: str | None = SAME,
         flag: str | None = None, nonfinite: bool = False) -> dict[str, Any]:
    """The metadata of a parameter field (see :func:`param`)."""
    return {"choices": choices, "lo": lo, "hi": hi, "size": size, "doc": doc, "key": key,
            "flag": flag, "nonfinite": nonfinite}


def param(default: Any, **kwargs: Any) -> Any:
    """A parameter field: ``default``, then :func:`spec`'s keywords.

    ``choices``: the allowed strings; ``lo``/``hi``: the inclusive range (an integer without
    one still has to fit an ``int64``); ``size``: the value takes units (``"4GiB"``); ``doc``:
    one line; ``key``: the scenario key if not the field's name (None: not a scenario key);
    ``flag``: the command-line option, if any; ``nonfinite``: a float key that accepts NaN and
    the infinities (its doc must say what they mean; every other float rejects them).
    """
    return dataclasses.field(default=default, metadata=spec(**kwargs))


@dataclass(frozen=True, slots=True)
class NoParams:
    """The parameters of a registry entry that has none of its own."""


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a table: its name in files, its field, type, default and spec."""

    name: str
    attr: str
    """The dataclass field behind the key."""
    type: Any
    default: Any
    """The default value (``dataclasses.MISSING`` for a sub-table)."""
    meta: Mapping[str, Any]

    @property
    def doc(self) -> str:
        return str(self.meta.get("doc", ""))

    def same_declaration(self, other: Key) -> bool:
        """Whether ``other`` declares this key identically (a key several owners share)."""
        return (self.type, self.default, dict(self.meta)) == \
            (other.type, other.default, dict(other.meta))


INT_RANGE = (-(2**63), 2**63 - 1)
"""The range of an integer key that declares no bound of its own: what a numpy ``int64`` (every
array the model keeps) holds."""


def bounds(key: Key) -> tuple[float | None, float | None]:
    """The inclusive range a value of ``key`` must lie in: the declared ``lo``/``hi``, and for
    an integer (or a size) without one, :data:`INT_RANGE`."""
    lo, hi = key.meta.get("lo"), key.meta.get("hi")
    if key.type is int or key.meta.get("size"):
        lo = INT_RANGE[0] if lo is None else lo
        hi = INT_RANGE[1] if hi is None else hi
    return lo, hi


def shown_bound(bound: float) -> str:
    """A range bound as an error shows it: an integer in full, a float in short form."""
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


_KEYS: dict[type, Mapping[str, Key]] = {}
""":func:`keys_of` by class: resolving a class's type hints takes a while."""


def keys_of(cls: type) -> Mapping[str, Key]:
    """The keys of a dataclass, in field order: scenario key → :class:`Key`."""
    if cls not in _KEYS:
        _KEYS[cls] = _keys(cls)
    return _KEYS[cls]


def _keys(cls: type) -> Mapping[str, Key]:
    hints = typing.get_type_hints(cls)
    out: dict[str, Key] = {}
    for f in dataclasses.fields(cls):
        name = f.metadata.get("key", SAME)
        if name is None:
            continue
        name = f.name if name == SAME else name
        out[name] = Key(name, f.name, hints[f.name], f.default, f.metadata)
    return types.MappingProxyType(out)


def merge_keys(owners: Iterable[tuple[str, type]]) -> dict[str, Key]:
    """The union of the keys of several parameter dataclasses, in first-declared order.

    ``owners`` are ``(owner name, dataclass)``. A key that several owners declare must be
    declared identically (same type, default and spec); TypeError names the two that differ.
    """
    merged: dict[str, Key] = {}
    first: dict[str, str] = {}
    for owner, cls in owners:
        for name, key in keys_of(cls).items():
            if name not in merged:
                merged[name], first[name] = key, owner
            elif not merged[name].same_declaration(key):
                raise TypeError(f"parameter {name!r} is declared differently by {first[name]} "
                                f"and {owner}")
    return merged


def build(cls: type[T], values: Mapping[str, Any]) -> T:
    """An instance of parameter dataclass ``cls`` from values by scenario key (keys that are
    not ``cls``'s are ignored; fields that are not scenario keys keep their defaults)."""
    return cls(**{k.attr: values[name] for name, k in keys_of(cls).items() if name in values})


__all__ = ["INT_RANGE", "MAX_MESSAGE", "SAME", "ConfigError", "Key", "NoParams", "bounds",
           "build", "keys_of", "merge_keys", "one_line", "param", "shown_bound", "spec",
           "suggest"]
