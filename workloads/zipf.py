"""Zipf-distributed page popularity, sampled exactly by inverse CDF.

What it models: a guest whose working set has a skewed popularity, the usual stand-in for
key-value stores and caches (YCSB's default request distribution). Of the footprint's
``K = max(1, int(pages * footprint))`` pages, the page of rank ``k`` (1-based) is touched with
probability

    P(rank = k) = k**-theta / H(K, theta),    H(K, theta) = sum_{j=1..K} j**-theta

independently at every touch. ``theta = 0`` is uniform over the ``K`` ranks; any
``theta >= 0`` works, including ``theta >= 1`` (the scenario schema caps it at 5).

How it samples: the CDF is tabulated once (``float64``, ``cumsum`` of ``k**-theta`` normalised
by its last element, so ``cdf[-1] == 1.0`` exactly) and each touch draws ``u ~ U[0, 1)`` and
takes rank ``searchsorted(cdf, u, side="right") + 1``: the rank ``k`` with
``cdf[k-2] <= u < cdf[k-1]``. That is the exact inverse CDF, up to ``float64`` rounding only
(a relative error of at most about ``K * 2**-53``, ~2e-9 at K = 16M, and ranks whose
probability is below the ``2**-53`` resolution of ``u`` are never drawn). It costs ``8 * K``
bytes (128 MB at K = 16M pages = 64 GiB), all vectorised.

The lookup (:class:`InverseCdf`) gives exactly ``searchsorted(cdf, u, side="right")`` but, for a
large ``K``, does not binary-search the whole table: a guide table over ``m`` equal slices of
``[0, 1)`` (``m`` the largest power of two <= K, so ``u * m`` and ``j / m`` are exact) holds
``g[j]`` = the number of CDF entries ``<= j / m``; the answer for a ``u`` in slice ``j`` lies in
``[g[j], g[j + 1]]``, a range of a few entries, finished by a vectorised binary search. That is
about 5 dependent memory reads per touch instead of ``log2 K`` (24 at K = 16M, each a cache miss
once the table outgrows the caches): 5-10x faster at 64 GiB. It costs ``4 * K`` more bytes.

Contrast with YCSB's ``ZipfianGenerator`` (Gray et al., "Quickly generating billion-record
synthetic databases", SIGMOD 1994), which computes ``zeta(K, theta)`` once and maps ``u``
through the closed form ``K * (eta * u - eta + 1) ** (1 / (1 - theta))``: O(1) memory, but exact
only for ranks 1 and 2, an approximation of the tail, and undefined at ``theta = 1``. YCSB's
``ScrambledZipfianGenerator`` then spreads ranks with an FNV hash modulo the item count, which
collides; ``scatter`` here is a true seeded permutation, so exactly ``K`` distinct pages.

What it simplifies: popularity is static (no phase changes, no drifting hot set) and touches are
independent (no spatial or temporal correlation beyond the skew itself); all streams (vCPUs)
share the same popularity ranking but draw independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from workloads import params as shared
from workloads.base import PLACEMENT_BYTES_PER_PAGE, PageArray, RankedWorkload, check_theta


def zipf_cdf(k: int, theta: float) -> npt.NDArray[np.float64]:
    """The CDF of ranks ``1..k`` with ``P(rank = j) ∝ j**-theta``: ``cdf[j-1] = P(rank <= j)``.

    Computed in place in one ``float64`` array of ``k`` elements (no temporaries of size ``k``).
    The last element is exactly ``1.0``.
    """
    if k < 1:
        raise ValueError(f"a zipf distribution needs at least one rank, got {k}")
    cdf = np.arange(1, k + 1, dtype=np.float64)
    if theta == 0.0:
        cdf.fill(1.0)
    else:
        np.power(cdf, -theta, out=cdf)
    np.cumsum(cdf, out=cdf)
    cdf /= cdf[-1]
    return cdf


GuideArray = npt.NDArray[np.signedinteger[Any]]
"""A guide table: int32 below 2^31 ranks, else int64."""

GUIDE_MIN_RANKS = 1 << 12
"""Below this many ranks (a 32 KiB CDF, in L1/L2) a plain binary search is as fast; from 2^13
ranks the guide table is about twice as fast, and 4-5x from 2^22 (measured, 1024 draws)."""


class InverseCdf:
    """``searchsorted(cdf, u, side="right")`` for a non-decreasing ``cdf`` ending in 1.0 and
    ``u`` in ``[0, 1)``, through a guide table when ``cdf`` is large (see the module doc)."""

    def __init__(self, cdf: npt.NDArray[np.float64]) -> None:
        self.cdf = cdf
        k = len(cdf)
        self.m = 0
        self._guide: GuideArray | None = None
        self._steps: tuple[int, ...] = ()
        if k >= GUIDE_MIN_RANKS:
            self.m = 1 << (k.bit_length() - 1)
            self._guide = _guide_table(cdf, self.m)
            widest = _widest_slice(self._guide)
            self._steps = tuple(1 << s for s in range(max(widest, 1).bit_length() - 1, -1, -1))

    def __call__(self, u: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        if self._guide is None:
            out: npt.NDArray[np.intp] = np.searchsorted(self.cdf, u, side="right")
            return out
        j = (u * self.m).astype(np.intp)
        lo = self._guide[j].astype(np.intp)
        hi = self._guide[j + 1].astype(np.intp)
        act = np.flatnonzero(lo < hi)
        if len(act):
            # largest pos in [lo, hi] with cdf[pos - 1] <= u (pos = lo when none): binary
            # search by descending powers of two, clamped to the slice's range
            pos, top, x = lo[act], hi[act], u[act]
            cdf = self.cdf
            for step in self._steps:
                cand = pos + step
                np.minimum(cand, top, out=cand)
                pos = np.where(cdf[cand - 1] <= x, cand, pos)
            lo[act] = pos
        return lo


def _widest_slice(guide: GuideArray) -> int:
    """The most CDF entries any one slice spans (``max(diff(guide))``, without a temporary of
    the table's size)."""
    step = 1 << 16
    return max(int(np.max(np.diff(guide[s:s + step + 1])))
               for s in range(0, len(guide) - 1, step))


def _guide_table(cdf: npt.NDArray[np.float64], m: int) -> GuideArray:
    """``g[j]`` = number of ``cdf`` entries ``<= j / m`` for ``j = 0..m``, in ``O(K + m)``.

    ``cdf[i] <= j / m`` iff ``ceil(cdf[i] * m) <= j`` (``m`` a power of two: exact), so ``g`` is
    the running count of ``ceil(cdf * m)``. Counted slice by slice into the result array
    itself (int32 below 2^31 ranks), so the only temporaries are a few slices of 2^14 elements.
    """
    dtype = np.int32 if len(cdf) < 2**31 else np.int64
    counts: GuideArray = np.zeros(m + 2, dtype=dtype)
    step = 1 << 14
    buf = np.empty(min(step, len(cdf)), dtype=np.float64)
    for s in range(0, len(cdf), step):
        part = buf[:min(step, len(cdf) - s)]
        np.multiply(cdf[s:s + step], m, out=part)
        np.ceil(part, out=part)
        c = part.astype(np.int64)
        # c is sorted (so is cdf): count its runs of equal values, each a distinct bucket
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        runs = np.diff(np.r_[starts, len(c)])
        counts[c[starts]] += runs.astype(dtype)
    guide = counts[:m + 1]
    np.cumsum(guide, dtype=dtype, out=guide)
    return guide


CDF_BYTES_PER_RANK = 8
"""The tabulated CDF: one ``float64`` per rank of the footprint."""
GUIDE_BYTES_PER_RANK = 8
"""The inverse-CDF guide table: at most one entry (int32 or int64) per rank."""


@dataclass(frozen=True, slots=True)
class ZipfParams:
    """``kind = "zipf"``."""

    theta: float = shared.theta()
    footprint: float = shared.footprint()
    think_ns: int = shared.think_ns()
    write_fraction: float = shared.write_fraction()
    scatter: bool = shared.scatter()


class ZipfWorkload(RankedWorkload[ZipfParams]):
    """Exact Zipf(``theta``) popularity over the footprint, by inverse-CDF lookup."""

    name: ClassVar[str] = "zipf"
    description: ClassVar[str] = (
        "Zipf(theta) popularity over the footprint pages, exact inverse-CDF sampling "
        "(theta=0: uniform)")
    Params: ClassVar[type[ZipfParams]] = ZipfParams

    @classmethod
    def memory_bytes(cls, params: ZipfParams, pages: int, streams: int) -> int:
        """The placement permutation, the CDF and its guide table (at most one int64 per
        rank)."""
        k = max(1, int(pages * params.footprint))
        return (PLACEMENT_BYTES_PER_PAGE * pages if params.scatter else 0) \
            + (CDF_BYTES_PER_RANK + GUIDE_BYTES_PER_RANK) * k

    def __init__(self, params: ZipfParams, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        super().__init__(params, pages, streams, seed)
        self.theta: float = check_theta(params.theta)
        self._cdf = zipf_cdf(self.footprint_pages, self.theta)
        self._lookup = InverseCdf(self._cdf)

    def _ranks(self, rng: np.random.Generator, n: int) -> PageArray:
        u = rng.random(n)
        ranks = self._lookup(u)
        # u < 1.0 == cdf[-1], so ranks < K; the clip only guards against a future change.
        np.minimum(ranks, self.footprint_pages - 1, out=ranks)
        return ranks.astype(np.int64, copy=False)


__all__ = ["CDF_BYTES_PER_RANK", "GUIDE_MIN_RANKS", "InverseCdf", "ZipfParams", "ZipfWorkload",
           "zipf_cdf"]
