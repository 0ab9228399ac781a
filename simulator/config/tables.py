"""The keys of each table of a scenario, and reading a key's value from a parsed table.

A section's keys are its fields (:func:`simulator.params.keys_of`), except ``[workload]``,
whose keys come from the workload registry (:meth:`WorkloadConfig.scenario_keys`). Parsing,
``--set``, the TOML writer and ``list keys`` all walk the tables through these two functions,
so they agree on what a scenario's keys are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.config.workload import WorkloadConfig
from simulator.params import Key, keys_of


def table_keys(cls: type) -> Mapping[str, Key]:
    """The keys of a table of class ``cls``, in file order."""
    if cls is WorkloadConfig:
        return WorkloadConfig.scenario_keys()
    return keys_of(cls)


def table_value(table: object, key: Key) -> Any:
    """The value of ``key`` in a parsed table."""
    if isinstance(table, WorkloadConfig):
        return table.value(key.name)
    return getattr(table, key.attr)


__all__ = ["table_keys", "table_value"]
