"""Refusing, before anything is allocated, a command whose estimate exceeds a limit."""

from __future__ import annotations

from collections.abc import Sequence

from simulator.config import Scenario
from simulator.resources.errors import ResourceError
from simulator.resources.limits import memory_limits
from simulator.resources.run import Estimate, estimate


def check_estimate(est: Estimate, what: str, max_memory: int | None = None,
                   copies: int = 1) -> Estimate:
    """Raise ResourceError if ``copies`` processes needing ``est`` each would exceed a limit
    (:func:`simulator.resources.limits.memory_limits`); return ``est``.

    A per-process limit (an rlimit) must hold what one of them adds to an interpreter; the
    others (available memory, the cgroup) must hold all of them together.
    """
    for limit in memory_limits(max_memory):
        need = est.model_bytes if limit.per_process else est.bytes * copies
        if need > limit.bytes:
            times = f" ({est} × {copies} parallel runs)" if copies > 1 and not \
                limit.per_process else ""
            pages = f" for {est.pages} pages" if est.pages else ""
            raise ResourceError(
                f"{what} needs about {need / 2**30:.2f} GiB{times}{pages}, more than the "
                f"{limit.bytes / 2**30:.2f} GiB {limit.name}")
    return est


def check(sc: Scenario, max_memory: int | None = None, copies: int = 1) -> Estimate:
    """:func:`check_estimate` for runs of scenario ``sc``."""
    return check_estimate(estimate(sc), f"scenario {sc.name!r}", max_memory, copies)


def check_parallel(scenarios: Sequence[Scenario], max_memory: int | None, jobs: int,
                   driver: int = 0) -> Estimate | None:
    """:func:`check` for runs of ``scenarios``, ``jobs`` at a time: the largest as many times
    as runs can be in memory at once (plus ``driver`` bytes the driving process holds). None
    when there is nothing to run."""
    if not scenarios:
        return None
    estimates = [estimate(s) for s in scenarios]
    i = max(range(len(estimates)), key=lambda k: estimates[k].bytes)
    biggest = estimates[i]
    if driver:
        biggest = Estimate(biggest.bytes + driver // max(1, min(jobs, len(scenarios))),
                           biggest.pages, {**biggest.parts, "driver": driver})
    return check_estimate(biggest, f"scenario {scenarios[i].name!r}", max_memory,
                          copies=min(jobs, len(scenarios)))


__all__ = ["ResourceError", "check", "check_estimate", "check_parallel"]
