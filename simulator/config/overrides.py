"""``--set key=value``: dotted keys, checked against the scenario's keys, applied to a document.

An override is typed by the key it names (``vm.vcpus=4`` is an integer, ``vm.memory=64MiB`` a
size), so a misspelt key or a wrong value fails before anything is read or run. A value in
brackets is a list (``vm.vcpus=[1,2,4]``, ``host.memory=[128MiB,192MiB]``, quotes optional):
a list-valued key takes it as its value, ``sweep`` sweeps any other key over it
(:func:`split_lists`), and ``run`` refuses it with a line saying so. Documents are
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


def _split(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError("--set", text, "expected key=value")
    name, raw = (s.strip() for s in text.split("=", 1))
    return name, raw


def list_items(name: str, raw: str) -> list[str] | None:
    """The items of a bracketed ``[a, b, c]`` value (each stripped of spaces and quotes), or
    None when ``raw`` is not a list."""
    if not (raw.startswith("[") and raw.endswith("]")):
        if raw.startswith("["):
            raise ConfigError("--set", name, f"a list must end with ']', got {raw!r}")
        return None
    items = [item.strip().strip("'\"") for item in raw[1:-1].split(",")]
    if not any(items):
        raise ConfigError("--set", name, "empty list: nothing to set or sweep")
    if not all(items):
        raise ConfigError("--set", name, f"an empty item in {raw!r}")
    return items


def _is_list_key(key: Key) -> bool:
    return typing.get_origin(key.type) in (list, tuple)


def split_lists(overrides: Sequence[str]) -> tuple[list[str], dict[str, list[Any]]]:
    """``--set`` of ``sweep``: single values (the base scenario) and lists to sweep over
    (dotted key → typed values as written, in the order given). A list for a key whose value
    is a list is a single value."""
    single: list[str] = []
    lists: dict[str, list[Any]] = {}
    for text in overrides:
        name, raw = _split(text)
        items = list_items(name, raw)
        if items is None or _is_list_key(key_at(name)):
            single.append(text)
            continue
        if name in lists:
            raise ConfigError("--set", name, "given twice as a list")
        lists[name] = [parse_override(f"{name}={item}")[1] for item in items]
    return single, lists


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line, the value coerced to the key's type."""
    name, raw = _split(text)
    key = key_at(name)
    items = list_items(name, raw)
    if items is not None and not _is_list_key(key):
        raise ConfigError("--set", name, f"takes one value, not the list {raw} (mglru-sim "
                          f"sweep SCENARIO --set {name}={raw} runs one per value)")
    if items is not None:
        item_type = (typing.get_args(key.type) or (str,))[0]
        return name, [item_type(v) for v in items]
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


__all__ = ["apply_overrides", "copy_document", "key_at", "list_items", "parse_override",
           "set_dotted", "split_lists"]
