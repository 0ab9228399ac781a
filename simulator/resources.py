"""Resource guard: estimate a scenario's memory before allocating anything, refuse if too big.

The estimate adds up the numpy arrays the model allocates, by what they are indexed by (every
byte below is an array element of that dtype; ``tests/test_resources.py`` checks the sum
against ``tracemalloc`` on real runs):

- per page of the host index space: primary PTE bits (present, young, dirty, swapped, mapped:
  5 × 1), the lruvec (gen, list: 2 × 1; list position: 8; refs, workingset: 2 × 1), ground
  truth (last access and harvest: 2 × 8), shadow tokens (seq 8, refs 1, workingset 1) and the
  mm of each page (1): 44 bytes;
- per VM, per page of the host index space: SPTE present/young/dirty (3 × 1);
- per workload page: the ranked workloads' page permutation (8) and zipf's CDF (8);
- per vCPU: its TLB (8 per entry);
- a fixed allowance for the interpreter and the imported libraries.

The limit is ``--max-memory`` if given, else the machine's available memory
(``MemAvailable`` in /proc/meminfo).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from simulator.config import PAGE_SIZE, Scenario, WorkloadConfig, parse_size
from simulator.mm.constants import PTRS_PER_PTE

HOST_PAGE_BYTES = 44
SPTE_BYTES = 3
RANKED_PAGE_BYTES = 8
ZIPF_RANK_BYTES = 8
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


def _workload_bytes(cfg: WorkloadConfig, pages: int) -> int:
    k = max(1, int(pages * cfg.footprint))
    total = 0
    if cfg.kind in ("zipf", "uniform") and cfg.scatter:
        total += RANKED_PAGE_BYTES * pages
    if cfg.kind == "zipf":
        total += ZIPF_RANK_BYTES * k
    return total


def estimate(sc: Scenario) -> Estimate:
    """An upper-bound-ish estimate of the memory a run of ``sc`` allocates."""
    sizes = [vm.memory // PAGE_SIZE for _, vm, _ in sc.all_vms()]
    if sc.task_pages:
        sizes.append(sc.task_pages)
    nr = sum(-(-p // PTRS_PER_PTE) * PTRS_PER_PTE for p in sizes)
    total = BASE_BYTES + HOST_PAGE_BYTES * nr
    for _, vm, wl in sc.all_vms():
        total += SPTE_BYTES * nr + _workload_bytes(wl, vm.memory // PAGE_SIZE)
        total += TLB_ENTRY_BYTES * vm.vcpus * max(vm.tlb_entries, 1)
    if sc.task_pages:
        total += _workload_bytes(sc.task.workload, sc.task_pages)
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
    """Raise ResourceError if ``copies`` runs of ``sc`` would not fit; return the estimate."""
    est = estimate(sc)
    if max_memory is not None:
        limit = parse_size(max_memory)
        where = "--max-memory"
    else:
        limit = available_bytes()
        where = "available memory"
    need = est.bytes * copies
    if need > limit:
        times = f" ({est} × {copies} parallel runs)" if copies > 1 else ""
        raise ResourceError(
            f"scenario {sc.name!r} needs about {need / 2**30:.2f} GiB{times} for "
            f"{est.host_pages} pages, more than the {limit / 2**30:.2f} GiB {where}")
    return est
