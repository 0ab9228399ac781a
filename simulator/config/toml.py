"""The effective configuration as a plain dict and as TOML text, and the run id it hashes to.

``to_toml`` writes every key, defaults included, in the order of the tables' keys; its output
round-trips through :func:`~simulator.config.parse.scenario_from_dict`. With sizes in bytes it
is what :func:`run_id_of` hashes (same configuration, same id); with ``units=True`` (sizes as
``"256MiB"``) it is the ``config.toml`` of a run folder, which loads to the same scenario.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

from simulator.config.sections import Scenario
from simulator.config.tables import table_keys, table_value
from simulator.humanize import size_text


def _table(table: Any, units: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, key in table_keys(type(table)).items():
        value = table_value(table, key)
        if isinstance(value, dict):
            out[name] = {member: _table(v, units) for member, v in value.items()}
        elif dataclasses.is_dataclass(value):
            out[name] = _table(value, units)
        elif units and key.meta.get("size") and isinstance(value, int):
            out[name] = size_text(value)
        else:
            out[name] = value
    return out


def to_dict(sc: Scenario, *, units: bool = False) -> dict[str, Any]:
    """The effective configuration as a plain nested dict: sizes in bytes, or with
    ``units`` as a scenario file writes them (``"256MiB"``; a size no binary unit divides
    stays a byte count)."""
    return _table(sc, units)


def toml_string(text: str) -> str:
    """A TOML basic string: quotes and backslashes escaped, control characters as \\uXXXX."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return toml_string(v)
    return repr(v)


def to_toml(sc: Scenario, *, units: bool = False) -> str:
    """The effective configuration as TOML text (round-trips through ``scenario_from_dict``);
    sizes in bytes, or with ``units`` in units (``config.toml``; the run id hashes bytes)."""
    lines: list[str] = []

    def emit(table: Mapping[str, Any], name: str) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
        subs = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        if name and (scalars or not subs):
            lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {_scalar(v)}" for k, v in scalars.items())
        for k, v in subs.items():
            emit(v, f"{name}.{k}" if name else k)

    emit(to_dict(sc, units=units), "")
    return "\n".join(lines).lstrip("\n") + "\n"


def run_id_of(sc: Scenario) -> str:
    """A stable id derived from the effective configuration (same config → same id)."""
    return hashlib.sha256(to_toml(sc).encode()).hexdigest()[:12]


__all__ = ["run_id_of", "to_dict", "to_toml", "toml_string"]
