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
bytes (128 MB at K = 16M pages = 64 GiB) and ``O(log K)`` per touch, all vectorised.

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

from typing import ClassVar

import numpy as np
import numpy.typing as npt

from simulator.config import WorkloadConfig
from workloads.base import PageArray, RankedWorkload


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


class ZipfWorkload(RankedWorkload):
    """Exact Zipf(``theta``) popularity over the footprint, by inverse-CDF lookup."""

    name: ClassVar[str] = "zipf"
    description: ClassVar[str] = (
        "Zipf(theta) popularity over the footprint pages, exact inverse-CDF sampling "
        "(theta=0: uniform)")

    def __init__(self, cfg: WorkloadConfig, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        super().__init__(cfg, pages, streams, seed)
        self.theta: float = float(cfg.theta)
        self._cdf = zipf_cdf(self.footprint_pages, self.theta)

    def _ranks(self, rng: np.random.Generator, n: int) -> PageArray:
        u = rng.random(n)
        ranks = np.searchsorted(self._cdf, u, side="right")
        # u < 1.0 == cdf[-1], so ranks < K; the clip only guards against a future change.
        np.minimum(ranks, self.footprint_pages - 1, out=ranks)
        return ranks.astype(np.int64, copy=False)


__all__ = ["ZipfWorkload", "zipf_cdf"]
