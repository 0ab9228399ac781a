"""Parsing a scenario: TOML, then checked, typed and built into frozen sections.

A scenario is parsed, validated and built once, at the boundary (:func:`load_scenario`); the
model only ever sees the frozen section objects. Unknown keys, wrong types, out-of-range values
and unknown choices are errors (:class:`ConfigError`) that name the file and the dotted key, so
the CLI can print one line and exit 2.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.config.bundled import bundled_scenarios, resolve_scenario
from simulator.config.overrides import apply_overrides, set_dotted
from simulator.config.sections import Scenario, VmConfig
from simulator.config.tables import table_keys
from simulator.kernels import AUTO, BACKEND_NAMES, PROFILES, resolve
from simulator.kvm.backends import BACKENDS
from simulator.mm.constants import LRU_MAX_PAGES, PTRS_PER_PTE
from simulator.mm.pagetable import MAX_MMS, MM_ID_DTYPE
from simulator.output.paths import name_problem
from simulator.params import ConfigError, Key, bounds, keys_of, shown_bound, suggest
from simulator.units import PAGE_SIZE, parse_size

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _typed(value: Any, key: Key, source: str, dotted: str) -> Any:
    """``value`` converted to the key's type (a size parsed); ConfigError if it is not one."""
    ftype = key.type
    if key.meta.get("size"):
        try:
            return parse_size(value)
        except ValueError as e:
            raise ConfigError(source, dotted, str(e)) from None
    if ftype is bool and not isinstance(value, bool):
        raise ConfigError(source, dotted, f"expected true or false, got {value!r}")
    if ftype is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(source, dotted, f"expected an integer, got {value!r}")
    if ftype is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(source, dotted, f"expected a number, got {value!r}")
        try:
            return float(value)
        except OverflowError:
            raise ConfigError(source, dotted, f"must be a finite number, got {value}") from None
    if ftype is str and not isinstance(value, str):
        raise ConfigError(source, dotted, f"expected a string, got {value!r}")
    return value


def coerce(value: Any, key: Key, source: str, dotted: str) -> Any:
    """Check and convert one scalar to the key's type, range and choices."""
    value = _typed(value, key, source, dotted)
    choices = key.meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(
            source, dotted, f"expected one of {', '.join(choices)}, got {value!r}"
            + suggest(str(value), choices))
    if isinstance(value, float) and not math.isfinite(value) and not key.meta.get("nonfinite"):
        raise ConfigError(source, dotted, f"must be a finite number, got {value!r}")
    lo, hi = bounds(key)
    if lo is not None and value < lo:
        raise ConfigError(source, dotted, f"must be >= {shown_bound(lo)}, got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(source, dotted, f"must be <= {shown_bound(hi)}, got {value!r}")
    return value


def _named_tables(item: type, value: Any, source: str, dotted: str) -> dict[str, Any]:
    """``[vms.NAME]``: a table of named tables, each built as ``item``."""
    if not isinstance(value, Mapping):
        raise ConfigError(source, dotted, f"expected a table of named tables, got {value!r}")
    for name in value:
        if not _NAME_RE.match(name) or name in ("vm0", "task"):
            raise ConfigError(source, f"{dotted}.{name}",
                              "a name of letters, digits and _ (not vm0 or task)")
    return {name: build(item, v, source, f"{dotted}.{name}.") for name, v in value.items()}


def build(cls: type, data: Mapping[str, Any], source: str, prefix: str) -> Any:
    """A table of class ``cls`` from its parsed document, every key checked."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, prefix.rstrip("."), f"expected a table, got {data!r}")
    keys = table_keys(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        dotted = prefix + name
        if name not in keys:
            raise ConfigError(source, dotted, "unknown key" + suggest(name, keys))
        key = keys[name]
        if typing.get_origin(key.type) is dict:
            item = typing.get_args(key.type)[1]
            kwargs[key.attr] = _named_tables(item, value, source, dotted)
        elif dataclasses.is_dataclass(key.type):
            kwargs[key.attr] = build(typing.cast(type, key.type), value, source, dotted + ".")
        else:
            kwargs[key.attr] = coerce(value, key, source, dotted)
    return cls(**kwargs)


def _check_vm(sc: Scenario, source: str, key: str, name: str) -> None:
    """Rules of one VM that involve more than one key (each error names both)."""
    vm = sc.vm if name == "vm0" else sc.vms[name]
    if vm.memory % (512 * PAGE_SIZE):
        raise ConfigError(source, f"{key}.memory",
                          "must be a multiple of 2MiB (whole PTE tables)")
    if not vm.hw_af and "hw_af" not in _backend_keys(vm.backend):
        owners = [n for n in BACKENDS if "hw_af" in _backend_keys(n)]
        raise ConfigError(source, f"{key}.hw_af",
                          f"only {', '.join(owners)} has a software Access Flag mode, not "
                          f"{key}.backend = {vm.backend!r}")
    if vm.tlb_entries % vm.tlb_ways:
        raise ConfigError(source, f"{key}.tlb_ways",
                          f"{key}.tlb_entries = {vm.tlb_entries} does not divide into "
                          f"{vm.tlb_ways} ways")
    allowed = BACKENDS[vm.backend].aging_locks
    if vm.aging_lock not in allowed:
        raise ConfigError(source, f"{key}.aging_lock",
                          f"{key}.backend = {vm.backend!r} cannot age with "
                          f"{vm.aging_lock!r} (possible: auto, {', '.join(allowed)})")


def _backend_keys(name: str) -> Mapping[str, Key]:
    return keys_of(BACKENDS[name].Params)


def resolve_kernel(sc: Scenario, source: str) -> Scenario:
    """``[kernel]``: every ``auto`` takes the release's value (``mglru.notifier``, each VM's
    ``aging_lock``, the kernel switches); an explicit value overrides it (a what-if)."""
    if sc.kernel.release not in PROFILES:
        raise ConfigError(source, "kernel.release",
                          f"expected one of {', '.join(PROFILES)}, got {sc.kernel.release!r}"
                          + suggest(sc.kernel.release, PROFILES))
    surfaced = {"notifier": "mglru.notifier",
                **{f"aging_lock_{b}": "vm.aging_lock" for b in BACKEND_NAMES}}
    for name, key in surfaced.items():
        if getattr(sc.kernel, name) != AUTO:
            raise ConfigError(source, f"kernel.{name}",
                              f"set {key} instead (its auto follows kernel.release)")
    kernel = resolve(sc.kernel)

    def vm_lock(vm: VmConfig) -> str:
        return kernel.aging_lock(vm.backend) if vm.aging_lock == AUTO else vm.aging_lock

    notifier = kernel.notifier if sc.mglru.notifier == AUTO else sc.mglru.notifier
    return dataclasses.replace(
        sc, kernel=kernel.with_values(**dict.fromkeys(surfaced, AUTO)),
        mglru=dataclasses.replace(sc.mglru, notifier=notifier),
        vm=dataclasses.replace(sc.vm, aging_lock=vm_lock(sc.vm)),
        vms={n: dataclasses.replace(v, aging_lock=vm_lock(v)) for n, v in sc.vms.items()})


def debugfs_walks(sc: Scenario) -> bool:
    """Whether debugfs aging (``force_scan``) walks page tables: ``should_walk_mmu()``."""
    hw_young = all(vm.hw_af for _, vm, _ in sc.all_vms())
    return sc.mglru.walk_mmu and (hw_young or sc.kernel.force_scan_walks == "yes")


def check_cross(sc: Scenario, source: str) -> None:
    """Rules that involve more than one key, and the name (a folder under ``--out``)."""
    problem = name_problem(sc.name)
    if problem is not None:
        raise ConfigError(source, "name", problem)
    mms = len(sc.all_vms()) + (1 if sc.task_pages else 0)
    if mms > MAX_MMS:
        raise ConfigError(source, "vms", f"at most {MAX_MMS} mms, VMs and the host task "
                          f"together (an mm id is an {np.dtype(MM_ID_DTYPE).name}), got {mms}")
    if sc.host.policy == "lru":  # the compiled exact LRU links pages with int32 indices
        tables = [-(-(vm.memory // PAGE_SIZE) // PTRS_PER_PTE) for _, vm, _ in sc.all_vms()]
        tables.append(-(-sc.task_pages // PTRS_PER_PTE))
        pages = sum(tables) * PTRS_PER_PTE
        if pages >= LRU_MAX_PAGES:
            raise ConfigError(source, "host.policy",
                              f"exact LRU (lru) indexes at most {LRU_MAX_PAGES - 1:,} pages (int32 "
                              f"links), the VMs and the host task have {pages:,}")
    if sc.mglru.aging != "reclaim" and sc.host.policy != "mglru":
        raise ConfigError(source, "mglru.aging",
                          f"debugfs aging needs host.policy = mglru, not {sc.host.policy!r}")
    if sc.mglru.aging == "back_to_back" and not debugfs_walks(sc):
        raise ConfigError(source, "mglru.aging",
                          "back_to_back aging needs a page-table walk (mglru.walk_mmu = true, "
                          "and a hardware A bit or kernel.force_scan_walks = yes): a pass "
                          "that walks nothing takes no simulated time, so the run never ends")
    if sc.host.wmark_high < sc.host.wmark_low:
        raise ConfigError(source, "host.wmark_high", "must be >= host.wmark_low")
    if not sc.all_vms() and sc.task.memory == 0:
        raise ConfigError(source, "task.memory",
                          "host-only mode (vm.enabled = false) needs a host task (task.memory > 0)")
    for name, _, _ in sc.all_vms():
        _check_vm(sc, source, "vm" if name == "vm0" else f"vms.{name}", name)
    if sc.task.memory % PAGE_SIZE:
        raise ConfigError(source, "task.memory", "must be a multiple of 4KiB")
    if sc.host_pages < 16:
        raise ConfigError(source, "host.memory", "must be at least 64KiB (16 pages)")
    if sc.guest_pages + sc.task_pages == 0:
        raise ConfigError(source, "vm.memory", "nothing to simulate")


def scenario_from_dict(data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Build and validate a :class:`Scenario` from a parsed TOML document."""
    check_depth(data, source)
    data = dict(data)
    data.pop("sweep", None)  # sweeps are expanded by the runner, never seen by the model
    data.pop("provenance", None)  # how a run folder's config.toml was made (not a setting)
    data.pop("question", None)  # a review question's title and quick sizes (questions/)
    sc = build(Scenario, data, source, "")
    assert isinstance(sc, Scenario)
    sc = resolve_kernel(sc, source)
    check_cross(sc, source)
    return sc


MAX_SCENARIO_BYTES = 1 << 20
"""The largest scenario file read (1 MiB; the biggest shipped one is a few KiB)."""


def _read_text(p: Path) -> str:
    """The text of a regular file of at most :data:`MAX_SCENARIO_BYTES` (never blocks on a
    FIFO, never reads a device to the end)."""
    try:
        regular = stat.S_ISREG(os.stat(p).st_mode)
        if regular:
            fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(str(p), "", "no such file") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the name
        raise ConfigError(str(p), "", f"cannot read: {getattr(e, 'strerror', None) or e}") \
            from None
    if not regular:  # a FIFO would block, a device read forever
        raise ConfigError(str(p), "", "not a regular file")
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced since the check
                raise ConfigError(str(p), "", "not a regular file")
            data = f.read(MAX_SCENARIO_BYTES + 1)
    except OSError as e:
        raise ConfigError(str(p), "", f"cannot read: {e.strerror or e}") from None
    if len(data) > MAX_SCENARIO_BYTES:
        raise ConfigError(str(p), "", f"larger than {MAX_SCENARIO_BYTES >> 20} MiB: not a "
                          "scenario file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(str(p), "", f"cannot read: not UTF-8 text ({e.reason} at byte "
                          f"{e.start})") from None


MAX_DEPTH = 16
"""The deepest nesting of tables and arrays a scenario may have (real ones need 6)."""


def check_depth(doc: Any, source: str) -> None:
    """ConfigError if tables and arrays nest deeper than :data:`MAX_DEPTH` (checked without
    recursion, so any depth gets the error, not a RecursionError)."""
    level: list[Any] = [doc]
    for _ in range(MAX_DEPTH + 1):
        level = [v for node in level
                 for v in (node.values() if isinstance(node, Mapping) else node)
                 if isinstance(v, Mapping | list)]
        if not level:
            return
    raise ConfigError(source, "", f"tables and arrays nested deeper than {MAX_DEPTH} levels")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a ConfigError with line and column."""
    p = Path(path)
    text = _read_text(p)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), "", f"TOML syntax error: {e}") from None
    except RecursionError:
        raise ConfigError(str(p), "",
                          f"tables and arrays nested deeper than {MAX_DEPTH} levels") from None
    check_depth(doc, str(p))
    return doc


def describe_scenarios() -> list[tuple[str, str]]:
    """Each bundled scenario (its name, as ``run`` takes it) and the first line of its
    description."""
    rows = []
    for name, path in bundled_scenarios().items():
        doc = read_toml(path)
        question = doc.get("question")
        title = question.get("title", "") if isinstance(question, dict) else ""
        description = str(doc.get("description", "") or title).strip()
        rows.append((name, description.splitlines()[0] if description else ""))
    return rows


def load_scenario(path: str | Path, overrides: Sequence[str] = (),
                  seed: int | None = None) -> Scenario:
    """Read, override, validate and build a scenario file (a path, or the name of a bundled
    scenario: :func:`~simulator.config.bundled.resolve_scenario`)."""
    path = resolve_scenario(path)
    doc = apply_overrides(read_toml(path), overrides)
    if seed is not None:
        set_dotted(doc, "sim.seed", seed)
    return scenario_from_dict(doc, str(path))


__all__ = ["build", "check_cross", "coerce", "debugfs_walks", "describe_scenarios",
           "load_scenario", "read_toml", "scenario_from_dict"]
