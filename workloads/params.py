"""The parameters several workload kinds share, each declared once.

Every kind declares its own frozen parameter dataclass (``Params``) listing the keys it reads,
in its own order; a key that several kinds read is declared here and used by each of them, so
it has one default, one range and one doc wherever it appears (:func:`simulator.params.merge_keys`
checks that). ``[workload]`` in a scenario is flat: ``kind`` and every registered kind's keys.
"""

from __future__ import annotations

from typing import Any

from simulator.params import param


def theta() -> Any:
    """Zipf skew (zipf, ycsb_zipf, scan_mix's hot set)."""
    return param(0.99, lo=0.0, hi=5.0, doc="zipf skew")


def footprint() -> Any:
    """The share of the region the workload touches: ``K = max(1, int(pages * footprint))``."""
    return param(1.0, lo=1e-6, hi=1.0,
                 doc="fraction of the VM's (or task's) memory the workload touches")


def think_ns() -> Any:
    """Pacing, which every kind has: the simulator applies it, not the generator."""
    return param(500, lo=0, hi=10**9, doc="compute time between two page touches of one vCPU")


def write_fraction() -> Any:
    """The Bernoulli probability that a touch writes."""
    return param(0.5, lo=0.0, hi=1.0, doc="fraction of touches that write")


def scatter() -> Any:
    """Placement of ranked kinds (:func:`workloads.base.placement`)."""
    return param(True, doc="place ranks on a seeded random permutation of pages (false: rank r "
                           "is page r)")


def hot_fraction() -> Any:
    """The size of a hot set (hotcold, scan_mix)."""
    return param(0.1, lo=1e-9, hi=1.0, doc="fraction of the footprint that is hot")


__all__ = ["footprint", "hot_fraction", "scatter", "theta", "think_ns", "write_fraction"]
