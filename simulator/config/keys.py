"""Every scenario key with its default and doc: ``mglru-sim list keys`` and the README table."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from simulator.config.sections import Scenario
from simulator.config.tables import table_keys


def describe_keys() -> list[tuple[str, str, str]]:
    """(dotted key, default, description) for every scenario key, for README and ``list``."""
    rows: list[tuple[str, str, str]] = []

    def walk(cls: Any, prefix: str) -> None:
        for name, key in table_keys(cls).items():
            if typing.get_origin(key.type) is dict:
                walk(typing.get_args(key.type)[1], prefix + name + ".<name>.")
            elif dataclasses.is_dataclass(key.type):
                walk(key.type, prefix + name + ".")
            else:
                default = key.default if key.default is not dataclasses.MISSING else ""
                rows.append((prefix + name, repr(default), key.doc))

    walk(Scenario, "")
    return rows


__all__ = ["describe_keys"]
