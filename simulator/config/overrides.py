"""``--set key=value``: dotted keys, checked against the scenario's keys, applied to a document.

An override is typed by the key it names (``vm.vcpus=4`` is an integer, ``vm.memory=64MiB`` a
size), so a misspelt key or a wrong value fails before anything is read or run. Documents are
plain nested dicts (parsed TOML); :func:`set_dotted` and :func:`copy_document` are how every
part of the simulator changes one (sweeps too).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.config.sections import Scenario
from simulator.config.tables import table_keys
from simulator.params import ConfigError, Key, suggest


def set_dotted(doc: dict[str, Any], dotted: str, value: Any, *, source: str = "--set",
               key_prefix: str = "") -> None:
    """``doc[a][b][c] = value`` for ``dotted`` ``a.b.c``, creating missing tables.

    Raises ConfigError (naming ``source`` and ``key_prefix + dotted``) when a part on the way
    is a value, not a table.
    """
    parts = dotted.split(".")
    node = doc
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(source, key_prefix + dotted,
                              f"'{'.'.join(parts[:i + 1])}' is not a table")
    node[parts[-1]] = value


def copy_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a parsed document whose tables (at any depth) can be changed freely."""
    return {k: copy_document(v) if isinstance(v, Mapping) else v for k, v in doc.items()}


def key_at(dotted: str) -> Key:
    """The scenario key a dotted name (``vm.vcpus``, ``vms.NAME.workload.theta``) names."""
    cls: Any = Scenario
    key: Key | None = None
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        if not dataclasses.is_dataclass(cls):
            raise ConfigError("--set", dotted, "unknown key")
        keys = table_keys(typing.cast(type, cls))
        if parts[i] not in keys:
            raise ConfigError("--set", dotted, "unknown key" + suggest(parts[i], keys))
        key = keys[parts[i]]
        cls = key.type
        if typing.get_origin(cls) is dict:
            if i + 1 >= len(parts):
                raise ConfigError("--set", dotted, "name a member, e.g. vms.NAME.vcpus")
            i += 1  # the member's name
            cls = typing.get_args(cls)[1]
        i += 1
    assert key is not None
    if dataclasses.is_dataclass(cls):
        raise ConfigError("--set", dotted, "is a table, not a value")
    return key


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line, the value coerced to the key's type."""
    if "=" not in text:
        raise ConfigError("--set", text, "expected key=value")
    name, raw = (s.strip() for s in text.split("=", 1))
    key = key_at(name)
    value: Any = raw
    if key.meta.get("size") or key.type is str:
        value = raw.strip('"')
    elif key.type is bool:
        if raw.lower() not in ("true", "false"):
            raise ConfigError("--set", name, f"expected true or false, got {raw!r}")
        value = raw.lower() == "true"
    elif key.type in (int, float):
        try:
            value = int(raw) if key.type is int else float(raw)
        except ValueError:
            raise ConfigError("--set", name, f"expected a number, got {raw!r}") from None
    return name, value


def apply_overrides(doc: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A deep copy of ``doc`` with each ``key=value`` applied."""
    out = copy_document(doc)
    for text in overrides:
        key, value = parse_override(text)
        set_dotted(out, key, value)
    return out


__all__ = ["apply_overrides", "copy_document", "key_at", "parse_override", "set_dotted"]
