"""Sparse trace page ids -> dense page indices, deterministically.

A trace names pages by whatever it has (block numbers, ``address >> 12`` of a 64-bit address
space); the simulator needs indices ``0..D-1`` into a region of at least ``D`` pages, where
``D`` is the number of distinct pages. Two orders are offered:

* ``first_touch``: pages are numbered in the order the trace first touches them, so the first
  page touched is 0, the next new one 1, and so on. Deterministic and independent of the chunk
  size used to build it.
* ``sorted``: pages are numbered in increasing id order, which keeps the address order (pages
  adjacent in the trace's address space stay adjacent, so PTE tables and look-around see the
  trace's spatial locality, compressed over the holes).

The map is two sorted arrays (``keys`` and their ``ids``), 16 bytes per distinct page, built
in one streaming pass: per chunk, ``np.unique`` finds the chunk's new ids and they are merged
into the sorted keys. Lookups are one vectorised ``searchsorted``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

REMAP_ORDERS: tuple[str, ...] = ("first_touch", "sorted")


class PageMap:
    """A frozen map from raw ``uint64`` page ids to dense ``int64`` indices."""

    def __init__(self, keys: npt.NDArray[np.uint64], ids: npt.NDArray[np.int64] | None) -> None:
        self.keys = keys
        """Distinct raw ids, sorted."""
        self.ids = ids
        """Dense index of each key; ``None`` for the ``sorted`` order (index = position)."""

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, pages: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Dense indices of raw ids. Raises KeyError if one is not in the map."""
        pos = np.searchsorted(self.keys, pages)
        np.minimum(pos, len(self.keys) - 1, out=pos)
        found = self.keys[pos] == pages
        if not found.all():
            missing = int(pages[np.flatnonzero(~found)[0]])
            raise KeyError(f"page id {missing} is not in the map")
        return (pos if self.ids is None else self.ids[pos]).astype(np.int64, copy=False)


class PageMapBuilder:
    """Feeds chunks of raw ids, in trace order, into a :class:`PageMap`."""

    def __init__(self, order: str = "first_touch") -> None:
        if order not in REMAP_ORDERS:
            raise ValueError(f"unknown remap order {order!r}; known: {', '.join(REMAP_ORDERS)}")
        self.order = order
        self._keys = np.empty(0, dtype=np.uint64)
        self._ids = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, pages: npt.NDArray[np.uint64]) -> None:
        """Record the ids of the next chunk of the trace."""
        if not len(pages):
            return
        uniq, first = np.unique(pages, return_index=True)
        if len(self._keys):
            pos = np.searchsorted(self._keys, uniq)
            hit = self._keys[np.minimum(pos, len(self._keys) - 1)] == uniq
            uniq, first, pos = uniq[~hit], first[~hit], pos[~hit]
        else:
            pos = np.zeros(len(uniq), dtype=np.intp)
        if not len(uniq):
            return
        if self.order == "first_touch":
            rank = np.empty(len(uniq), dtype=np.int64)
            rank[np.argsort(first, kind="stable")] = np.arange(len(uniq), dtype=np.int64)
            self._ids = np.insert(self._ids, pos, rank + len(self._keys))
        self._keys = np.insert(self._keys, pos, uniq)

    def build(self) -> PageMap:
        """The map of every id added so far."""
        return PageMap(self._keys, self._ids if self.order == "first_touch" else None)


def build_page_map(chunks: Iterable[npt.NDArray[np.uint64]],
                   order: str = "first_touch") -> PageMap:
    """A :class:`PageMap` over every id in ``chunks`` (in trace order)."""
    builder = PageMapBuilder(order)
    for pages in chunks:
        builder.add(pages)
    return builder.build()


__all__ = ["REMAP_ORDERS", "PageMap", "PageMapBuilder", "build_page_map"]
