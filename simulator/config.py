"""Scenario files: TOML -> frozen dataclasses, with every default in this one module.

A scenario is parsed, validated and built once, at the boundary (``load_scenario``); the model
only ever sees the frozen section objects. Unknown keys, wrong types, out-of-range values and
unknown choices are errors (:class:`ConfigError`) that name the file and the dotted key, so the
CLI can print one line and exit 2.

Sizes accept units (``"4GiB"``, ``"256M"``, ``"512KiB"``, or a plain integer of bytes); the
``K/M/G/T`` suffixes are binary, as in the kernel selftests' ``parse_size()``.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.costs import CostConfig
from simulator.kernels import AUTO, BACKEND_NAMES, PROFILES, KernelProfile, resolve

PAGE_SIZE = 4096
"""Bytes per base page (x86-64 and arm64 with a 4 KiB granule)."""


class ConfigError(ValueError):
    """A scenario value is missing, malformed or out of range.

    ``str()`` is the one line the CLI prints: ``FILE: key 'a.b': what was expected``.
    """

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        where = f"key '{key}': " if key else ""
        super().__init__(f"{source}: {where}{message}")


def _spec(
    *,
    choices: tuple[str, ...] | None = None,
    lo: float | None = None,
    hi: float | None = None,
    size: bool = False,
    doc: str = "",
) -> dict[str, Any]:
    return {"choices": choices, "lo": lo, "hi": hi, "size": size, "doc": doc}


def _f(default: Any, **spec: Any) -> Any:
    return field(default=default, metadata=_spec(**spec))


@dataclass(frozen=True, slots=True)
class SimConfig:
    """``[sim]``: the run as a whole."""

    duration_ms: float = _f(2000.0, lo=0.001, hi=3.6e6, doc="simulated time to run")
    seed: int = _f(1, lo=0, hi=2**63 - 1, doc="root of every named RNG stream")
    sample_interval_ms: float = _f(10.0, lo=0.001, hi=3.6e6, doc="time-series sample period")
    lru_gen_snapshots: int = _f(8, lo=0, hi=10_000, doc="debugfs lru_gen snapshots to keep")
    check_invariants: bool = _f(False, doc="check MGLRU invariants after every reclaim step")


@dataclass(frozen=True, slots=True)
class HostConfig:
    """``[host]``: the memcg that holds the VM (and the host task) and its swap device."""

    memory: int = _f(3 * 2**30, size=True, lo=PAGE_SIZE * 16,
                     doc="bytes the memcg may keep resident; the rest is swapped")
    swap: str = _f("zram", choices=("zram", "ssd"), doc="swap device: sets swap-in/out latency")
    wmark_low: float = _f(0.01, lo=0.0, hi=0.5,
                          doc="kswapd wakes when the node's free memory falls below this "
                              "fraction of node_memory")
    wmark_high: float = _f(0.02, lo=0.0, hi=0.5,
                           doc="kswapd reclaims until the node's free memory reaches this "
                               "fraction")
    policy: str = _f("mglru", choices=("mglru", "classic", "lru"),
                     doc="page replacement: mglru, classic (the active/inactive LRU with "
                         "lru_gen disabled), or lru (exact LRU over every access, the yardstick)")
    node_memory: int = _f(0, size=True, lo=0,
                          doc="memory of the NUMA node: kswapd reclaims when the node's free "
                              "memory falls below wmark_low of it; 0: the memcg limit is the "
                              "only constraint and no kswapd runs (the default)")
    proactive_reclaim: int = _f(0, size=True, lo=0,
                                doc="bytes a proactive agent asks memory.reclaim to reclaim "
                                    "every proactive_interval_ms (0: none)")
    proactive_interval_ms: float = _f(1000.0, lo=0.001, hi=3.6e6,
                                      doc="period of the proactive memory.reclaim writes")


@dataclass(frozen=True, slots=True)
class WorkloadConfig:
    """``[workload]``: what the vCPUs (or the host task) touch."""

    kind: str = _f("zipf", choices=("zipf", "uniform", "sequential", "ycsb_zipf", "memstress",
                                    "hotcold", "scan_mix", "trace"),
                   doc="access generator (mglru-sim list workloads)")
    theta: float = _f(0.99, lo=0.0, hi=5.0, doc="zipf skew")
    footprint: float = _f(1.0, lo=1e-6, hi=1.0,
                          doc="fraction of the VM's (or task's) memory the workload touches")
    think_ns: int = _f(500, lo=0, hi=10**9,
                       doc="compute time between two page touches of one vCPU")
    write_fraction: float = _f(0.5, lo=0.0, hi=1.0, doc="fraction of touches that write")
    scatter: bool = _f(True, doc="zipf/uniform: place ranks on a seeded random permutation "
                                 "of pages")
    ycsb_scrambled: bool = _f(True, doc="ycsb_zipf: ScrambledZipfianGenerator (FNV-1a hash of "
                                        "the item, mod the item count), as YCSB's zipfian "
                                        "requests; false: plain ZipfianGenerator")
    random_access: bool = _f(False, doc="memstress: random page order (-a) instead of sequential")
    overlap: bool = _f(False, doc="memstress: every vCPU walks the whole region (-o) instead "
                                  "of its own slice")
    hot_fraction: float = _f(0.1, lo=1e-9, hi=1.0,
                             doc="hotcold/scan_mix: fraction of the footprint that is hot")
    hot_access_fraction: float = _f(0.9, lo=0.0, hi=1.0,
                                    doc="hotcold: fraction of touches that go to the hot set")
    phase_accesses: int = _f(0, lo=0, hi=2**62,
                             doc="hotcold: touches per stream before the hot set moves to a new "
                                 "random place (0: never)")
    scan_every: int = _f(10_000, lo=1, hi=2**62,
                         doc="scan_mix: hot-set touches per stream between two scans")
    scan_pages: int = _f(0, lo=0, hi=2**40,
                         doc="scan_mix: pages per one-pass sequential scan of the cold pages "
                             "(0: all of them)")
    trace: str = _f("", doc="trace: the trace file to replay (relative to the working "
                            "directory)")
    trace_format: str = _f("auto", choices=("auto", "csv", "npy", "npz", "oracleGeneral",
                                            "lackey"),
                           doc="trace: file format; auto picks it from the file name")
    trace_column: str = _f("", doc="trace: page column (csv header name or 0-based index, npy "
                                   "field, npz member); empty: the first / a page field")
    trace_rw_column: str = _f("", doc="trace: column telling reads from writes (csv/npy); "
                                      "empty: one named write/is_write/rw, else none "
                                      "(touches write with write_fraction)")
    trace_stream_column: str = _f("", doc="trace: column whose value (mod streams) picks the "
                                          "vCPU, with trace_split = column")
    trace_header: str = _f("auto", choices=("auto", "yes", "no"),
                           doc="trace: csv has a header line (auto: detect)")
    trace_delimiter: str = _f(",", doc="trace: csv field separator")
    trace_addresses: bool = _f(False, doc="trace: csv/npy values are byte addresses "
                                          "(page = value >> 12)")
    trace_instructions: bool = _f(False, doc="trace: lackey I (instruction fetch) lines count "
                                             "as reads")
    trace_split: str = _f("round_robin", choices=("round_robin", "column"),
                          doc="trace: record i goes to stream i mod streams, or by "
                              "trace_stream_column")
    trace_remap: str = _f("first_touch", choices=("first_touch", "sorted"),
                          doc="trace: dense page numbering by first touch or by page id")
    trace_chunk: int = _f(65536, lo=1, hi=1 << 26,
                          doc="trace: records read per chunk (bounds the replay's memory)")


@dataclass(frozen=True, slots=True)
class VmConfig:
    """``[vm]``: one KVM guest (``enabled = false`` gives host-only mode)."""

    enabled: bool = _f(True, doc="false: no VM, MGLRU with the host task alone")
    memory: int = _f(4 * 2**30, size=True, lo=PAGE_SIZE * 512, doc="guest memory")
    vcpus: int = _f(8, lo=1, hi=1024, doc="vCPUs, one SimPy process each")
    backend: str = _f("x86_tdp",
                      choices=("x86_tdp", "x86_tdp_noad", "x86_shadow", "arm64", "generic"),
                      doc="KVM MMU backend (mglru-sim list backends)")
    aging_lock: str = _f("auto", choices=("auto", "write", "read", "none", "rmap"),
                         doc="mmu_lock mode of KVM aging; auto = what kernel.release does for "
                             "the backend")
    hw_af: bool = _f(True, doc="arm64 only: hardware Access Flag (false: access-flag faults)")
    tlb_flush_on_age: bool = _f(False, doc="what-if: every aging call that clears a young "
                                           "SPTE flushes all vCPU TLBs, clear_young too (in "
                                           "every release only clear_flush_young flushes, "
                                           "per kernel.young_flush_*)")
    lock_model: str = _f("fast", choices=("fast", "fine"),
                         doc="mmu_lock contention: fast (analytic) or fine (event per lock)")
    tlb_entries: int = _f(1536, lo=0, hi=1 << 20,
                          doc="per-vCPU last-level TLB entries (0: no TLB); 1536 = the Intel "
                              "Skylake-SP / Cascade Lake STLB")
    tlb_ways: int = _f(12, lo=1, hi=1 << 20,
                       doc="TLB associativity (1: direct-mapped); 12 = Skylake-SP / Cascade "
                           "Lake STLB (128 sets x 12 ways, TLB;DR); must divide tlb_entries")
    quantum_accesses: int = _f(1024, lo=1, hi=1 << 20,
                               doc="page touches per vCPU step (bounds reordering error)")


@dataclass(frozen=True, slots=True)
class ExtraVmConfig(VmConfig):
    """``[vms.NAME]``: a further VM in the same memcg, with its own ``[vms.NAME.workload]``.

    It takes every ``[vm]`` key (``enabled = false`` leaves it out) and is consulted by MGLRU
    through the same ``[mglru]`` notifier design as the first VM.
    """

    workload: WorkloadConfig = field(default_factory=WorkloadConfig)


@dataclass(frozen=True, slots=True)
class TaskConfig:
    """``[task]``: a host (non-VM) process whose accesses set primary A bits directly."""

    memory: int = _f(0, size=True, lo=0, doc="bytes the host task maps (0: no host task)")
    quantum_accesses: int = _f(1024, lo=1, hi=1 << 20, doc="page touches per host-task step")
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)


@dataclass(frozen=True, slots=True)
class MglruConfig:
    """``[mglru]``: the aging engine and how it consults secondary MMUs."""

    notifier: str = _f("auto", choices=("auto", "blind", "per_page", "bitmap", "fast_only"),
                       doc="how MGLRU consults KVM: blind (<6.11.7), per_page (6.11.7+), "
                           "bitmap (v3), fast_only (v5-v7); auto = what kernel.release does")
    unreliable_fallback: str = _f("blind", choices=("blind", "per_page"),
                                  doc="bitmap design: what the caller does on "
                                      "MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE")
    aging: str = _f("reclaim", choices=("reclaim", "interval", "back_to_back"),
                    doc="who triggers aging: reclaim only, a proactive ager, or back-to-back")
    aging_interval_ms: float = _f(1000.0, lo=0.001, hi=3.6e6, doc="proactive aging period")
    walk_mmu: bool = _f(True, doc="LRU_GEN_MM_WALK cap: aging walks page tables")
    bloom_filter: bool = _f(True, doc="gate the walk with the double-buffered Bloom filters")
    look_around: bool = _f(True, doc="lru_gen_look_around at eviction")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario file. ``name`` and ``description`` are top-level keys."""

    name: str = "scenario"
    description: str = ""
    sim: SimConfig = field(default_factory=SimConfig)
    host: HostConfig = field(default_factory=HostConfig)
    vm: VmConfig = field(default_factory=VmConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    mglru: MglruConfig = field(default_factory=MglruConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    costs: CostConfig = field(default_factory=CostConfig)
    kernel: KernelProfile = field(default_factory=KernelProfile)
    """``[kernel]``: the release, and any switch overridden (``mglru-sim list kernels``)."""
    vms: dict[str, ExtraVmConfig] = field(default_factory=dict)
    """Further VMs sharing the memcg, by name (``[vms.NAME]``)."""

    def all_vms(self) -> list[tuple[str, VmConfig, WorkloadConfig]]:
        """Every enabled VM: ``vm0`` from ``[vm]``/``[workload]``, then ``[vms.NAME]``."""
        out: list[tuple[str, VmConfig, WorkloadConfig]] = []
        if self.vm.enabled:
            out.append(("vm0", self.vm, self.workload))
        out.extend((name, v, v.workload) for name, v in self.vms.items() if v.enabled)
        return out

    @property
    def guest_pages(self) -> int:
        """Pages of all enabled VMs."""
        return sum(v.memory // PAGE_SIZE for _, v, _ in self.all_vms())

    @property
    def task_pages(self) -> int:
        return self.task.memory // PAGE_SIZE

    @property
    def host_pages(self) -> int:
        return self.host.memory // PAGE_SIZE


_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: object) -> int:
    """Bytes from ``"4GiB"``, ``"256M"``, ``"1G"``, ``"4096"`` or an int. Raises ValueError."""
    if isinstance(text, bool):
        raise ValueError("a size, not a boolean")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("a size must not be negative")
        return text
    if not isinstance(text, str):
        raise ValueError(f"a size like '4GiB', '256M' or a byte count, not {text!r}")
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"a size like '4GiB', '256M' or a byte count, not {text!r}")
    value = float(m.group(1)) * _UNITS[m.group(2).upper()]
    if value != int(value):
        raise ValueError(f"size {text!r} is not a whole number of bytes")
    return int(value)


def _suggest(word: str, options: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, ftype: Any, meta: Mapping[str, Any], source: str, key: str) -> Any:
    """Check and convert one scalar to the field's type, range and choices."""
    if meta.get("size"):
        try:
            value = parse_size(value)
        except ValueError as e:
            raise ConfigError(source, key, str(e)) from None
    elif ftype is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {value!r}")
    elif ftype is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, key, f"expected an integer, got {value!r}")
    elif ftype is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(source, key, f"expected a number, got {value!r}")
        value = float(value)
    elif ftype is str and not isinstance(value, str):
        raise ConfigError(source, key, f"expected a string, got {value!r}")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(
            source, key, f"expected one of {', '.join(choices)}, got {value!r}"
            + _suggest(str(value), choices))
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and value < lo:
        raise ConfigError(source, key, f"must be >= {lo:g}, got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(source, key, f"must be <= {hi:g}, got {value!r}")
    return value


def _build(cls: type, data: Mapping[str, Any], source: str, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(source, prefix.rstrip("."), f"expected a table, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    types_ = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = prefix + key
        if key not in fields:
            raise ConfigError(source, dotted, "unknown key" + _suggest(key, fields))
        ftype = types_[key]
        if typing.get_origin(ftype) is dict:
            item = typing.get_args(ftype)[1]
            if not isinstance(value, Mapping):
                raise ConfigError(source, dotted,
                                  f"expected a table of named tables, got {value!r}")
            for name in value:
                if not _NAME_RE.match(name) or name in ("vm0", "task"):
                    raise ConfigError(source, f"{dotted}.{name}",
                                      "a name of letters, digits and _ (not vm0 or task)")
            kwargs[key] = {name: _build(item, v, source, f"{dotted}.{name}.")
                           for name, v in value.items()}
        elif dataclasses.is_dataclass(ftype):
            kwargs[key] = _build(typing.cast(type, ftype), value, source, dotted + ".")
        else:
            kwargs[key] = _coerce(value, ftype, fields[key].metadata, source, dotted)
    return cls(**kwargs)


def _resolve_kernel(sc: Scenario, source: str) -> Scenario:
    """``[kernel]``: every ``auto`` takes the release's value (``mglru.notifier``, each VM's
    ``aging_lock``, the kernel switches); an explicit value overrides it (a what-if)."""
    if sc.kernel.release not in PROFILES:
        raise ConfigError(source, "kernel.release",
                          f"expected one of {', '.join(PROFILES)}, got {sc.kernel.release!r}"
                          + _suggest(sc.kernel.release, PROFILES))
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


def _check_cross(sc: Scenario, source: str) -> None:
    """Rules that involve more than one key."""
    if sc.mglru.aging != "reclaim" and sc.host.policy != "mglru":
        raise ConfigError(source, "mglru.aging",
                          f"debugfs aging needs host.policy = mglru, not {sc.host.policy!r}")
    if sc.host.wmark_high < sc.host.wmark_low:
        raise ConfigError(source, "host.wmark_high", "must be >= host.wmark_low")
    if not sc.all_vms() and sc.task.memory == 0:
        raise ConfigError(source, "task.memory",
                          "host-only mode (vm.enabled = false) needs a host task (task.memory > 0)")
    for name, vm, _ in sc.all_vms():
        key = "vm" if name == "vm0" else f"vms.{name}"
        if vm.memory % (512 * PAGE_SIZE):
            raise ConfigError(source, f"{key}.memory",
                              "must be a multiple of 2MiB (whole PTE tables)")
        if not vm.hw_af and vm.backend != "arm64":
            raise ConfigError(source, f"{key}.hw_af", "only arm64 has a software Access Flag "
                              f"mode, not {key}.backend = {vm.backend!r}")
        if vm.tlb_entries % vm.tlb_ways:
            raise ConfigError(source, f"{key}.tlb_ways",
                              f"{key}.tlb_entries = {vm.tlb_entries} does not divide into "
                              f"{vm.tlb_ways} ways")
        from simulator.kvm.backends import BACKENDS

        allowed = BACKENDS[vm.backend].aging_locks
        if vm.aging_lock not in allowed:
            raise ConfigError(source, f"{key}.aging_lock",
                              f"{key}.backend = {vm.backend!r} cannot age with "
                              f"{vm.aging_lock!r} (possible: auto, {', '.join(allowed)})")
    if sc.task.memory % PAGE_SIZE:
        raise ConfigError(source, "task.memory", "must be a multiple of 4KiB")
    total = sc.guest_pages + sc.task_pages
    if sc.host_pages < 16:
        raise ConfigError(source, "host.memory", "must be at least 64KiB (16 pages)")
    if total == 0:
        raise ConfigError(source, "vm.memory", "nothing to simulate")


def scenario_from_dict(data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Build and validate a :class:`Scenario` from a parsed TOML document."""
    data = dict(data)
    data.pop("sweep", None)  # sweeps are expanded by the runner, never seen by the model
    sc = _build(Scenario, data, source, "")
    assert isinstance(sc, Scenario)
    sc = _resolve_kernel(sc, source)
    _check_cross(sc, source)
    return sc


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a ConfigError with line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "", "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(p), "", f"cannot read: {e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), "", f"TOML syntax error: {e}") from None


def _set_dotted(doc: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = doc
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError("--set", dotted, f"'{part}' is not a table")
    node[parts[-1]] = value


def _field_at(dotted: str) -> tuple[Any, Mapping[str, Any]]:
    cls: Any = Scenario
    meta: Mapping[str, Any] = {}
    ftype: Any = None
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        part = parts[i]
        if not dataclasses.is_dataclass(cls):
            raise ConfigError("--set", dotted, "unknown key")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            raise ConfigError("--set", dotted, "unknown key" + _suggest(part, fields))
        ftype = _field_types(typing.cast(type, cls))[part]
        meta = fields[part].metadata
        if typing.get_origin(ftype) is dict:
            if i + 1 >= len(parts):
                raise ConfigError("--set", dotted, "name a member, e.g. vms.NAME.vcpus")
            i += 1  # the member's name
            ftype = typing.get_args(ftype)[1]
        cls = ftype
        i += 1
    if dataclasses.is_dataclass(ftype):
        raise ConfigError("--set", dotted, "is a table, not a value")
    return ftype, meta


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line, the value coerced to the key's type."""
    if "=" not in text:
        raise ConfigError("--set", text, "expected key=value")
    key, raw = (s.strip() for s in text.split("=", 1))
    ftype, meta = _field_at(key)
    value: Any = raw
    if meta.get("size") or ftype is str:
        value = raw.strip('"')
    elif ftype is bool:
        if raw.lower() not in ("true", "false"):
            raise ConfigError("--set", key, f"expected true or false, got {raw!r}")
        value = raw.lower() == "true"
    elif ftype in (int, float):
        try:
            value = int(raw) if ftype is int else float(raw)
        except ValueError:
            raise ConfigError("--set", key, f"expected a number, got {raw!r}") from None
    return key, value


def apply_overrides(doc: Mapping[str, Any], overrides: typing.Sequence[str]) -> dict[str, Any]:
    """A deep copy of ``doc`` with each ``key=value`` applied."""
    out = _deepcopy(doc)
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(out, key, value)
    return out


def _deepcopy(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, Mapping) else v for k, v in doc.items()}


def load_scenario(path: str | Path, overrides: typing.Sequence[str] = (),
                  seed: int | None = None) -> Scenario:
    """Read, override, validate and build a scenario file."""
    doc = apply_overrides(read_toml(path), overrides)
    if seed is not None:
        _set_dotted(doc, "sim.seed", seed)
    return scenario_from_dict(doc, str(path))


def to_dict(sc: Scenario) -> dict[str, Any]:
    """The effective configuration as a plain nested dict (sizes in bytes)."""
    return dataclasses.asdict(sc)


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


def to_toml(sc: Scenario) -> str:
    """The effective configuration as TOML text (round-trips through ``scenario_from_dict``)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return toml_string(v)
        return repr(v)

    def emit(table: Mapping[str, Any], name: str) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
        subs = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        if name and (scalars or not subs):
            lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {scalar(v)}" for k, v in scalars.items())
        for k, v in subs.items():
            emit(v, f"{name}.{k}" if name else k)

    emit(to_dict(sc), "")
    return "\n".join(lines).lstrip("\n") + "\n"


def run_id_of(sc: Scenario) -> str:
    """A stable id derived from the effective configuration (same config → same id)."""
    return hashlib.sha256(to_toml(sc).encode()).hexdigest()[:12]


def describe_keys() -> list[tuple[str, str, str]]:
    """(dotted key, default, description) for every scenario key, for README and ``list``."""
    rows: list[tuple[str, str, str]] = []

    def walk(cls: Any, prefix: str) -> None:
        types_ = _field_types(cls)
        for f in dataclasses.fields(cls):
            ftype = types_[f.name]
            if typing.get_origin(ftype) is dict:
                walk(typing.get_args(ftype)[1], prefix + f.name + ".<name>.")
                continue
            if dataclasses.is_dataclass(ftype):
                walk(ftype, prefix + f.name + ".")
                continue
            default = f.default if f.default is not dataclasses.MISSING else ""
            rows.append((prefix + f.name, repr(default), f.metadata.get("doc", "")))

    walk(Scenario, "")
    return rows


__all__ = [
    "PAGE_SIZE", "ConfigError", "CostConfig", "ExtraVmConfig", "HostConfig", "MglruConfig",
    "Scenario",
    "SimConfig", "TaskConfig", "VmConfig", "WorkloadConfig", "apply_overrides",
    "describe_keys", "load_scenario", "parse_override", "parse_size", "read_toml", "run_id_of",
    "scenario_from_dict", "to_dict", "to_toml",
]
