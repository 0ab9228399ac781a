"""One vCPU access quantum: TLB lookups, hardware A/D-bit setting and fault detection.

For a batch of guest page touches (in program order) the quantum finds the pages whose SPTE is
missing (they fault: first touch or swap-in, each counted once per quantum even if touched
again), the present pages that miss this vCPU's TLB (the hardware page walk sets the SPTE's
Accessed bit, and Dirty for a write, then fills the TLB), and the TLB hits (no A-bit update).

Order inside a quantum is approximated: all touches of a quantum see the TLB and SPTE state at
its start, and its effects are applied at once (the TLB hits refresh their recency, then the
misses fill in ascending page order). The error is bounded by the quantum: at most
``quantum_accesses`` touches of one vCPU can be reordered relative to another actor's step.
``tests/test_tlb_vcpu.py`` checks the batched path against a per-access reference.

A touch of a page under a 2 MiB SPTE uses that leaf's translation: one TLB entry (tagged with
the leaf's first gfn) and one A/D bit pair for the 512 pages (``kvm.sptes``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.kvm.backends.base import BoolArray, IntArray
from simulator.kvm.sptes import Sptes
from simulator.kvm.tlb import Tlbs


@dataclass(slots=True)
class Quantum:
    """What one quantum did."""

    accesses: int
    tlb_misses: int
    access_faults: int
    """TLB fills that hit an old SPTE on a backend without hardware A bits (x86 access-
    tracking fault, arm64 access-flag fault): they mark the SPTE young through a fault."""
    fault_pages: IntArray
    fault_writes: BoolArray
    access_fault_pages: IntArray


def run_quantum(vcpu: int, pages: IntArray, writes: BoolArray, sptes: Sptes,
                tlbs: Tlbs, young_via_fault: bool = False) -> Quantum:
    """Apply one quantum's hardware effects; faults are returned for the caller to handle.

    Every touch of a page in one quantum sees the same SPTE and TLB state (that of the quantum's
    start), so the work is done once per distinct page: one sort of the quantum's pages gives
    the distinct pages in ascending order (the order TLB fills and faults are applied in) and,
    per page, whether any of its touches wrote.
    """
    n = len(pages)
    pages = sptes.leaf(pages)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Quantum(accesses=0, tlb_misses=0, access_faults=0, fault_pages=empty,
                       fault_writes=np.zeros(0, dtype=bool), access_fault_pages=empty)
    order = np.argsort(pages, kind="stable")
    sorted_pages = pages[order]
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(sorted_pages[1:], sorted_pages[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    distinct = sorted_pages[starts]
    wrote = np.logical_or.reduceat(writes[order], starts)
    present = sptes.present[distinct]
    # a TLB miss on a present SPTE: the hardware walk sets A and fills the TLB; a hit only
    # makes the entry the most recently used
    hit = tlbs.lookup(vcpu, distinct)
    walk = present & ~hit
    walked = distinct[walk]
    tlbs.touch(vcpu, distinct[present & hit])
    af_pages = walked[~sptes.young[walked]] if young_via_fault \
        else np.zeros(0, dtype=np.int64)
    sptes.young[walked] = True
    # the D bit is set by any write to a page whose D bit is clear, TLB hit or not
    sptes.dirty[distinct[present & wrote]] = True
    tlbs.fill(vcpu, walked)
    # a page written anywhere in the quantum is faulted in dirty
    missing = ~present
    return Quantum(accesses=n, tlb_misses=len(walked), access_faults=len(af_pages),
                   fault_pages=distinct[missing], fault_writes=wrote[missing],
                   access_fault_pages=af_pages)
