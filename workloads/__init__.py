"""Vectorised page-access generators: what the vCPUs (or the host task) touch.

A workload turns a ``[workload]`` section (:class:`simulator.config.WorkloadConfig`) into
independent per-stream sequences of page touches (see :mod:`workloads.base` for the interface,
its determinism rules and what every generator simplifies). Each kind declares, in its own
module, its name, its parameters (a frozen dataclass, ``Params``: the ``[workload]`` keys it
reads) and the memory it allocates; :data:`WORKLOADS` registers it, and the configuration
builds ``kind``'s choices and the ``[workload]`` keys from this registry. Each kind's module
describes what it models and what it simplifies (``mglru-sim list workloads``: one line each).

Use :func:`make_workload`; :data:`WORKLOADS` and :func:`describe_workloads` serve
``mglru-sim list workloads``. Adding a kind is one module and one line in :data:`WORKLOADS`
(README, "Adding a workload").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads.base import Batch, PageArray, Workload, WorkloadKind, WorkloadTable, WriteArray
from workloads.hotcold import HotColdWorkload
from workloads.memstress import MemstressWorkload
from workloads.scan_mix import ScanMixWorkload
from workloads.sequential import SequentialWorkload
from workloads.trace import TraceWorkload
from workloads.uniform import UniformWorkload
from workloads.ycsb_zipf import YcsbZipfWorkload
from workloads.zipf import ZipfWorkload

WORKLOADS: dict[str, type[WorkloadKind[Any]]] = {
    cls.name: cls for cls in (ZipfWorkload, UniformWorkload, SequentialWorkload,
                              YcsbZipfWorkload, MemstressWorkload, HotColdWorkload,
                              ScanMixWorkload, TraceWorkload)
}
"""Registry: ``[workload] kind`` -> implementing class (constructed as ``cls(params, pages,
streams, seed)``, ``params`` an instance of its ``Params``). The order is the order of
``mglru-sim list workloads`` and of the ``[workload]`` keys."""


def make_workload(cfg: WorkloadTable, pages: int, streams: int,
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
    workload: Workload = cls(cfg.params_as(cls.Params), pages, streams, seed)
    return workload


def describe_workloads() -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every registered workload, in registry order."""
    return [(name, cls.description) for name, cls in WORKLOADS.items()]


__all__ = [
    "WORKLOADS", "Batch", "HotColdWorkload", "MemstressWorkload", "PageArray",
    "ScanMixWorkload", "SequentialWorkload", "TraceWorkload", "UniformWorkload", "Workload",
    "WorkloadKind", "WriteArray", "YcsbZipfWorkload", "ZipfWorkload", "describe_workloads",
    "make_workload",
]
