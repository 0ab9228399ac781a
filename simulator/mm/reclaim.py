"""Reclaim control flow (mm/vmscan.c): kswapd's priority loop and ``try_to_shrink_lruvec``.

Written without time, in the sans-I/O style: the loops *yield requests* (age once, evict once,
back off, shrink one list) that the caller carries out on simulated time and answers with the
result via ``generator.send``. The control flow of mm/vmscan.c lives here, and the SimPy actors
that drive it (``simulator.actors``, ``simulator.policies``) only time the work.

- :func:`set_initial_priority` and :func:`should_run_aging` are the kernel's functions of the
  same names (≈6.15, ``lru_gen`` section);
- :func:`try_to_shrink_lruvec` is MGLRU's per-lruvec loop (``try_to_shrink_lruvec`` →
  ``get_nr_to_scan`` → ``evict_folios``): age when the lruvec is out of cold generations,
  otherwise evict ``evictable >> priority`` folios;
- :func:`kswapd_balance` is kswapd's loop over priorities (``balance_pgdat``): shrink at the
  current priority, and lower it (scan harder) when a round reclaims nothing.

Simplification: one memcg on one node, so ``shrink_node`` → ``shrink_many`` / the memcg
iterator reduce to the one lruvec; kswapd reclaims for the memcg limit (see
``simulator.host.HostCore.charge``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from simulator.mm.constants import DEF_PRIORITY, MIN_LRU_BATCH, MIN_NR_GENS
from simulator.mm.lruvec import Lruvec, lru_gen_from_seq

KSWAPD_BACKOFF_NS = 1_000_000
"""How long kswapd sleeps when even the lowest priority reclaimed nothing (the kernel's
``kswapd_try_to_sleep`` / ``HZ/10`` congestion waits, shortened: nothing is reclaimable)."""


@dataclass(frozen=True, slots=True)
class Age:
    """Run one aging iteration (``try_to_inc_max_seq``). Answer: None."""

    trigger: str = "reclaim"
    force_scan: bool = False


@dataclass(frozen=True, slots=True)
class Evict:
    """Run one ``evict_folios`` call. Answer: ``(scanned, reclaimed)``."""

    nr_to_scan: int


@dataclass(frozen=True, slots=True)
class Backoff:
    """Sleep ``ns`` of simulated time. Answer: None."""

    ns: int


Request = Any
"""A request a reclaim loop yields: :class:`Age`, :class:`Evict`, :class:`Backoff`, or a
policy's own (``simulator.mm.classic``)."""

Shrinker = Callable[[int], Generator[Request, Any, int]]
"""One shrink of the lruvec at a priority; returns the pages reclaimed."""


def set_initial_priority(lv: Lruvec, nr_to_reclaim: int) -> int:
    """``set_initial_priority``: (reclaimable >> priority) ≈ nr_to_reclaim, in [6, 12]."""
    inactive = sum(int(lv.nr_pages[lru_gen_from_seq(s)])
                   for s in range(lv.min_seq, lv.max_seq - 1))
    if nr_to_reclaim < MIN_LRU_BATCH:
        return DEF_PRIORITY
    # fls_long(x) is int.bit_length(); fls_long(0) = 0 gives the lowest priority (6)
    priority = max(inactive, 0).bit_length() - 1 - (nr_to_reclaim - 1).bit_length()
    return min(max(priority, DEF_PRIORITY // 2), DEF_PRIORITY)


def should_run_aging(lv: Lruvec, priority: int) -> bool:
    """``should_run_aging``: always with two generations left (no cold folios); with three,
    only below ``DEF_PRIORITY`` ("try to get away with not aging at the default priority")."""
    mandatory = lv.min_seq + MIN_NR_GENS > lv.max_seq
    better = lv.min_seq + MIN_NR_GENS == lv.max_seq
    return mandatory or (better and priority < DEF_PRIORITY)


def try_to_shrink_lruvec(lv: Lruvec, priority: int, resident: Callable[[], int],
                         target: int) -> Generator[Request, Any, int]:
    """``try_to_shrink_lruvec`` for MGLRU: returns the pages reclaimed.

    When aging is due, ``get_nr_to_scan`` ages and reports nothing to scan (the caller comes
    back at the same or a lower priority). Otherwise ``evict_folios`` runs until
    ``resident >> priority`` folios were scanned or the target is met.
    """
    if should_run_aging(lv, priority):
        yield Age("reclaim", force_scan=False)
        return 0
    nr_to_scan = resident() >> priority
    if nr_to_scan == 0:
        return 0
    scanned = reclaimed = 0
    while scanned < nr_to_scan and resident() > target:
        delta, got = yield Evict(nr_to_scan)
        reclaimed += got
        if not delta:
            break
        scanned += delta
    return reclaimed


def kswapd_balance(resident: Callable[[], int], target: int, priority: int,
                   shrink: Shrinker) -> Generator[Request, Any, None]:
    """kswapd's priority loop: shrink until ``resident() <= target``; a round that reclaims
    nothing lowers the priority (down to 1), and at priority 1 kswapd backs off first."""
    while resident() > target:
        reclaimed = yield from shrink(priority)
        if reclaimed == 0:
            if priority == 1:
                yield Backoff(KSWAPD_BACKOFF_NS)
            priority = max(priority - 1, 1)


__all__ = ["KSWAPD_BACKOFF_NS", "Age", "Backoff", "Evict", "Request", "Shrinker",
           "kswapd_balance", "set_initial_priority", "should_run_aging",
           "try_to_shrink_lruvec"]
