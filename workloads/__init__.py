"""Vectorised page-access generators: what the vCPUs (or the host task) touch.

A workload turns a ``[workload]`` section (:class:`simulator.config.WorkloadConfig`) into
independent per-stream sequences of page touches (see :mod:`workloads.base` for the interface,
its determinism rules and what every generator simplifies). Registered kinds:

* ``zipf`` (:mod:`workloads.zipf`): skewed popularity, exact inverse-CDF sampling;
* ``uniform`` (:mod:`workloads.uniform`): no locality;
* ``sequential`` (:mod:`workloads.sequential`): cyclic scans from staggered offsets;
* ``ycsb_zipf`` (:mod:`workloads.ycsb_zipf`): YCSB's (scrambled) zipfian generator;
* ``memstress`` (:mod:`workloads.memstress`): the KVM selftests' per-vCPU guest loop;
* ``hotcold`` (:mod:`workloads.hotcold`): a hot set that moves every phase;
* ``scan_mix`` (:mod:`workloads.scan_mix`): a hot set plus periodic one-pass cold scans;
* ``trace`` (:mod:`workloads.trace`): replay of a trace file (:mod:`simulator.traces`).

Use :func:`make_workload`; :data:`WORKLOADS` and :func:`describe_workloads` serve
``mglru-sim list workloads``.
"""

from __future__ import annotations

import numpy as np

from simulator.config import WorkloadConfig
from workloads.base import Batch, PageArray, Workload, WriteArray
from workloads.hotcold import HotColdWorkload
from workloads.memstress import MemstressWorkload
from workloads.scan_mix import ScanMixWorkload
from workloads.sequential import SequentialWorkload
from workloads.trace import TraceWorkload
from workloads.uniform import UniformWorkload
from workloads.ycsb_zipf import YcsbZipfWorkload
from workloads.zipf import ZipfWorkload

WORKLOADS: dict[str, type[Workload]] = {
    cls.name: cls for cls in (ZipfWorkload, UniformWorkload, SequentialWorkload,
                              YcsbZipfWorkload, MemstressWorkload, HotColdWorkload,
                              ScanMixWorkload, TraceWorkload)
}
"""Registry: ``[workload] kind`` -> implementing class (constructed as ``cls(cfg, pages,
streams, seed)``)."""


def make_workload(cfg: WorkloadConfig, pages: int, streams: int,
                  seed: np.random.SeedSequence) -> Workload:
    """Build the workload ``cfg.kind`` over ``pages`` pages with ``streams`` streams.

    Stream ``i`` draws from its own generator seeded at ``seed``'s ``spawn_key + (0, i)`` and
    the ``scatter`` placement from ``spawn_key + (1,)`` (derived statelessly, without
    ``seed.spawn``), so every stream's output depends only on ``(seed, i)``.

    Raises ValueError for an unknown kind (naming the known ones) or out-of-range arguments.
    """
    try:
        cls = WORKLOADS[cfg.kind]
    except KeyError:
        raise ValueError(f"unknown workload kind {cfg.kind!r}; known kinds: "
                         f"{', '.join(WORKLOADS)}") from None
    return cls(cfg, pages, streams, seed)


def describe_workloads() -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every registered workload, in registry order."""
    return [(name, cls.description) for name, cls in WORKLOADS.items()]


__all__ = [
    "WORKLOADS", "Batch", "HotColdWorkload", "MemstressWorkload", "PageArray",
    "ScanMixWorkload", "SequentialWorkload", "TraceWorkload", "UniformWorkload", "Workload",
    "WorkloadConfig", "WriteArray", "YcsbZipfWorkload", "ZipfWorkload", "describe_workloads",
    "make_workload",
]
