"""Uniform random touches over the footprint.

What it models: a guest with no locality at all, every one of the footprint's
``K = max(1, int(pages * footprint))`` pages equally likely at every touch: the worst case for
any recency-based replacement policy, and memstress's ``random_access`` mode
(``page = guest_random_u32(&rand_state) % pages`` in tools/testing/selftests/kvm/lib/memstress.c).

What it simplifies: draws are exactly uniform (numpy's unbiased bounded integers, not memstress's
slightly biased ``% pages``), independent across touches and streams, and all streams share the
whole footprint rather than memstress's per-vCPU partitions. With ``scatter`` the ``K`` pages are
a seeded random subset of the region (the same placement rule as ``zipf``), else the first ``K``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from workloads import params as shared
from workloads.base import PageArray, RankedWorkload


@dataclass(frozen=True, slots=True)
class UniformParams:
    """``kind = "uniform"``."""

    footprint: float = shared.footprint()
    think_ns: int = shared.think_ns()
    write_fraction: float = shared.write_fraction()
    scatter: bool = shared.scatter()


class UniformWorkload(RankedWorkload[UniformParams]):
    """Every footprint page equally likely, independently at each touch."""

    name: ClassVar[str] = "uniform"
    description: ClassVar[str] = "uniform random touches over the footprint pages (no locality)"
    Params: ClassVar[type[UniformParams]] = UniformParams

    def _ranks(self, rng: np.random.Generator, n: int) -> PageArray:
        return rng.integers(0, self.footprint_pages, size=n, dtype=np.int64)


__all__ = ["UniformParams", "UniformWorkload"]
