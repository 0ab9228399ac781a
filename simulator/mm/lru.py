"""The exact LRU reference policy (``[host] policy = "lru"``): the yardstick for MGLRU.

Every access, in order, moves its page to the most-recently-used end of one list; a miss
(first touch or refault) inserts the page, and when that makes the resident set exceed the
memcg limit the least recently used page is evicted at once. This is the textbook LRU that
Mattson's stack algorithm (``simulator.mattson``) computes in one pass, so on the same access
sequence the two give exactly the same misses (``tests/test_lru_policy.py``).

It is not a kernel policy (the pre-MGLRU kernel had active/inactive lists and CLOCK-like second
chance, not exact LRU): it exists only to compare MGLRU against the ideal of its kind.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


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

    def resident(self) -> IntArray:
        """Resident pages from least to most recently used."""
        return np.fromiter(self._list.keys(), dtype=np.int64, count=len(self._list))
