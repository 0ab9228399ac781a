"""The exact LRU reference policy (``[host] policy = "lru"``): the yardstick for MGLRU.

Every access, in order, moves its page to the most-recently-used end of one list; a miss
(first touch or refault) inserts the page, and when that makes the resident set exceed the
memcg limit the least recently used page is evicted at once. This is the textbook LRU that
Mattson's stack algorithm (``simulator.mattson``) computes in one pass, so on the same access
sequence the two give exactly the same misses (``tests/test_lru_policy.py``).

It is not a kernel policy (the pre-MGLRU kernel had active/inactive lists and CLOCK-like second
chance, not exact LRU): it exists only to compare MGLRU against the ideal of its kind.

Two implementations with one interface: :class:`ExactLru` (an ``OrderedDict``, the reference)
and :class:`CompiledExactLru` (a doubly linked list in arrays indexed by page, walked by a numba
kernel, ``simulator.jit``); :func:`make_exact_lru` picks one by core, and
``tests/test_compiled.py`` checks that they agree access by access.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt

from simulator.jit import compiled, njit
from simulator.mm.constants import LRU_MAX_PAGES

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class ExactLru:
    """An LRU list of resident pages with a fixed capacity (in pages)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._list: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._list)

    def __contains__(self, page: int) -> bool:
        return page in self._list

    def access(self, pages: IntArray) -> tuple[IntArray, IntArray]:
        """Apply accesses in order; returns (missed pages in order, evicted pages in order).

        A page can appear in both (evicted, then missed again) within one call.
        """
        lst = self._list
        move = lst.move_to_end
        misses: list[int] = []
        evicted: list[int] = []
        cap = self.capacity
        for page in pages.tolist():
            if page in lst:
                move(page)
                continue
            misses.append(page)
            lst[page] = None
            if len(lst) > cap:
                evicted.append(lst.popitem(last=False)[0])
        return np.asarray(misses, dtype=np.int64), np.asarray(evicted, dtype=np.int64)

    def contains(self, pages: IntArray) -> BoolArray:
        """Which of ``pages`` are on the list."""
        return np.fromiter((int(p) in self._list for p in pages.tolist()), dtype=bool,
                           count=len(pages))

    def resident(self) -> IntArray:
        """Resident pages from least to most recently used."""
        return np.fromiter(self._list.keys(), dtype=np.int64, count=len(self._list))


NIL = -1
"""No page (the end of the list)."""
OFF = -2
"""``links[p, 0]`` of a page that is not on the list."""


@njit
def lru_touch(p: int, links: npt.NDArray[np.int32], ends: IntArray, capacity: int) -> int:
    """One access of page ``p``: -2 for a hit, else the page evicted by the miss (-1: none).

    ``links[p] = (prev, next)`` (int32, one cache line per page instead of two arrays),
    ``links[p, 0] == OFF`` off the list; ``ends = [lru, mru, length]``.
    """
    mru = ends[1]
    if links[p, 0] != OFF:
        if p == mru:
            return -2
        # unlink p (not the MRU, so it has a successor), then append it below
        a, b = links[p, 0], links[p, 1]
        if a == NIL:
            ends[0] = b
        else:
            links[a, 1] = b
        links[b, 0] = a
        hit = True
    else:
        ends[2] += 1
        hit = False
    links[p, 0], links[p, 1] = mru, NIL
    if mru != NIL:
        links[mru, 1] = p
    else:
        ends[0] = p
    ends[1] = p
    if hit:
        return -2
    if ends[2] <= capacity:
        return NIL
    victim = ends[0]
    nxt = links[victim, 1]
    ends[0] = nxt
    links[nxt, 0] = NIL
    links[victim, 0], links[victim, 1] = OFF, NIL
    ends[2] -= 1
    return int(victim)


@njit
def _access(pages: IntArray, links: npt.NDArray[np.int32], ends: IntArray,
            capacity: int) -> tuple[IntArray, IntArray]:
    """The reference's loop on the linked list."""
    misses = np.empty(len(pages), dtype=np.int64)
    evicted = np.empty(len(pages), dtype=np.int64)
    nm = ne = 0
    for i in range(len(pages)):
        victim = lru_touch(pages[i], links, ends, capacity)
        if victim == -2:
            continue
        misses[nm] = pages[i]
        nm += 1
        if victim >= 0:
            evicted[ne] = victim
            ne += 1
    return misses[:nm].copy(), evicted[:ne].copy()


class CompiledExactLru:
    """:class:`ExactLru` as a linked list in an array over the page index space."""

    def __init__(self, capacity: int, nr_pages: int) -> None:
        if nr_pages >= LRU_MAX_PAGES:  # refused by the scenario checks already
            raise ValueError(f"{nr_pages} pages do not fit the int32 links")
        self.capacity = capacity
        self.links = np.full((nr_pages, 2), NIL, dtype=np.int32)
        self.links[:, 0] = OFF
        self.ends = np.array([NIL, NIL, 0], dtype=np.int64)
        """Least recently used page, most recently used page, length."""

    def __len__(self) -> int:
        return int(self.ends[2])

    def __contains__(self, page: int) -> bool:
        return bool(self.links[page, 0] != OFF)

    def access(self, pages: IntArray) -> tuple[IntArray, IntArray]:
        return _access(np.ascontiguousarray(pages, dtype=np.int64), self.links, self.ends,
                       self.capacity)

    def contains(self, pages: IntArray) -> BoolArray:
        mask: BoolArray = self.links[pages, 0] != OFF
        return mask

    def resident(self) -> IntArray:
        out = np.empty(len(self), dtype=np.int64)
        p = int(self.ends[0])
        for i in range(len(out)):
            out[i] = p
            p = int(self.links[p, 1])
        return out


def make_exact_lru(capacity: int, nr_pages: int) -> ExactLru | CompiledExactLru:
    """An exact LRU list of ``capacity`` pages over pages ``0..nr_pages-1``, compiled unless
    the reference core was chosen."""
    return CompiledExactLru(capacity, nr_pages) if compiled() else ExactLru(capacity)
