"""Ground truth for young-bit accuracy: what really happened to each page.

The simulator sees every access. Each time aging (the page-table walk), look-around or the
eviction-time rmap check decides young or old for a page, the decision is scored against the
truth "was this page accessed since its A bits were last harvested?" and the harvest time is
reset to now (DESIGN §3). Sources of error this exposes: TLB hits that set no A bit (no flush
when aging, 6.13+), secondary A bits the primary walk never asks about (``blind``), stale
secondary A bits seen only at eviction, and bitmaps a backend cannot fill.

With large folios (``simulator.mm.folio``) a decision is about a folio: an access to any of its
pages makes it young, so accesses are recorded on the folio head and every decision scored on
heads. The counts are of folios, and each :class:`Confusion` carries the same counts in pages
alongside (``tp_pages`` …: a 2 MiB THP weighs 512).

Sources of wrong answers beyond those: speculative A bits and the lost cmpxchg of lockless
A/D-off aging (``simulator.kvm.false_young``) say young for a page nobody touched (false
positives), and the posted v3 bitmap code leaves SPTEs young that were harvested (false
positives next time) or clears young ones it skipped (false negatives). Host-side accesses to
guest memory (vhost, the VMM) are accesses, and count as such; with ``guest_view`` a second
tally scores the same decisions against the guest's own accesses only, where a page young from
a host-side touch alone is a false positive for the guest's working set.

Accesses and harvests are stamped with a logical clock that ticks at every call, not with the
simulated time: an access and a harvest at the same nanosecond are still ordered the way their
effects on the page tables were applied (a quantum's accesses are applied when it starts, see
``machine``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.mm.folio import FolioMap

_FIELDS = ("tp", "fp", "fn", "tn", "tp_pages", "fp_pages", "fn_pages", "tn_pages")


@dataclass(slots=True)
class Confusion:
    """Counts of young/old decisions (one per folio) against the truth, and the same in pages."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    tp_pages: int = 0
    fp_pages: int = 0
    fn_pages: int = 0
    tn_pages: int = 0

    def add(self, other: Confusion) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def decisions(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def confusion(young: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_],
              sizes: npt.NDArray[np.int64] | None) -> Confusion:
    """The confusion counts of decisions ``young`` against ``truth`` (folios of ``sizes``
    pages; None: every folio is one page)."""
    tp = int(np.count_nonzero(young & truth))
    said_young = int(np.count_nonzero(young))
    was_young = int(np.count_nonzero(truth))
    c = Confusion(tp=tp, fp=said_young - tp, fn=was_young - tp,
                  tn=len(truth) - said_young - was_young + tp)
    if sizes is None:
        c.tp_pages, c.fp_pages, c.fn_pages, c.tn_pages = c.tp, c.fp, c.fn, c.tn
    else:
        c.tp_pages = int(sizes[young & truth].sum())
        c.fp_pages = int(sizes[young & ~truth].sum())
        c.fn_pages = int(sizes[~young & truth].sum())
        c.tn_pages = int(sizes[~young & ~truth].sum())
    return c


class GroundTruth:
    """Last access and last harvest time of every folio, and the running confusion counts."""

    def __init__(self, nr_pages: int, folios: FolioMap | None = None,
                 guest_view: bool = False) -> None:
        self.last_access = np.full(nr_pages, -1, dtype=np.int64)
        self.last_harvest = np.full(nr_pages, -1, dtype=np.int64)
        self.folios = folios
        self.guest_access = np.full(nr_pages, -1, dtype=np.int64) if guest_view else None
        """Last access by the guest itself (``guest_view``: host-side accesses exist)."""
        self._tick = 0
        self.total = Confusion()
        self.by_source: dict[str, Confusion] = {}
        self.guest_total = Confusion()
        """The same decisions against the guest's own accesses (``guest_view`` only)."""

    @property
    def tick(self) -> int:
        """The logical clock: the stamp the next access or harvest gets."""
        return self._tick

    @tick.setter
    def tick(self, value: int) -> None:
        """Set by compiled kernels that recorded accesses in ``last_access`` themselves."""
        self._tick = value

    def record_access(self, pages: npt.NDArray[np.int64], guest: bool = True) -> None:
        """Accesses to ``pages`` now; ``guest=False`` for host-side touches of guest memory."""
        heads = self.folios.heads(pages) if self.folios is not None else pages
        self.last_access[heads] = self._tick
        if self.guest_access is not None and guest:
            self.guest_access[heads] = self._tick
        self._tick += 1

    def score(self, pages: npt.NDArray[np.int64], young: npt.NDArray[np.bool_],
              source: str) -> Confusion:
        """Score decisions on folio heads ``pages`` (one per folio) and mark them harvested
        now."""
        truth = self.last_access[pages] > self.last_harvest[pages]
        sizes = self.folios.sizes(pages) if self.folios is not None else None
        c = confusion(young, truth, sizes)
        if self.guest_access is not None:
            self.guest_total.add(confusion(
                young, self.guest_access[pages] > self.last_harvest[pages], sizes))
        self.last_harvest[pages] = self._tick
        self._tick += 1
        self.total.add(c)
        mine = self.by_source.get(source)
        if mine is None:
            mine = self.by_source[source] = Confusion()
        mine.add(c)
        return c
