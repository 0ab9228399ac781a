"""Expanding a scenario's ``[sweep]`` table into the runs of a sweep.

A ``[sweep]`` table maps dotted scenario keys to lists of values; the runs are their cartesian
product, in file order (the first key varies slowest). An optional ``[sweep.zip]`` table holds
keys whose lists have equal length and vary together; it counts as one factor at its place in the
table. Bare dotted keys (``vm.vcpus = [1, 2]``, which TOML nests) work like quoted ones
(``"vm.vcpus" = [1, 2]``). Every expanded point is validated exactly like a scenario file, so a
bad value fails the whole sweep before anything runs (``ConfigError`` naming the key).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.config import (
    ConfigError,
    Scenario,
    apply_overrides,
    copy_document,
    parse_override,
    read_toml,
    run_id_of,
    scenario_from_dict,
    set_dotted,
)
from simulator.config.bundled import resolve_scenario

ZIP_KEY = "zip"
"""The ``[sweep.zip]`` sub-table: keys that vary together."""

MAX_POINTS = 10_000
"""The most runs one sweep may expand to: every point is a validated scenario held in memory
(about 40 KiB each) and a row of ``sweep.csv``."""


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One run of a sweep: its place, the values it varies and its effective scenario."""

    run_index: int
    run_id: str
    factors: Mapping[str, Any]
    scenario: Scenario


@dataclass(frozen=True, slots=True)
class Sweep:
    """An expanded sweep: the scenario name, the varied keys (column order) and the runs."""

    name: str
    source: str
    keys: tuple[str, ...]
    points: tuple[SweepPoint, ...]


def _flatten(table: Mapping[str, Any], prefix: str, source: str,
             where: str = "sweep.") -> dict[str, list[Any]]:
    """Dotted key -> non-empty list, from a table that may nest (bare dotted TOML keys)."""
    out: dict[str, list[Any]] = {}
    for key, value in table.items():
        dotted = prefix + key
        if isinstance(value, Mapping):
            out.update(_flatten(value, dotted + ".", source, where))
        elif not isinstance(value, list):
            raise ConfigError(source, where + dotted,
                              f"expected a list of values to sweep, got {value!r}")
        elif not value:
            raise ConfigError(source, where + dotted, "empty list: nothing to sweep")
        else:
            out[dotted] = value
    return out


def _zip_factor(value: Any, source: str) -> dict[str, list[Any]]:
    """The ``[sweep.zip]`` keys and their (equally long) lists."""
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(source, "sweep.zip",
                          "expected a table of equally long lists ([sweep.zip])")
    group = _flatten(value, "", source, "sweep.zip.")
    lengths = {k: len(v) for k, v in group.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ConfigError(source, "sweep.zip",
                          f"lists must have equal lengths to vary together ({shown})")
    return group


def _factors(sweep: Mapping[str, Any], source: str) -> list[list[dict[str, Any]]]:
    """The sweep as factors in file order; each factor is its list of {key: value} levels."""
    factors: list[list[dict[str, Any]]] = []
    seen: set[str] = set()

    def claim(keys: Sequence[str]) -> None:
        for key in keys:
            if key == "name":
                # All runs of one sweep share OUT/<name>/ and its sweep.csv.
                raise ConfigError(source, "sweep.name", "the scenario name cannot be swept")
            if key in seen:
                raise ConfigError(source, f"sweep.{key}", "swept twice")
            seen.add(key)

    for key, value in sweep.items():
        if key == ZIP_KEY:
            group = _zip_factor(value, source)
            claim(list(group))
            n = len(next(iter(group.values())))
            factors.append([{k: v[i] for k, v in group.items()} for i in range(n)])
        else:
            flat = _flatten({key: value}, "", source)
            claim(list(flat))
            factors.extend([{k: v} for v in values] for k, values in flat.items())
    return factors


def _point(index: int, base: Mapping[str, Any], values: Mapping[str, Any],
           source: str) -> SweepPoint:
    """The validated run ``index`` of a sweep: ``base`` with ``values`` set."""
    run_doc = copy_document(base)
    for key, value in values.items():
        set_dotted(run_doc, key, value, source=source, key_prefix="sweep.")
    try:
        sc = scenario_from_dict(run_doc, source)
    except ConfigError as e:
        if not values:  # no [sweep]: the scenario itself
            raise
        shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
        raise ConfigError(source, e.key, f"{e.message} (sweep run {index}: {shown})") from None
    return SweepPoint(index, run_id_of(sc), values, sc)


def expand_sweep(doc: Mapping[str, Any], source: str = "<scenario>") -> Sweep:
    """Expand ``doc``'s ``[sweep]`` table into validated runs, in a deterministic order.

    Args:
        doc: A parsed scenario document (``--set`` overrides already applied).
        source: The file name that error messages name.

    Returns:
        The sweep; a document without ``[sweep]`` gives one run with no varied keys.

    Raises:
        ConfigError: A malformed ``[sweep]`` table, a value the scenario key does not accept,
            or two runs with the same effective configuration.
    """
    sweep = doc.get("sweep", {})
    if not isinstance(sweep, Mapping):
        raise ConfigError(source, "sweep", f"expected a table, got {sweep!r}")
    base = {k: v for k, v in doc.items() if k != "sweep"}
    factors = _factors(sweep, source)
    runs = math.prod(len(f) for f in factors)
    if runs > MAX_POINTS:
        raise ConfigError(source, "sweep", f"{runs:,} runs; a sweep may have at most "
                          f"{MAX_POINTS:,} (split it into several files)")
    keys = tuple(k for factor in factors for k in factor[0])
    points: list[SweepPoint] = []
    first_index: dict[str, int] = {}
    for index, combo in enumerate(itertools.product(*factors)):
        point = _point(index, base, {k: v for level in combo for k, v in level.items()}, source)
        if point.run_id in first_index:
            raise ConfigError(source, "sweep",
                              f"runs {first_index[point.run_id]} and {index} have the same "
                              f"effective configuration (run id {point.run_id}); remove the "
                              "duplicate value")
        first_index[point.run_id] = index
        points.append(point)
    name = points[0].scenario.name
    return Sweep(name=name, source=source, keys=keys, points=tuple(points))


def shadowed(sweep: Sweep, overrides: Sequence[str]) -> list[str]:
    """The keys of ``--set`` overrides that the sweep varies: ``--set`` changes the base, so
    their values never reach any run."""
    return [key for key, _ in map(parse_override, overrides) if key in sweep.keys]


def _flat_in_order(table: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A ``[sweep]`` table with nested bare keys flattened to quoted ones, in file order
    (``[sweep.zip]`` kept as it is)."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        if k == ZIP_KEY:
            out[k] = v
        else:
            out.update(_flatten({k: v}, "", source))
    return out


def with_lists(doc: Mapping[str, Any], lists: Mapping[str, list[Any]],
               source: str) -> dict[str, Any]:
    """``doc`` with ``--set key=[...]`` lists as sweep factors: a key the file already sweeps
    takes the new list in its place, any other key is swept after the file's keys. A key of
    ``[sweep.zip]`` cannot be replaced alone (ConfigError)."""
    out = copy_document(doc)
    table = out.get("sweep", {})
    if not isinstance(table, Mapping):
        raise ConfigError(source, "sweep", f"expected a table, got {table!r}")
    flat = _flat_in_order(table, source)
    zipped = flat.get(ZIP_KEY)
    for key, values in lists.items():
        if isinstance(zipped, Mapping) and key in _flatten(zipped, "", source, "sweep.zip."):
            raise ConfigError("--set", key, "varies with other keys in [sweep.zip]; edit the "
                                            "file to change its list")
        flat[key] = values
    out["sweep"] = flat
    return out


def load_sweep(path: str | Path, overrides: Sequence[str] = (),
               lists: Mapping[str, list[Any]] | None = None) -> Sweep:
    """Read a scenario file (or a bundled scenario by name), apply ``--set`` overrides to its
    base, add ``lists`` (``--set key=[...]``) to its sweep, and expand it."""
    path = resolve_scenario(path)
    doc = apply_overrides(read_toml(path), overrides)
    if lists:
        doc = with_lists(doc, lists, str(path))
    return expand_sweep(doc, str(path))


__all__ = ["MAX_POINTS", "ZIP_KEY", "Sweep", "SweepPoint", "expand_sweep", "load_sweep", "shadowed"]
