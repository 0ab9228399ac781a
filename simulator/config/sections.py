"""The sections of a scenario file as frozen dataclasses, with every default.

Each field is declared with :func:`simulator.params.param` (default, choices or range, doc).
Choices that name registered things come from their registries: ``host.policy`` from the
replacement policies, ``vm.backend`` from the KVM backends, ``mglru.notifier`` from the notifier
designs, ``[workload]`` from the workloads (:mod:`.workload`). A key that one registry entry
alone reads (``vm.hw_af``: arm64; ``mglru.unreliable_fallback``: the bitmap design) is declared
in that entry's parameters and only exposed here (:func:`_owned`), so the model keeps reading
it as a plain attribute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from simulator.config.workload import WorkloadConfig
from simulator.costs import CostConfig
from simulator.kernels import KernelProfile
from simulator.kvm.backends import BACKENDS
from simulator.kvm.notifier import NOTIFIER_DESIGNS
from simulator.params import merge_keys, param
from simulator.policies import POLICIES
from simulator.units import PAGE_SIZE

THP_MODES = ("never", "always")
"""``vm.thp`` / ``task.thp``: PMD-mapped 2 MiB THPs or none (mTHP is not modelled)."""

AGING_LOCKS = ("auto", "write", "read", "none", "rmap")
"""``vm.aging_lock``: ``auto``, then every mode some backend's aging can take (a test checks
them against the backends' ``aging_locks``)."""


def _owned(owners: Iterable[tuple[str, type]], name: str) -> Any:
    """The field of key ``name`` as the registry entry that owns it declares it."""
    key = merge_keys(owners)[name]
    return field(default=key.default, metadata=key.meta)


BACKEND_PARAMS = tuple((name, cls.Params) for name, cls in BACKENDS.items())
DESIGN_PARAMS = tuple((name, e.params) for name, e in NOTIFIER_DESIGNS.items())


@dataclass(frozen=True, slots=True)
class SimConfig:
    """``[sim]``: the run as a whole."""

    duration_ms: float = param(2000.0, lo=0.001, hi=3.6e6, doc="simulated time to run")
    seed: int = param(1, lo=0, hi=2**63 - 1, doc="root of every named RNG stream")
    sample_interval_ms: float = param(10.0, lo=0.001, hi=3.6e6,
                                      doc="time-series sample period")
    lru_gen_snapshots: int = param(8, lo=0, hi=10_000, doc="debugfs lru_gen snapshots to keep")
    check_invariants: bool = param(False,
                                   doc="check MGLRU invariants after every reclaim step")


@dataclass(frozen=True, slots=True)
class HostConfig:
    """``[host]``: the memcg that holds the VM (and the host task) and its swap device."""

    memory: int = param(3 * 2**30, size=True, lo=PAGE_SIZE * 16,
                        doc="bytes the memcg may keep resident; the rest is swapped")
    swap: str = param("zram", choices=("zram", "ssd"),
                      doc="swap device: sets swap-in/out latency")
    wmark_low: float = param(0.01, lo=0.0, hi=0.5,
                             doc="kswapd wakes when the node's free memory falls below this "
                                 "fraction of node_memory")
    wmark_high: float = param(0.02, lo=0.0, hi=0.5,
                              doc="kswapd reclaims until the node's free memory reaches this "
                                  "fraction")
    policy: str = param("mglru", choices=tuple(POLICIES),
                        doc="page replacement policy (mglru-sim list policies)")
    node_memory: int = param(0, size=True, lo=0,
                             doc="memory of the NUMA node: kswapd reclaims when the node's "
                                 "free memory falls below wmark_low of it; 0: the memcg limit "
                                 "is the only constraint and no kswapd runs (the default)")
    proactive_reclaim: int = param(0, size=True, lo=0,
                                   doc="bytes a proactive agent asks memory.reclaim to reclaim "
                                       "every proactive_interval_ms (0: none)")
    proactive_interval_ms: float = param(1000.0, lo=0.001, hi=3.6e6,
                                         doc="period of the proactive memory.reclaim writes")
    sockets: int = param(2, lo=1, hi=64, doc="host sockets (simulator.kvm.topology: where the "
                                             "VM's threads run, how far a cache line moves)")
    cores_per_socket: int = param(28, lo=1, hi=1024, doc="physical cores per socket")
    cores_per_llc: int = param(0, lo=0, hi=1024, doc="cores sharing a last-level cache (an AMD "
                                                    "CCX); 0: the whole socket")
    smt: int = param(2, lo=1, hi=8, doc="hardware threads per core")


@dataclass(frozen=True, slots=True)
class VmConfig:
    """``[vm]``: one KVM guest (``enabled = false`` gives host-only mode)."""

    enabled: bool = param(True, doc="false: no VM, MGLRU with the host task alone")
    memory: int = param(4 * 2**30, size=True, lo=PAGE_SIZE * 512, doc="guest memory")
    vcpus: int = param(8, lo=1, hi=1024, doc="vCPUs, one SimPy process each")
    backend: str = param("x86_tdp", choices=tuple(BACKENDS),
                         doc="KVM MMU backend (mglru-sim list backends)")
    aging_lock: str = param("auto", choices=AGING_LOCKS,
                            doc="mmu_lock mode of KVM aging; auto = what kernel.release does "
                                "for the backend")
    hw_af: bool = _owned(BACKEND_PARAMS, "hw_af")
    tlb_flush_on_age: bool = param(False, doc="what-if: every aging call that clears a young "
                                              "SPTE flushes all vCPU TLBs, clear_young too (in "
                                              "every release only clear_flush_young flushes, "
                                              "per kernel.young_flush_*)")
    lock_model: str = param("fast", choices=("fast", "fine"),
                            doc="mmu_lock contention: fast (mean field) or fine (event per atomic)")
    tlb_entries: int = param(1536, lo=0, hi=1 << 20,
                             doc="per-vCPU last-level TLB entries (0: no TLB); 1536 = the Intel "
                                 "Skylake-SP / Cascade Lake STLB")
    tlb_ways: int = param(12, lo=1, hi=1 << 20,
                          doc="TLB associativity (1: direct-mapped); 12 = Skylake-SP / Cascade "
                              "Lake STLB (128 sets x 12 ways, TLB;DR); must divide tlb_entries")
    quantum_accesses: int = param(1024, lo=1, hi=1 << 20,
                                  doc="page touches per vCPU step (bounds reordering error)")
    thp: str = param("never", choices=THP_MODES,
                     doc="transparent huge pages for guest memory: always (a first touch of an "
                         "empty 2 MiB range maps a PMD THP, 512 pages; KVM maps it with a 2 MiB "
                         "SPTE where the backend does) or never")
    speculative_young: float = param(0.0, lo=0.0, hi=1.0,
                                     doc="assumption: probability that an idle SPTE's A bit is "
                                         "set by speculation or prefetch between two harvests "
                                         "(SDM 3A 4.10.2.3; no published rate; sensitivity "
                                         "1e-4..1e-2)")
    cmpxchg_fail: float = param(0.0, lo=0.0, hi=1.0,
                                doc="x86_tdp_noad aging lockless (6.15+): probability that an "
                                    "aged SPTE's cmpxchg loses a race and stays young, counted "
                                    "young (b146a9b34aed); the model's steps never race, so "
                                    "0 unless injected")
    host_accesses: float = param(0.0, lo=0.0, hi=1e10,
                                 doc="host-side touches of guest memory per simulated second "
                                     "(vhost, the VMM, KVM PV pages): they set only the primary "
                                     "A bit; 0: none")
    host_access_footprint: int = param(2**20, size=True, lo=PAGE_SIZE,
                                       doc="guest memory those host-side touches fall on "
                                           "(virtqueue rings and buffers: 0.4-1 MiB per queue)")


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

    memory: int = param(0, size=True, lo=0, doc="bytes the host task maps (0: no host task)")
    quantum_accesses: int = param(1024, lo=1, hi=1 << 20,
                                  doc="page touches per host-task step")
    thp: str = param("never", choices=THP_MODES,
                     doc="transparent huge pages for the host task's memory (always, never)")
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)


@dataclass(frozen=True, slots=True)
class MglruConfig:
    """``[mglru]``: the aging engine and how it consults secondary MMUs."""

    notifier: str = param("auto", choices=("auto", *NOTIFIER_DESIGNS),
                          doc="how MGLRU consults KVM: auto (what kernel.release does), "
                              + ", ".join(f"{name} ({e.kernels})"
                                          for name, e in NOTIFIER_DESIGNS.items()))
    unreliable_fallback: str = _owned(DESIGN_PARAMS, "unreliable_fallback")
    bitmap_variant: str = _owned(DESIGN_PARAMS, "bitmap_variant")
    aging: str = param("reclaim", choices=("reclaim", "interval", "back_to_back"),
                       doc="who triggers aging: reclaim only, a proactive ager, or "
                           "back-to-back")
    aging_interval_ms: float = param(1000.0, lo=0.001, hi=3.6e6, doc="proactive aging period")
    walk_mmu: bool = param(True, doc="LRU_GEN_MM_WALK cap: aging walks page tables")
    bloom_filter: bool = param(True, doc="gate the walk with the double-buffered Bloom filters")
    look_around: bool = param(True, doc="lru_gen_look_around at eviction")


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


__all__ = ["AGING_LOCKS", "BACKEND_PARAMS", "DESIGN_PARAMS", "THP_MODES", "ExtraVmConfig",
           "HostConfig", "MglruConfig", "Scenario", "SimConfig", "TaskConfig", "VmConfig"]
