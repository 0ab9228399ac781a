"""Exact LRU miss-ratio curves in one pass: Mattson's stack algorithm.

Mattson, Gecsei, Slutz and Traiger, "Evaluation techniques for storage hierarchies" (IBM
Systems Journal, 1970): LRU has the inclusion property (the content of a cache of ``C`` pages
is always a subset of the content of a cache of ``C + 1`` pages), so every access has one *stack
distance* ``d``, its depth in the LRU stack, and it hits in a cache of ``C`` pages exactly when
``d <= C``. With ``p`` the previous access to the same page, ``d`` is one plus the number of
distinct pages touched strictly between ``p`` and ``t``; a first touch has ``d = ∞`` (a cold
miss). One pass gives the whole curve: ``miss(C) = #{t : d_t > C} / N``, computed as that
integer count divided by ``N``, so it equals a simulation's ``misses / N`` bit for bit.

How ``d`` is counted here. The textbook implementation keeps a Fenwick tree over access times
with a 1 at each page's most recent access, and for each access sums the tree over ``(p, t)``
then moves the page's 1 from ``p`` to ``t`` (:func:`stack_distances_fenwick`, kept as the
readable reference; a Python loop per access, about 1 µs each). The fast path answers the same
counts offline and vectorised. A position ``j`` in ``(p, t)`` holds the most recent access of
its page at time ``t`` iff that page's next access ``next[j]`` is later than ``t``; ``next[j]``
cannot equal ``t`` (the page accessed at ``t`` was last accessed at ``p``), so

    d_t = 1 + #{j in (p, t) : next[j] > t} = t - p - #{j in (p, t) : next[j] < t}.

The last term is a range "count less than" query over the array ``next``, answered for all
accesses at once by a wavelet matrix (Claude, Navarro and Ordóñez, "The wavelet matrix",
Information Systems 2015): one level per bit of the values, each a stable partition of the
array by that bit plus a prefix count of its ones; a query descends the levels, narrowing its
range and adding the values whose bit is 0 where the threshold's bit is 1. Levels are built
and consumed one at a time, so memory stays ``O(N)`` (about 60 bytes per access) and time is
``O(N log N)`` in numpy operations, with no Python loop per access. It is exact: integer
arithmetic only.

Page ids may be any integers (they are made dense first). Results match the naive simulation
(``tests/test_mattson.py``, hypothesis) and libCacheSim's LRU on
``data/cloudPhysicsIO.oracleGeneral.bin`` to six decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

INFINITE = np.iinfo(np.int64).max
"""The stack distance of a first touch (a cold miss in every cache)."""

IntArray = npt.NDArray[np.int64]


def _dense(pages: npt.ArrayLike) -> IntArray:
    arr = np.asarray(pages)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of page ids, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"page ids must be integers, got dtype {arr.dtype}")
    return np.unique(arr, return_inverse=True)[1].astype(np.int64).reshape(-1)


def previous_and_next(dense: IntArray) -> tuple[IntArray, IntArray]:
    """For each access, the index of the previous access to the same page (-1 if none) and of
    the next one (``len(dense)`` if none)."""
    n = len(dense)
    order = np.argsort(dense, kind="stable")
    same = dense[order[1:]] == dense[order[:-1]]
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, n, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    nxt[order[:-1][same]] = order[1:][same]
    return prev, nxt


def count_less(values: IntArray, lo: IntArray, hi: IntArray, x: IntArray) -> IntArray:
    """For each query ``q``: ``#{j in [lo[q], hi[q]) : values[j] < x[q]}`` (values >= 0).

    A wavelet matrix built and queried level by level (see the module docstring).
    """
    n = len(values)
    res = np.zeros(len(lo), dtype=np.int64)
    if n == 0 or len(lo) == 0:
        return res
    top = max(int(values.max()), int(x.max()), 1)
    idx: type[np.signedinteger[Any]] = np.int32 if n < 2**31 - 1 else np.int64
    cur: npt.NDArray[np.signedinteger[Any]] = values.astype(idx)
    lo, hi = lo.astype(idx), hi.astype(idx)
    ones: npt.NDArray[np.signedinteger[Any]] = np.empty(n + 1, dtype=idx)
    ones[0] = 0
    for level in range(top.bit_length() - 1, -1, -1):
        bit = ((cur >> level) & 1).astype(np.bool_)
        np.cumsum(bit, out=ones[1:])
        zeros_total = n - int(ones[n])
        lo1, hi1 = ones[lo], ones[hi]
        lo0, hi0 = lo - lo1, hi - hi1
        xbit = ((x >> level) & 1).astype(np.bool_)
        res += np.where(xbit, hi0 - lo0, 0)
        lo = np.where(xbit, lo1 + zeros_total, lo0).astype(idx, copy=False)
        hi = np.where(xbit, hi1 + zeros_total, hi0).astype(idx, copy=False)
        if level:
            cur = np.concatenate((cur[~bit], cur[bit]))
    return res


def stack_distances(pages: npt.ArrayLike) -> IntArray:
    """The LRU stack distance of every access (1 = the most recently used page again);
    :data:`INFINITE` for a first touch. Vectorised, ``O(N log N)``."""
    dense = _dense(pages)
    n = len(dense)
    dist = np.full(n, INFINITE, dtype=np.int64)
    if n == 0:
        return dist
    prev, nxt = previous_and_next(dense)
    t = np.flatnonzero(prev >= 0).astype(np.int64)
    p = prev[t]
    inside = count_less(nxt, p + 1, t, t)
    dist[t] = t - p - inside
    return dist


def stack_distances_fenwick(pages: npt.ArrayLike) -> IntArray:
    """The same as :func:`stack_distances`, by the textbook Fenwick-tree pass (a Python loop
    per access: the readable reference, for tests and small traces)."""
    dense = _dense(pages).tolist()
    n = len(dense)
    tree = [0] * (n + 1)
    last: dict[int, int] = {}
    out = np.full(n, INFINITE, dtype=np.int64)

    def add(i: int, v: int) -> None:
        i += 1
        while i <= n:
            tree[i] += v
            i += i & -i

    def prefix(i: int) -> int:  # sum of positions [0, i)
        s = 0
        while i > 0:
            s += tree[i]
            i -= i & -i
        return s

    for t, page in enumerate(dense):
        p = last.get(page)
        if p is not None:
            out[t] = 1 + prefix(t) - prefix(p + 1)
            add(p, -1)
        add(t, 1)
        last[page] = t
    return out


@dataclass(frozen=True, slots=True)
class MissRatioCurve:
    """Exact LRU hits for every cache size, from the sorted finite stack distances."""

    accesses: int
    distinct_pages: int
    sorted_distances: IntArray
    """Finite stack distances (reuses), ascending."""

    def hits(self, sizes: Sequence[int] | npt.ArrayLike) -> IntArray:
        """Accesses that hit in an LRU cache of each size (in pages)."""
        c = np.asarray(sizes, dtype=np.int64)
        return np.searchsorted(self.sorted_distances, c, side="right").astype(np.int64)

    def miss_ratio(self, sizes: Sequence[int] | npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Miss ratio (cold misses included) of an LRU cache of each size, in pages."""
        if self.accesses == 0:
            return np.full(np.shape(sizes), np.nan)
        return (self.accesses - self.hits(sizes)) / self.accesses  # misses / N, exactly


def miss_ratio_curve(pages: npt.ArrayLike) -> MissRatioCurve:
    """One Mattson pass over ``pages`` (any integer ids, in access order)."""
    dist = stack_distances(pages)
    finite = np.sort(dist[dist != INFINITE])
    return MissRatioCurve(accesses=len(dist), distinct_pages=len(dist) - len(finite),
                          sorted_distances=finite)


def lru_miss_ratios(pages: npt.ArrayLike, sizes: Sequence[int]) -> npt.NDArray[np.float64]:
    """Exact LRU miss ratio of ``pages`` at each cache size (pages; cold misses count)."""
    return miss_ratio_curve(pages).miss_ratio(sizes)


__all__ = [
    "INFINITE", "MissRatioCurve", "count_less", "lru_miss_ratios", "miss_ratio_curve",
    "previous_and_next", "stack_distances", "stack_distances_fenwick",
]
