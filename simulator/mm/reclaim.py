"""Reclaim control flow (mm/vmscan.c, mm/memcontrol.c): who reclaims, at which priority, how much.

Written without time, in the sans-I/O style: the loops *yield requests* (age once, evict once,
back off, shrink one list) that the caller carries out on simulated time and answers with the
result via ``generator.send``. The control flow of the kernel lives here, and the SimPy actors
that drive it (``simulator.host``, ``simulator.actors``, ``simulator.policies``) only time it.

- **memory.max** (:func:`try_to_free_mem_cgroup_pages`): the task whose charge finds the memcg
  at its limit reclaims it itself (``try_charge_memcg`` → ``try_to_free_mem_cgroup_pages`` →
  ``do_try_to_free_pages``): goal ``max(nr_pages, SWAP_CLUSTER_MAX)``, priority 12 down to 0,
  one shrink of the memcg's lruvec per priority, stopping once the goal is met. The charge is
  retried up to ``MAX_RECLAIM_RETRIES`` times without progress (:func:`charge_retry`).
- **memory.reclaim** (:func:`memory_reclaim`): a proactive agent asks for ``amount`` bytes;
  the kernel reclaims a quarter of what is left per call (≥6.9 "use larger batches") until
  done, or gives up after ``MAX_RECLAIM_RETRIES`` calls without progress (``-EAGAIN``).
- **kswapd** (:func:`kswapd_balance`): only for the node's watermarks (``balance_pgdat``):
  shrink at a priority and lower it when a round reclaims nothing.
- **MGLRU's lruvec shrink** (:func:`try_to_shrink_lruvec`, :func:`get_nr_to_scan`): scan
  ``evictable >> priority`` folios through ``evict_folios``; when the lruvec is low on cold
  generations (``should_run_aging``) age instead, except at ``DEF_PRIORITY`` ("try to get away
  with not aging at the default priority"); aging that produced a generation (-1) or lost the
  race to another walker (0) ends this lruvec's turn. A memcg-limit reclaimer never stops early
  inside the lruvec (``should_abort_scan`` is false for non-root reclaim); kswapd stops once the
  node is balanced.

Simplification: one memcg on one node, so ``shrink_node`` → ``shrink_node_memcgs`` and the memcg
LRU reduce to the one lruvec; the memcg OOM killer is not modelled (a charger that cannot make
progress backs off and retries).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from simulator.mm.constants import DEF_PRIORITY, MIN_LRU_BATCH, MIN_NR_GENS
from simulator.mm.lruvec import Lruvec, lru_gen_from_seq

SWAP_CLUSTER_MAX = 32
MAX_RECLAIM_RETRIES = 16
"""``try_charge_memcg`` and ``memory_reclaim``: reclaim attempts without progress before
giving up (memcg OOM, ``-EAGAIN``)."""
BACKOFF_NS = 1_000_000
"""How long a reclaimer that made no progress at any priority sleeps before it retries (the
kernel would go to the memcg OOM path or a congestion wait; neither is modelled)."""


@dataclass(frozen=True, slots=True)
class Age:
    """Run one aging iteration (``try_to_inc_max_seq``). Answer: True if this caller
    produced the new generation."""

    trigger: str = "reclaim"
    force_scan: bool = False
    priority: int = DEF_PRIORITY


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

AbortCheck = Callable[[int], bool]
"""``should_abort_scan``: given the pages reclaimed so far, stop shrinking?"""

Shrinker = Callable[[int, int, AbortCheck], Generator[Request, Any, int]]
"""One shrink of the lruvec: (priority, nr_to_reclaim, should_abort) → pages reclaimed."""


def never(_reclaimed: int) -> bool:
    """``should_abort_scan`` of a memcg-limit reclaimer: never ("fairness")."""
    return False


def set_initial_priority(lv: Lruvec, nr_to_reclaim: int) -> int:
    """``set_initial_priority``: (reclaimable >> priority) ≈ nr_to_reclaim, in [6, 12]."""
    inactive = sum(int(lv.nr_pages[lru_gen_from_seq(s)])
                   for s in range(lv.min_seq, lv.max_seq - 1))
    if nr_to_reclaim < MIN_LRU_BATCH:
        return DEF_PRIORITY
    # fls_long(x) is int.bit_length(); fls_long(0) = 0 gives the lowest priority (6)
    priority = max(inactive, 0).bit_length() - 1 - (nr_to_reclaim - 1).bit_length()
    return min(max(priority, DEF_PRIORITY // 2), DEF_PRIORITY)


def should_run_aging(lv: Lruvec) -> tuple[bool, int]:
    """``should_run_aging``: (age?, evictable pages). Aging is due with two generations left
    (no cold folios: nothing to scan) and advised with three."""
    if lv.min_seq + MIN_NR_GENS > lv.max_seq:
        return True, 0
    size = sum(max(int(lv.nr_pages[lru_gen_from_seq(s)]), 0)
               for s in range(lv.min_seq, lv.max_seq + 1))
    return lv.min_seq + MIN_NR_GENS == lv.max_seq, size


def get_nr_to_scan(lv: Lruvec, priority: int) -> Generator[Request, Any, int]:
    """``get_nr_to_scan``: folios to scan at ``priority``, -1 after producing a generation,
    0 when another walker did (or aging is due at ``DEF_PRIORITY``)."""
    age, size = should_run_aging(lv)
    if not age or priority == DEF_PRIORITY:
        return size >> priority
    produced = yield Age("reclaim", force_scan=False, priority=priority)
    return -1 if produced else 0


def try_to_shrink_lruvec(lv: Lruvec, priority: int,
                         should_abort: AbortCheck) -> Generator[Request, Any, int]:
    """``try_to_shrink_lruvec`` for MGLRU: returns the pages reclaimed."""
    scanned = reclaimed = 0
    while True:
        nr_to_scan = yield from get_nr_to_scan(lv, priority)
        if nr_to_scan <= 0:
            break
        delta, got = yield Evict(nr_to_scan)
        reclaimed += got
        if not delta:
            break
        scanned += delta
        if scanned >= nr_to_scan or should_abort(reclaimed):
            break
    return reclaimed


def try_to_free_mem_cgroup_pages(nr_pages: int, shrink: Shrinker,
                                 should_abort: AbortCheck = never,
                                 ) -> Generator[Request, Any, int]:
    """``try_to_free_mem_cgroup_pages`` → ``do_try_to_free_pages``: priority 12 → 0 until
    ``max(nr_pages, SWAP_CLUSTER_MAX)`` pages were reclaimed. Returns the pages reclaimed."""
    nr_to_reclaim = max(nr_pages, SWAP_CLUSTER_MAX)
    reclaimed = 0
    for priority in range(DEF_PRIORITY, -1, -1):
        reclaimed += yield from shrink(priority, nr_to_reclaim - reclaimed, should_abort)
        if reclaimed >= nr_to_reclaim:
            break
    return reclaimed


def charge_retry(excess: Callable[[], int], shrink: Shrinker) -> Generator[Request, Any, int]:
    """``try_charge_memcg``'s reclaim ladder for a charge that took the memcg ``excess()``
    pages over its limit: reclaim until it fits; after ``MAX_RECLAIM_RETRIES`` attempts
    without progress back off (the OOM path is not modelled) and start over. Returns the
    number of ``try_to_free_mem_cgroup_pages`` calls."""
    calls = 0
    retries = MAX_RECLAIM_RETRIES
    while excess() > 0:
        calls += 1
        got = yield from try_to_free_mem_cgroup_pages(excess(), shrink)
        if got:
            retries = MAX_RECLAIM_RETRIES
            continue
        retries -= 1
        if retries < 0:
            yield Backoff(BACKOFF_NS)
            retries = MAX_RECLAIM_RETRIES
    return calls


def memory_reclaim(nr_pages: int, shrink: Shrinker) -> Generator[Request, Any, int]:
    """``memory_reclaim`` (a write to memory.reclaim): reclaim ``nr_pages``, a quarter of what
    is left per call (at least ``SWAP_CLUSTER_MAX``); stop after ``MAX_RECLAIM_RETRIES`` calls
    without progress. Returns the pages reclaimed."""
    reclaimed = 0
    retries = MAX_RECLAIM_RETRIES
    while reclaimed < nr_pages:
        left = nr_pages - reclaimed
        got = yield from try_to_free_mem_cgroup_pages(max(left // 4, SWAP_CLUSTER_MAX), shrink)
        reclaimed += got
        if not got:
            retries -= 1
            if retries <= 0:
                break
    return reclaimed


def kswapd_balance(resident: Callable[[], int], target: int, priority: int,
                   shrink: Shrinker) -> Generator[Request, Any, None]:
    """kswapd's priority loop (``balance_pgdat``): shrink until ``resident() <= target``
    (the node's high watermark); a round that reclaims nothing lowers the priority (down to
    1), and at priority 1 kswapd backs off first."""
    def balanced(_reclaimed: int) -> bool:
        return resident() <= target

    while resident() > target:
        reclaimed = yield from shrink(priority, resident() - target, balanced)
        if reclaimed == 0:
            if priority == 1:
                yield Backoff(BACKOFF_NS)
            priority = max(priority - 1, 1)


__all__ = ["BACKOFF_NS", "MAX_RECLAIM_RETRIES", "SWAP_CLUSTER_MAX", "AbortCheck", "Age",
           "Backoff", "Evict", "Request", "Shrinker", "charge_retry", "get_nr_to_scan",
           "kswapd_balance", "memory_reclaim", "never", "set_initial_priority",
           "should_run_aging", "try_to_free_mem_cgroup_pages", "try_to_shrink_lruvec"]
