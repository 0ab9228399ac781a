"""Ground truth for young-bit accuracy: what really happened to each page.

The simulator sees every access. Each time aging (the page-table walk), look-around or the
eviction-time rmap check decides young or old for a page, the decision is scored against the
truth "was this page accessed since its A bits were last harvested?" and the harvest time is
reset to now (DESIGN §3). Sources of error this exposes: TLB hits that set no A bit (no flush
when aging, 6.13+), secondary A bits the primary walk never asks about (``blind``), stale
secondary A bits seen only at eviction, and bitmaps a backend cannot fill.

Accesses and harvests are stamped with a logical clock that ticks at every call, not with the
simulated time: an access and a harvest at the same nanosecond are still ordered the way their
effects on the page tables were applied (a quantum's accesses are applied when it starts, see
``machine``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class Confusion:
    """Counts of young/old decisions against the truth."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, other: Confusion) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn

    @property
    def decisions(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


class GroundTruth:
    """Last access and last harvest time of every page, and the running confusion counts."""

    def __init__(self, nr_pages: int) -> None:
        self.last_access = np.full(nr_pages, -1, dtype=np.int64)
        self.last_harvest = np.full(nr_pages, -1, dtype=np.int64)
        self._tick = 0
        self.total = Confusion()
        self.by_source: dict[str, Confusion] = {}

    @property
    def tick(self) -> int:
        """The logical clock: the stamp the next access or harvest gets."""
        return self._tick

    @tick.setter
    def tick(self, value: int) -> None:
        """Set by compiled kernels that recorded accesses in ``last_access`` themselves."""
        self._tick = value

    def record_access(self, pages: npt.NDArray[np.int64]) -> None:
        self.last_access[pages] = self._tick
        self._tick += 1

    def score(self, pages: npt.NDArray[np.int64], young: npt.NDArray[np.bool_],
              source: str) -> Confusion:
        """Score decisions on ``pages`` (one per page) and mark them harvested now."""
        truth = self.last_access[pages] > self.last_harvest[pages]
        tp = int(np.count_nonzero(young & truth))
        said_young = int(np.count_nonzero(young))
        was_young = int(np.count_nonzero(truth))
        c = Confusion(tp=tp, fp=said_young - tp, fn=was_young - tp,
                      tn=len(truth) - said_young - was_young + tp)
        self.last_harvest[pages] = self._tick
        self._tick += 1
        self.total.add(c)
        mine = self.by_source.get(source)
        if mine is None:
            mine = self.by_source[source] = Confusion()
        mine.add(c)
        return c
