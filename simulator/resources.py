"""Resource guard: estimate a scenario's memory before allocating anything, refuse if too big.

The estimate adds up the numpy arrays the model allocates, by what they are indexed by (every
byte below is an array element of that dtype; ``tests/test_resources.py`` checks the sum
against ``tracemalloc`` on real runs):

- per page of the host index space: primary PTE bits (present, young, dirty, swapped, mapped:
  5 × 1), the lruvec (gen, list: 2 × 1; list position: 8; refs, workingset: 2 × 1), ground
  truth (last access and harvest: 2 × 8), shadow tokens (seq 8, refs 1, workingset 1) and the
  mm of each page (1): 44 bytes;
- per VM, per page of the host index space: what its KVM backend and the notifier design
  declare (``memory_per_page``: the SPTE bits, 3 × 1; the designs keep nothing);
- per workload: what its kind declares (``memory_bytes``: the ranked kinds' page permutation,
  zipf's CDF);
- per vCPU: its TLB (8 per entry);
- with host-side accesses to guest memory (``vm.host_accesses``), the guest's own last access
  per page of the host index space (``GUEST_VIEW_BYTES``); the THP maps (one flag per PTE
  table) are too small to count;
- with a host task under MGLRU, the compiled host task's own state (``STRETCH_PAGE_BYTES``);
- a fixed allowance for the interpreter and the imported libraries.

The limit is ``--max-memory`` if given, else the machine's available memory
(``MemAvailable`` in /proc/meminfo).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from simulator.config import PAGE_SIZE, Scenario, WorkloadConfig, parse_size
from simulator.kvm.backends import BACKENDS
from simulator.kvm.notifier import NOTIFIER_DESIGNS
from simulator.mm.constants import PTRS_PER_PTE
from workloads import WORKLOADS

HOST_PAGE_BYTES = 44
GUEST_VIEW_BYTES = 8
STRETCH_PAGE_BYTES = 24
"""The compiled MGLRU host task's per-page state (``simulator.stretch.mglru``): quantum marks
for missing and for written pages and the eviction snapshot's buffer, 8 bytes each."""
TLB_ENTRY_BYTES = 8
BASE_BYTES = 300 * 2**20
"""Python, numpy, pandas, SimPy and matplotlib once imported (measured RSS ≈ 250 MiB)."""


class ResourceError(RuntimeError):
    """The scenario would not fit; ``str()`` is the one line the CLI prints."""


@dataclass(frozen=True, slots=True)
class Estimate:
    bytes: int
    host_pages: int

    def __str__(self) -> str:
        return f"{self.bytes / 2**30:.2f} GiB"


def _workload_bytes(cfg: WorkloadConfig, pages: int, streams: int) -> int:
    kind = WORKLOADS[cfg.kind]
    return kind.memory_bytes(cfg.params_as(kind.Params), pages, streams)


def estimate(sc: Scenario) -> Estimate:
    """An upper-bound-ish estimate of the memory a run of ``sc`` allocates."""
    sizes = [vm.memory // PAGE_SIZE for _, vm, _ in sc.all_vms()]
    if sc.task_pages:
        sizes.append(sc.task_pages)
    nr = sum(-(-p // PTRS_PER_PTE) * PTRS_PER_PTE for p in sizes)
    total = BASE_BYTES + HOST_PAGE_BYTES * nr
    design = NOTIFIER_DESIGNS[sc.mglru.notifier]
    for _, vm, wl in sc.all_vms():
        total += (BACKENDS[vm.backend].memory_per_page + design.memory_per_page) * nr
        total += _workload_bytes(wl, vm.memory // PAGE_SIZE, vm.vcpus)
        total += TLB_ENTRY_BYTES * vm.vcpus * max(vm.tlb_entries, 1)
    if sc.task_pages:
        total += _workload_bytes(sc.task.workload, sc.task_pages, 1)
        if sc.host.policy == "mglru":
            total += STRETCH_PAGE_BYTES * nr
    if any(vm.host_accesses > 0 for _, vm, _ in sc.all_vms()):
        total += GUEST_VIEW_BYTES * nr
    return Estimate(total, nr)


def available_bytes() -> int:
    """``MemAvailable`` from /proc/meminfo, or total physical memory elsewhere."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check(sc: Scenario, max_memory: str | int | None = None, copies: int = 1) -> Estimate:
    """Raise ResourceError if ``copies`` runs of ``sc`` would not fit in ``max_memory`` (bytes,
    or a size like ``"4GiB"``; default: the available memory); return the estimate."""
    est = estimate(sc)
    if max_memory is not None:
        limit, where = parse_size(max_memory), "--max-memory"
    else:
        limit, where = available_bytes(), "available memory"
    need = est.bytes * copies
    if need > limit:
        times = f" ({est} × {copies} parallel runs)" if copies > 1 else ""
        raise ResourceError(
            f"scenario {sc.name!r} needs about {need / 2**30:.2f} GiB{times} for "
            f"{est.host_pages} pages, more than the {limit / 2**30:.2f} GiB {where}")
    return est


def check_parallel(scenarios: Sequence[Scenario], max_memory: str | int | None,
                   jobs: int) -> Estimate | None:
    """:func:`check` for runs of ``scenarios``, ``jobs`` at a time: the largest as many times
    as runs can be in memory at once. None when there is nothing to run."""
    if not scenarios:
        return None
    biggest = max(scenarios, key=lambda s: estimate(s).bytes)
    return check(biggest, max_memory, copies=min(jobs, len(scenarios)))
