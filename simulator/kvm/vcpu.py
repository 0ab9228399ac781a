"""One vCPU access quantum: TLB lookups, hardware A/D-bit setting and fault detection.

For a batch of guest page touches (in program order) the quantum finds the pages whose SPTE is
missing (they fault: first touch or swap-in, each counted once per quantum even if touched
again), the present pages that miss this vCPU's TLB (the hardware page walk sets the SPTE's
Accessed bit, and Dirty for a write, then fills the TLB), and the TLB hits (no A-bit update).

Order inside a quantum is approximated (DESIGN §3): all touches of a quantum see the TLB and
SPTE state at its start, and its effects are applied at once. The error is bounded by the
quantum: at most ``quantum_accesses`` touches of one vCPU can be reordered relative to another
actor's step. ``tests/test_vcpu.py`` checks the batched path against a per-access reference.
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


def run_quantum(vcpu: int, pages: IntArray, writes: BoolArray, sptes: Sptes,
                tlbs: Tlbs, young_via_fault: bool = False) -> Quantum:
    """Apply one quantum's hardware effects; faults are returned for the caller to handle."""
    present = sptes.present[pages]
    hit = np.zeros(len(pages), dtype=bool)
    hit[present] = tlbs.lookup(vcpu, pages[present])
    walk = present & ~hit
    walked = np.unique(pages[walk])
    access_faults = int((~sptes.young[walked]).sum()) if young_via_fault else 0
    sptes.young[walked] = True
    # the D bit is set by any write to a page whose D bit is clear, TLB hit or not
    sptes.dirty[pages[present & writes]] = True
    tlbs.fill(vcpu, walked)
    missing = ~present
    if missing.any():
        fault_pages = np.unique(pages[missing])
        # a page written anywhere in the quantum is faulted in dirty
        wrote = np.zeros(len(fault_pages), dtype=bool)
        np.logical_or.at(wrote, np.searchsorted(fault_pages, pages[missing]), writes[missing])
    else:
        fault_pages = np.zeros(0, dtype=np.int64)
        wrote = np.zeros(0, dtype=bool)
    return Quantum(accesses=len(pages), tlb_misses=len(walked), access_faults=access_faults,
                   fault_pages=fault_pages, fault_writes=wrote)
