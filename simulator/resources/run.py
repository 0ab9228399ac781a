"""The memory a run of a scenario needs, counted before anything is allocated.

Every structure whose size grows with the inputs is counted by what it is indexed by (the byte
counts are array elements of their dtype, or measured sizes of Python rows;
``tests/test_resources.py`` checks on a grid of inputs that the estimate bounds what a run
really allocates):

- per page of the host index space (every mm rounded up to whole PTE tables): the primary PTE
  bits, ground truth, the mm of each table (:data:`HOST_PAGE_BYTES`), what the replacement
  policy keeps (its ``memory_per_page`` fact, transients of a list walk included), per VM
  what its KVM backend and the notifier design declare (``memory_per_page``), and with
  host-side accesses the guest's own view of the last access; in a host-only MGLRU run, the
  compiled host task's state (:data:`STRETCH_PAGE_BYTES`);
- per workload: what its kind declares (``memory_bytes``);
- per vCPU: its TLB (tags, LRU stamps and flush epochs: 24 bytes an entry), its quantum of
  accesses, its SimPy process; per VM, the ``mmu_lock`` model's per-actor arrays (the fast
  model keeps an actors x actors matrix of who blocked whom; every vCPU of every VM and the
  host actors are actors of every VM's lock);
- per time-series row (``sim.duration_ms / sim.sample_interval_ms``) and per ``passes.csv`` row
  (:func:`pass_rows`: the debugfs ager's passes from its mode, plus a budget for the passes
  reclaim asks for, which :class:`BoundedRows` enforces while the run goes), the row in memory,
  in the table and in the CSV writer; the ``lru_gen`` snapshots;
- :data:`BASE_BYTES` for the interpreter and the imported libraries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from simulator.config import PAGE_SIZE, Scenario, WorkloadConfig
from simulator.kvm.backends import BACKENDS
from simulator.kvm.notifier import NOTIFIER_DESIGNS
from simulator.metrics import PASS_COLUMNS, TIMESERIES_COLUMNS
from simulator.mm.aging import TABLES_PER_STEP
from simulator.mm.constants import PTRS_PER_PTE
from simulator.policies import POLICIES
from simulator.resources.errors import ResourceError
from workloads import WORKLOADS

BASE_BYTES = 400 * 2**20
"""Python, numpy, pandas, SimPy, numba (llvmlite, the compiled kernels) and matplotlib once
imported, and the figures of a report (measured peak RSS of a tiny run with its report ≈ 300
MiB, 240 MiB without)."""
FIXED_BYTES = 4 * 2**20
"""A run's fixed structures: the SimPy environment, Bloom filters, histograms, counters."""
HOST_PAGE_BYTES = 24
"""Per page of the host index space: primary PTE bits (present, young, dirty, swapped,
mapped: 5 × 1), ground truth (last access, last harvest: 2 × 8), the table maps, a boolean
temporary of a whole-space scan."""
GUEST_VIEW_BYTES = 8
"""Per page, with host-side accesses to guest memory (``vm.host_accesses``): the guest's own
last access (the THP maps, one flag per PTE table, are too small to count)."""
STRETCH_PAGE_BYTES = 24
"""Per page of a host-only run whose host task runs MGLRU on the compiled core
(``simulator.stretch.mglru``): quantum marks for missing and for written pages and the
eviction snapshot's buffer (3 × int64)."""
CHECK_PAGE_BYTES = 24
"""Per page, when ``sim.check_invariants`` is on: the temporaries of the invariant checks."""
TLB_ENTRY_BYTES = 24
"""Per TLB entry of each vCPU: its tag, its LRU stamp and (compiled core) its flush epoch
(3 × int64)."""
VCPU_BYTES = 16 * 2**10
"""Per vCPU: its SimPy process, its per-vCPU arrays (clock, flush debt, fault share)."""
QUANTUM_HELD_BYTES = 32
"""Per access of a quantum, per vCPU: the page and write arrays it holds across its step."""
QUANTUM_WORK_BYTES = 160
"""Per access of the largest quantum, once: the temporaries of applying one (TLB lookup,
faults, ground truth); one quantum is applied at a time."""
ACTOR_BYTES = 128
"""Per actor of each VM's ``mmu_lock`` model (rates, holds, modes, the blocker temporary)."""
ACTOR_PAIR_BYTES = 8
"""Per pair of actors of each VM's fast ``mmu_lock`` model (``pend_cause``, float64)."""
ROW_BYTES_PER_COLUMN = 100
"""Per value of a recorded row: the boxed value in its dict (≈ 60), the table's column (8) and
the CSV writer's temporaries."""
SNAPSHOT_BYTES = 4 * 2**10
"""One ``lru_gen`` debugfs snapshot."""
MIN_B2B_PASS_NS = 50_000
"""The shortest back-to-back aging pass the budget allows (a walk that scans one populated PTE
table takes 512 × ``pte_scan_ns`` ≈ 12 µs and as much in notifier calls; the ci scenarios'
passes take 0.3-2 ms): a run whose passes are shorter stops when it spends the budget."""
RECLAIM_PASSES_PER_MS = 0.2
"""The budget of aging passes that reclaim may ask for, per simulated millisecond (the ci
scenarios ask for at most 0.06)."""
MIN_PASS_ROWS = 1000
"""The smallest budget of ``passes.csv`` rows."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """Bytes a command needs at its peak, in total and by part; ``pages``: the host index
    space it simulates (0 for commands that simulate nothing)."""

    bytes: int
    pages: int = 0
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def model_bytes(self) -> int:
        """What the command adds to an interpreter that imported the libraries."""
        return self.bytes - BASE_BYTES

    def __str__(self) -> str:
        return f"{self.bytes / 2**30:.2f} GiB"


def _workload_bytes(cfg: WorkloadConfig, pages: int, streams: int) -> int:
    kind = WORKLOADS[cfg.kind]
    return int(kind.memory_bytes(cfg.params_as(kind.Params), pages, streams))


def host_index_pages(sc: Scenario) -> int:
    """Pages of the host index space: every mm's pages rounded up to whole PTE tables."""
    sizes = [vm.memory // PAGE_SIZE for _, vm, _ in sc.all_vms()]
    if sc.task_pages:
        sizes.append(sc.task_pages)
    return sum(-(-p // PTRS_PER_PTE) * PTRS_PER_PTE for p in sizes)


def sample_rows(sc: Scenario) -> int:
    """``timeseries.csv`` rows: one per sample interval, the first and the last."""
    return math.ceil(sc.sim.duration_ms / sc.sim.sample_interval_ms) + 2


def min_pass_ns(sc: Scenario) -> float:
    """The least simulated time one walking aging pass can take: each step of at most
    ``TABLES_PER_STEP`` PTE tables costs at least their PMD reads, and at least 1 ns."""
    total = 0.0
    tables = [-(-(vm.memory // PAGE_SIZE) // PTRS_PER_PTE) for _, vm, _ in sc.all_vms()]
    if sc.task_pages:
        tables.append(-(-sc.task_pages // PTRS_PER_PTE))
    for t in tables:
        full, rest = divmod(t, TABLES_PER_STEP)
        for n, steps in ((TABLES_PER_STEP, full), (rest, 1 if rest else 0)):
            total += steps * max(1.0, n * sc.costs.pmd_scan_ns)
    return total


def pass_rows(sc: Scenario) -> int:
    """The ``passes.csv`` rows a run may record: the debugfs ager's (``interval``: one per
    period; ``back_to_back``: one per :data:`MIN_B2B_PASS_NS`, or per shortest walk if longer)
    and a budget for those reclaim asks for."""
    duration_ns = sc.sim.duration_ms * 1e6
    rows = max(MIN_PASS_ROWS, math.ceil(sc.sim.duration_ms * RECLAIM_PASSES_PER_MS))
    if sc.host.policy != "mglru":
        return rows
    if sc.mglru.aging == "interval":
        rows += math.ceil(sc.sim.duration_ms / sc.mglru.aging_interval_ms)
    elif sc.mglru.aging == "back_to_back":
        rows += math.ceil(duration_ns / max(min_pass_ns(sc), MIN_B2B_PASS_NS))
    return rows


def _lock_bytes(sc: Scenario) -> int:
    """Every VM's ``mmu_lock`` model: per-actor arrays, and the fast model's actor pairs."""
    vms = sc.all_vms()
    actors = sum(vm.vcpus for _, vm, _ in vms) + 4  # the host task, kswapd, proactive, debugfs
    total = 0
    for _, vm, _ in vms:
        total += actors * ACTOR_BYTES
        if vm.lock_model == "fast":
            total += actors * actors * ACTOR_PAIR_BYTES
    return total


def _vcpu_bytes(sc: Scenario) -> int:
    """TLBs, quanta and processes of every vCPU and of the host task, and the temporaries of
    applying the largest quantum."""
    total = 0
    quanta = [sc.task.quantum_accesses] if sc.task_pages else []
    for _, vm, _ in sc.all_vms():
        entries = vm.tlb_entries if vm.tlb_entries else 1
        total += vm.vcpus * (VCPU_BYTES + TLB_ENTRY_BYTES * entries
                             + QUANTUM_HELD_BYTES * vm.quantum_accesses)
        quanta.append(vm.quantum_accesses)
    if sc.task_pages:
        total += VCPU_BYTES + QUANTUM_HELD_BYTES * sc.task.quantum_accesses
    return total + QUANTUM_WORK_BYTES * max(quanta, default=0)


def estimate_parts(sc: Scenario) -> dict[str, int]:
    """The estimate of a run of ``sc``, by part (bytes)."""
    nr = host_index_pages(sc)
    vms = sc.all_vms()
    design = NOTIFIER_DESIGNS[sc.mglru.notifier]
    page_bytes = HOST_PAGE_BYTES + POLICIES[sc.host.policy].memory_per_page \
        + (CHECK_PAGE_BYTES if sc.sim.check_invariants else 0) \
        + sum(BACKENDS[vm.backend].memory_per_page + design.memory_per_page for _, vm, _ in vms) \
        + (GUEST_VIEW_BYTES if any(vm.host_accesses > 0 for _, vm, _ in vms) else 0) \
        + (STRETCH_PAGE_BYTES if sc.task_pages and not vms and sc.host.policy == "mglru"
           else 0)
    workloads = sum(_workload_bytes(wl, vm.memory // PAGE_SIZE, vm.vcpus) for _, vm, wl in vms)
    if sc.task_pages:
        workloads += _workload_bytes(sc.task.workload, sc.task_pages, 1)
    return {
        "base": BASE_BYTES + FIXED_BYTES,
        "pages": page_bytes * nr,
        "workloads": workloads,
        "vcpus": _vcpu_bytes(sc),
        "mmu_lock": _lock_bytes(sc),
        "timeseries": sample_rows(sc) * len(TIMESERIES_COLUMNS) * ROW_BYTES_PER_COLUMN,
        "passes": pass_rows(sc) * len(PASS_COLUMNS) * ROW_BYTES_PER_COLUMN,
        "lru_gen": sc.sim.lru_gen_snapshots * SNAPSHOT_BYTES,
    }


def estimate(sc: Scenario) -> Estimate:
    """An upper bound of the memory a run of ``sc`` needs (see the module doc)."""
    parts = estimate_parts(sc)
    return Estimate(sum(parts.values()), host_index_pages(sc), parts)


class BoundedRows(list[Any]):
    """A list of recorded rows that refuses to grow past the budget the estimate counted
    (a :class:`~simulator.resources.ResourceError` stops the run instead of exhausting
    memory)."""

    def __init__(self, limit: int, what: str) -> None:
        super().__init__()
        self.limit = limit
        self.what = what

    def append(self, row: Any) -> None:
        if len(self) >= self.limit:
            raise ResourceError(f"the run recorded more than {self.limit:,} {self.what}, "
                                "the budget of its memory estimate")
        super().append(row)


__all__ = ["BASE_BYTES", "BoundedRows", "Estimate", "estimate", "estimate_parts",
           "host_index_pages", "min_pass_ns", "pass_rows", "sample_rows"]
