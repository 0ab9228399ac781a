"""Per-vCPU TLBs: hot translations cached, so A bits are set only on a TLB miss.

Hardware sets the Accessed bit of a (guest-physical → host-physical) translation only when it
walks the page tables to fill the TLB. Since 6.13 KVM does not flush TLBs when it clears A bits
for aging (commit 2ebbe0308c29 and friends, research/patch-series.md §7), so a hot page that
stays in some vCPU's TLB keeps looking old to MGLRU until its entry is evicted: the accuracy cost
upstream accepted for speed. Zapping an SPTE (eviction) does flush it.

Simplification: each TLB is direct-mapped with ``entries`` slots indexed by a multiplicative
hash of the guest page; real STLBs are set-associative (e.g. 1536 entries, 12-way). Within one
quantum, the number of misses is approximated by the number of distinct pages that were not
cached at the quantum's start (conflicts inside a quantum are not replayed in order).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class Tlbs:
    """The TLBs of all vCPUs of one VM: ``entries[v, slot]`` = guest page, or -1."""

    def __init__(self, vcpus: int, entries: int) -> None:
        self.size = entries
        self.entries = np.full((vcpus, max(entries, 1)), -1, dtype=np.int64)
        self.ipi_debt_ns = np.zeros(vcpus)
        """Flush-IPI time each vCPU owes, paid in its next quantum."""

    def _slot(self, pages: IntArray) -> IntArray:
        # unsigned array arithmetic wraps silently (numpy warns only for scalars)
        h = np.asarray(pages).astype(np.uint64)
        h *= _GOLDEN
        h >>= np.uint64(32)
        slots = h.astype(np.int64)
        slots %= self.size
        return slots

    def lookup(self, vcpu: int, pages: IntArray) -> BoolArray:
        """Which of ``pages`` hit in ``vcpu``'s TLB right now."""
        if self.size == 0:
            return np.zeros(len(pages), dtype=bool)
        hit: BoolArray = self.entries[vcpu, self._slot(pages)] == pages
        return hit

    def fill(self, vcpu: int, pages: IntArray) -> None:
        """Insert translations (the last page mapping to a slot wins)."""
        if self.size == 0 or len(pages) == 0:
            return
        self.entries[vcpu, self._slot(pages)] = pages

    def invalidate(self, pages: IntArray) -> None:
        """Drop the translations of ``pages`` from every vCPU (flush after a zap)."""
        if self.size == 0 or len(pages) == 0:
            return
        slots = self._slot(pages)
        cur = self.entries[:, slots]
        stale = cur == pages[None, :]
        if stale.any():
            v, i = np.nonzero(stale)
            self.entries[v, slots[i]] = -1

    def flush_all(self, ipi_ns: float = 0.0) -> None:
        """A full flush of every vCPU's TLB (``kvm_flush_remote_tlbs``), an IPI to each."""
        self.entries[:] = -1
        self.ipi_debt_ns += ipi_ns

    def take_ipi_debt(self, vcpu: int) -> float:
        debt = float(self.ipi_debt_ns[vcpu])
        self.ipi_debt_ns[vcpu] = 0.0
        return debt

    def cached(self) -> IntArray:
        """Every guest page cached in some TLB (for invariant checks)."""
        e = self.entries[self.entries >= 0]
        return np.unique(e)
