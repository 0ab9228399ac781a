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
into the sorted keys. Lookups are one vectorised ``searchsorted`` (the reference core) or, with
the compiled core (``simulator.jit``), probes of an open-addressing hash table built from the
same arrays on first use: a binary search over a large map misses the cache at every level,
a hash probe about once.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from simulator.jit import compiled, njit

REMAP_ORDERS: tuple[str, ...] = ("first_touch", "sorted")


class PageMap:
    """A frozen map from raw ``uint64`` page ids to dense ``int64`` indices."""

    def __init__(self, keys: npt.NDArray[np.uint64], ids: npt.NDArray[np.int64] | None) -> None:
        self.keys = keys
        """Distinct raw ids, sorted."""
        self.ids = ids
        """Dense index of each key; ``None`` for the ``sorted`` order (index = position)."""
        self._table: tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]] | None = None

    def _values(self) -> npt.NDArray[np.int64]:
        return (np.arange(len(self.keys), dtype=np.int64) if self.ids is None
                else self.ids.astype(np.int64, copy=False))

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, pages: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Dense indices of raw ids. Raises KeyError if one is not in the map."""
        if compiled() and len(self.keys):
            if self._table is None:
                self._table = _build_table(self.keys, self._values())
            out, bad = _probe(self._table[0], self._table[1], np.ascontiguousarray(
                pages, dtype=np.uint64))
            if bad >= 0:
                raise KeyError(f"page id {int(pages[bad])} is not in the map")
            return out
        pos = np.searchsorted(self.keys, pages)
        np.minimum(pos, len(self.keys) - 1, out=pos)
        found = self.keys[pos] == pages
        if not found.all():
            missing = int(pages[np.flatnonzero(~found)[0]])
            raise KeyError(f"page id {missing} is not in the map")
        return (pos if self.ids is None else self.ids[pos]).astype(np.int64, copy=False)


_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)
"""An empty slot of the hash table; a raw id of 2^64-1 goes to the overflow slot instead."""


@njit
def _slot(key: np.uint64, mask: int) -> int:
    return int((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask


@njit
def _build_table(keys: npt.NDArray[np.uint64], values: npt.NDArray[np.int64],
                 ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Open addressing with linear probing, at most half full; the last slot holds the id
    2^64-1 (the empty marker) if the map has it."""
    size = 2
    while size < 2 * len(keys):
        size *= 2
    slots = np.full(size + 1, _EMPTY, dtype=np.uint64)
    vals = np.full(size + 1, -1, dtype=np.int64)
    _insert_pairs(slots, vals, keys, values)
    return slots, vals


@njit
def _probe(slots: npt.NDArray[np.uint64], vals: npt.NDArray[np.int64],
           pages: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.int64], int]:
    """The value of each page's key, and the index of the first missing one (or -1)."""
    size = len(slots) - 1
    mask = size - 1
    out = np.empty(len(pages), dtype=np.int64)
    for i in range(len(pages)):
        k = pages[i]
        if k == _EMPTY:
            v = vals[size]
        else:
            j = _slot(k, mask)
            v = -1
            while slots[j] != _EMPTY:
                if slots[j] == k:
                    v = vals[j]
                    break
                j = (j + 1) & mask
        if v < 0:
            return out, i
        out[i] = v
    return out, -1


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


@njit
def _insert(slots: npt.NDArray[np.uint64], vals: npt.NDArray[np.int64], count: int,
            pages: npt.NDArray[np.uint64]) -> int:
    """Give each new id the next dense index, in order of appearance; returns the count."""
    size = len(slots) - 1
    mask = size - 1
    for i in range(len(pages)):
        k = pages[i]
        if k == _EMPTY:
            if vals[size] < 0:
                vals[size] = count
                count += 1
            continue
        j = _slot(k, mask)
        while slots[j] != _EMPTY and slots[j] != k:
            j = (j + 1) & mask
        if slots[j] == _EMPTY:
            slots[j] = k
            vals[j] = count
            count += 1
    return count


class CompiledPageMapBuilder(PageMapBuilder):
    """:class:`PageMapBuilder` on the hash table itself (no sort per chunk); the same map."""

    def __init__(self, order: str = "first_touch") -> None:
        super().__init__(order)
        self._slots = np.full(17, _EMPTY, dtype=np.uint64)
        self._vals = np.full(17, -1, dtype=np.int64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, pages: npt.NDArray[np.uint64]) -> None:
        pages = np.ascontiguousarray(pages, dtype=np.uint64)
        step = 1 << 16  # grow for at most this many new ids at a time, not a whole chunk
        for lo in range(0, len(pages), step):
            part = pages[lo:lo + step]
            need = self._count + len(part)
            if 2 * need > len(self._slots) - 1:
                self._grow(need)
            self._count = _insert(self._slots, self._vals, self._count, part)

    def _grow(self, need: int) -> None:
        """Rehash into a table at most half full after ``need`` ids."""
        size = 2
        while size < 2 * need:
            size *= 2
        slots = np.full(size + 1, _EMPTY, dtype=np.uint64)
        vals = np.full(size + 1, -1, dtype=np.int64)
        used = self._vals >= 0
        _insert_pairs(slots, vals, self._slots[used], self._vals[used])
        self._slots, self._vals = slots, vals

    def _pairs(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        """Every (key, first-touch index) held, sorted by key."""
        used = self._vals[:-1] >= 0
        keys, ids = self._slots[:-1][used], self._vals[:-1][used]
        if self._vals[-1] >= 0:
            keys = np.append(keys, _EMPTY)
            ids = np.append(ids, self._vals[-1])
        order = np.argsort(keys, kind="stable")
        return keys[order], ids[order]

    def build(self) -> PageMap:
        keys, ids = self._pairs()
        if self.order == "sorted":
            return PageMap(keys, None)
        pm = PageMap(keys, ids)
        pm._table = (self._slots, self._vals)
        return pm


@njit
def _insert_pairs(slots: npt.NDArray[np.uint64], vals: npt.NDArray[np.int64],
                  keys: npt.NDArray[np.uint64], ids: npt.NDArray[np.int64]) -> None:
    size = len(slots) - 1
    mask = size - 1
    for i in range(len(keys)):
        k = keys[i]
        if k == _EMPTY:
            vals[size] = ids[i]
            continue
        j = _slot(k, mask)
        while slots[j] != _EMPTY:
            j = (j + 1) & mask
        slots[j] = k
        vals[j] = ids[i]


def make_builder(order: str = "first_touch") -> PageMapBuilder:
    """A page-map builder, compiled unless the reference core was chosen."""
    return CompiledPageMapBuilder(order) if compiled() else PageMapBuilder(order)


def build_page_map(chunks: Iterable[npt.NDArray[np.uint64]],
                   order: str = "first_touch") -> PageMap:
    """A :class:`PageMap` over every id in ``chunks`` (in trace order)."""
    builder = make_builder(order)
    for pages in chunks:
        builder.add(pages)
    return builder.build()


__all__ = ["REMAP_ORDERS", "CompiledPageMapBuilder", "PageMap", "PageMapBuilder",
           "build_page_map", "make_builder"]
