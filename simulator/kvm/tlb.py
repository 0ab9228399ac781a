"""Per-vCPU TLBs: hot translations cached, so A bits are set only on a TLB miss.

Hardware sets the Accessed bit of a (guest-physical → host-physical) translation only when it
walks the page tables to fill the TLB (Intel SDM Vol. 3A §4.8; EPT A/D bits the same way). Since
6.13 x86 KVM does not flush TLBs when ``clear_flush_young`` clears A bits (2ebbe0308c29), and
``clear_young`` never flushed, so a hot page that stays in some vCPU's TLB keeps looking old to
MGLRU until its entry is evicted or flushed: the accuracy upstream accepted for speed. Zapping
an SPTE (eviction) flushes the whole VM's TLBs (``kvm_flush_remote_tlbs``; on arm64 the
stage-2 unmap's ``tlbi vmalle1is`` drops every stage-1 entry of the VMID).

Geometry: the last-level TLB of each vCPU, ``entries = sets × ways``, with LRU replacement
within a set. Only the last level is modelled: the A bit is set by the page walk that follows a
miss there (an L1 miss that hits the STLB walks nothing). The default, ``1536`` entries in
``12`` ways (128 sets), is the STLB of Intel Skylake-SP / Cascade Lake (Xeon Gold 6154,
Platinum 8280) as reverse engineered by TLB;DR (Tatar et al., USENIX Security 2022): set
index XOR-7, ``VA[18:12] ⊕ VA[25:19]``. Simplifications: the index is computed on the guest
page number, and the set index folds the page number with XOR when the set count is a power of
two (Skylake's XOR-7 at 128 sets) and hashes it multiplicatively otherwise; replacement is true
LRU (the hardware's tree-PLRU is a close stand-in); there is one structure for all page sizes.

Within one quantum the hits are decided against the TLB at the quantum's start, hits refresh
their recency, and the misses then fill in ascending page order (``kvm.vcpu``);
``tests/test_tlb_vcpu.py`` checks one access at a time against a per-access LRU reference.

Two implementations: :class:`Tlbs` (numpy, the reference) and :class:`CompiledTlbs` (numba
loops, ``simulator.jit``), chosen by :func:`make_tlbs`. The compiled one walks a set's ways per
page instead of sorting, and flushes in O(1): an entry is valid only if it was filled in the
current flush epoch. Both keep, per set, the same entries with the same recency stamps (way
positions may differ, and nothing reads them); ``tests/test_compiled.py`` compares them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.jit import compiled, njit

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def set_index(pages: IntArray, sets: int) -> IntArray:
    """The set of each page: XOR-fold of the page number for a power-of-two set count (the
    Skylake STLB's XOR-7 at 128 sets), a multiplicative hash otherwise."""
    p = np.asarray(pages, dtype=np.int64)
    if sets & (sets - 1) == 0:
        bits = sets.bit_length() - 1
        folded: IntArray = (p ^ (p >> bits)) & (sets - 1)
        return folded
    h = p.astype(np.uint64)
    h *= _GOLDEN  # unsigned array arithmetic wraps silently
    h >>= np.uint64(32)
    slots: IntArray = h.astype(np.int64) % sets
    return slots


class Tlbs:
    """The TLBs of all vCPUs of one VM: ``tags[v, set, way]`` = guest page, or -1."""

    def __init__(self, vcpus: int, entries: int, ways: int = 1) -> None:
        if entries and (ways < 1 or entries % ways):
            raise ValueError(f"{entries} TLB entries do not divide into {ways} ways")
        self.size = entries
        self.ways = ways if entries else 1
        self.sets = max(entries // self.ways, 1)
        shape = (vcpus, self.sets, self.ways)
        self.tags = np.full(shape, -1, dtype=np.int64)
        self.stamp = np.zeros(shape, dtype=np.int64)
        """Last use of each entry (larger = more recent); the LRU victim has the smallest."""
        self.clock = np.zeros(vcpus, dtype=np.int64)
        self.ipi_debt_ns = np.zeros(vcpus)
        """Flush-IPI time each vCPU owes, paid in its next quantum."""

    def lookup(self, vcpu: int, pages: IntArray) -> BoolArray:
        """Which of ``pages`` hit in ``vcpu``'s TLB right now (no recency change)."""
        if self.size == 0:
            return np.zeros(len(pages), dtype=bool)
        hit: BoolArray = (self.tags[vcpu][set_index(pages, self.sets)]
                          == np.asarray(pages)[:, None]).any(axis=1)
        return hit

    def _stamps(self, vcpu: int, n: int) -> IntArray:
        start = int(self.clock[vcpu]) + 1
        self.clock[vcpu] += n
        return np.arange(start, start + n, dtype=np.int64)

    def touch(self, vcpu: int, pages: IntArray) -> None:
        """Make cached ``pages`` the most recently used, in order (hits of a quantum)."""
        if self.size == 0 or len(pages) == 0:
            return
        sets = set_index(pages, self.sets)
        match = self.tags[vcpu][sets] == np.asarray(pages)[:, None]
        rows, ways = np.nonzero(match)
        self.stamp[vcpu][sets[rows], ways] = self._stamps(vcpu, len(pages))[rows]

    def fill(self, vcpu: int, pages: IntArray) -> None:
        """Insert the translations of ``pages`` in order, each evicting the least recently
        used entry of its set (a page already cached is only made most recent)."""
        if self.size == 0 or len(pages) == 0:
            return
        pages = np.asarray(pages, dtype=np.int64)
        cached = self.lookup(vcpu, pages)
        if cached.any():
            self.touch(vcpu, pages[cached])
            pages = pages[~cached]
            if len(pages) == 0:
                return
        stamps = self._stamps(vcpu, len(pages))
        sets = set_index(pages, self.sets)
        tags, stamp, w = self.tags[vcpu], self.stamp[vcpu], self.ways
        touched, which = np.unique(sets, return_inverse=True)
        old_tags = tags[touched]
        old_stamp = np.where(old_tags >= 0, stamp[touched], -1)  # empty ways go first
        all_set = np.concatenate([np.repeat(np.arange(len(touched)), w), which])
        all_tag = np.concatenate([old_tags.ravel(), pages])
        all_stamp = np.concatenate([old_stamp.ravel(), stamps])
        order = np.lexsort((-all_stamp, all_set))  # per set, most recent first
        s_sorted = all_set[order]
        first = np.r_[0, np.flatnonzero(np.diff(s_sorted)) + 1]
        rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
        keep = order[rank < w]
        kept_set, kept_rank = all_set[keep], rank[rank < w]
        tags[touched[kept_set], kept_rank] = all_tag[keep]
        stamp[touched[kept_set], kept_rank] = np.maximum(all_stamp[keep], 0)

    def invalidate(self, pages: IntArray) -> None:
        """Drop the translations of ``pages`` from every vCPU (a targeted invalidation)."""
        if self.size == 0 or len(pages) == 0:
            return
        pages = np.asarray(pages, dtype=np.int64)
        sets = set_index(pages, self.sets)
        stale = self.tags[:, sets, :] == pages[None, :, None]
        if stale.any():
            v, i, way = np.nonzero(stale)
            self.tags[v, sets[i], way] = -1

    def flush_all(self, ipi_ns: float = 0.0) -> None:
        """A full flush of every vCPU's TLB (``kvm_flush_remote_tlbs``); ``ipi_ns`` is what
        each vCPU pays for the IPI that forces it out of the guest (0 for a broadcast TLBI)."""
        self.tags[:] = -1
        self.ipi_debt_ns += ipi_ns

    def valid(self) -> BoolArray:
        """Which entries hold a translation now."""
        ok: BoolArray = self.tags >= 0
        return ok

    def take_ipi_debt(self, vcpu: int) -> float:
        debt = float(self.ipi_debt_ns[vcpu])
        self.ipi_debt_ns[vcpu] = 0.0
        return debt

    def cached(self) -> IntArray:
        """Every guest page cached in some TLB (for invariant checks)."""
        e = self.tags[self.tags >= 0]
        return np.unique(e)


# --- the compiled implementation -------------------------------------------------------------
@njit
def _set_of(page: int, sets: int) -> int:
    if sets & (sets - 1) == 0:
        bits = 0
        while (1 << bits) < sets:
            bits += 1
        return (page ^ (page >> bits)) & (sets - 1)
    h = np.uint64(page) * np.uint64(0x9E3779B97F4A7C15)
    return int(h >> np.uint64(32)) % sets


@njit
def _find(tags: npt.NDArray[np.int64], epoch: npt.NDArray[np.int64], cur: int, v: int,
          s: int, page: int) -> int:
    """The way holding ``page`` in set ``s`` of vCPU ``v``, or -1."""
    for w in range(tags.shape[2]):
        if tags[v, s, w] == page and epoch[v, s, w] == cur:
            return w
    return -1


@njit
def _lookup(tags: npt.NDArray[np.int64], epoch: npt.NDArray[np.int64], cur: int, v: int,
            pages: IntArray) -> BoolArray:
    sets = tags.shape[1]
    out = np.zeros(len(pages), dtype=np.bool_)
    for i in range(len(pages)):
        out[i] = _find(tags, epoch, cur, v, _set_of(pages[i], sets), pages[i]) >= 0
    return out


@njit
def _touch(tags: npt.NDArray[np.int64], stamp: npt.NDArray[np.int64],
           epoch: npt.NDArray[np.int64], cur: int, clock: npt.NDArray[np.int64], v: int,
           pages: IntArray) -> None:
    sets = tags.shape[1]
    start = clock[v] + 1
    clock[v] += len(pages)
    for i in range(len(pages)):
        s = _set_of(pages[i], sets)
        w = _find(tags, epoch, cur, v, s, pages[i])
        if w >= 0:
            stamp[v, s, w] = start + i


@njit
def _fill(tags: npt.NDArray[np.int64], stamp: npt.NDArray[np.int64],
          epoch: npt.NDArray[np.int64], cur: int, clock: npt.NDArray[np.int64], v: int,
          pages: IntArray) -> None:
    """As :meth:`Tlbs.fill`: the cached pages (against the state at the call) are touched
    first, in order; then each other page takes its set's least recently used way, an
    invalid way first."""
    cached = _lookup(tags, epoch, cur, v, pages)
    n_cached = 0
    for i in range(len(pages)):
        if cached[i]:
            n_cached += 1
    hits = np.empty(n_cached, dtype=np.int64)
    j = 0
    for i in range(len(pages)):
        if cached[i]:
            hits[j] = pages[i]
            j += 1
    _touch(tags, stamp, epoch, cur, clock, v, hits)
    start = clock[v] + 1
    clock[v] += len(pages) - n_cached
    sets, ways = tags.shape[1], tags.shape[2]
    k = 0
    for i in range(len(pages)):
        if cached[i]:
            continue
        s = _set_of(pages[i], sets)
        victim, oldest = 0, np.iinfo(np.int64).max
        for w in range(ways):
            if tags[v, s, w] < 0 or epoch[v, s, w] != cur:
                victim = w  # an invalid way: nothing to evict (the first one found)
                break
            if stamp[v, s, w] < oldest:
                victim, oldest = w, stamp[v, s, w]
        tags[v, s, victim] = pages[i]
        stamp[v, s, victim] = start + k
        epoch[v, s, victim] = cur
        k += 1


@njit
def _invalidate(tags: npt.NDArray[np.int64], epoch: npt.NDArray[np.int64], cur: int,
                pages: IntArray) -> None:
    sets = tags.shape[1]
    for i in range(len(pages)):
        s = _set_of(pages[i], sets)
        for v in range(tags.shape[0]):
            w = _find(tags, epoch, cur, v, s, pages[i])
            while w >= 0:
                tags[v, s, w] = -1
                w = _find(tags, epoch, cur, v, s, pages[i])


class CompiledTlbs(Tlbs):
    """:class:`Tlbs` with numba kernels and O(1) flushes (see the module docstring)."""

    def __init__(self, vcpus: int, entries: int, ways: int = 1) -> None:
        super().__init__(vcpus, entries, ways)
        self.epoch = np.zeros(self.tags.shape, dtype=np.int64)
        """The flush epoch each entry was filled in; older entries are invalid."""
        self.current = 0

    def lookup(self, vcpu: int, pages: IntArray) -> BoolArray:
        if self.size == 0:
            return np.zeros(len(pages), dtype=bool)
        return _lookup(self.tags, self.epoch, self.current, vcpu, _i64(pages))

    def touch(self, vcpu: int, pages: IntArray) -> None:
        if self.size and len(pages):
            _touch(self.tags, self.stamp, self.epoch, self.current, self.clock, vcpu,
                   _i64(pages))

    def fill(self, vcpu: int, pages: IntArray) -> None:
        if self.size and len(pages):
            _fill(self.tags, self.stamp, self.epoch, self.current, self.clock, vcpu,
                  _i64(pages))

    def invalidate(self, pages: IntArray) -> None:
        if self.size and len(pages):
            _invalidate(self.tags, self.epoch, self.current, _i64(pages))

    def flush_all(self, ipi_ns: float = 0.0) -> None:
        self.current += 1
        self.ipi_debt_ns += ipi_ns

    def valid(self) -> BoolArray:
        """Which entries hold a translation now."""
        ok: BoolArray = (self.tags >= 0) & (self.epoch == self.current)
        return ok

    def cached(self) -> IntArray:
        return np.unique(self.tags[self.valid()])


def _i64(pages: IntArray) -> IntArray:
    return np.ascontiguousarray(pages, dtype=np.int64)


def make_tlbs(vcpus: int, entries: int, ways: int = 1) -> Tlbs:
    """The TLBs of one VM, compiled unless the reference core was chosen."""
    cls = CompiledTlbs if compiled() else Tlbs
    return cls(vcpus, entries, ways)


__all__ = ["CompiledTlbs", "Tlbs", "make_tlbs", "set_index"]
