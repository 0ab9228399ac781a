"""The workload interface and the machinery every generator shares.

A *workload* models what a guest's vCPUs (or the host task) do with memory: an endless stream of
page touches, each a read or a write. The simulator pulls touches in batches (one batch per
vCPU quantum), so a workload is a set of independent *streams*, one per vCPU or host task,
and :meth:`Workload.next_batch` returns the next ``n`` touches of one stream as numpy arrays.

What it models: the page index touched (within a region of ``pages`` pages, of which only
``K = max(1, int(pages * footprint))`` are ever touched) and whether the touch writes.

What it simplifies: a touch is one access to one 4 KiB page; there are no cache lines, no huge
pages, no access sizes, and no timing (``think_ns`` is applied by the simulator, not here).
Whether a touch writes is an independent Bernoulli(``write_fraction``) draw, as in
memstress's ``guest_random_u32() % 100 < write_percent``.

Randomness: every stream owns its own :class:`numpy.random.Generator`, derived from the
workload's :class:`numpy.random.SeedSequence` and the stream index alone (see
:func:`derive_seed`), so a stream's touches depend only on ``(seed, stream)``: never on the
order in which the simulator's processes happen to call the streams, nor on how many streams
exist (except the sequential workload's start offsets, which are defined by the stream count).
The page placement (the ``scatter`` permutation) has its own derived seed, likewise
independent of the number of streams. Pass a seed that nothing else spawns children from.
"""

from __future__ import annotations

import math
import operator
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

PageArray = npt.NDArray[np.int64]
"""Page indices, ``int64``, each in ``[0, pages)``."""

WriteArray = npt.NDArray[np.bool_]
"""Per-touch write flags."""

Batch = tuple[PageArray, WriteArray]

STREAM_KEY = 0
"""``spawn_key`` namespace of the per-stream generators: stream ``i`` uses ``(..., 0, i)``."""

PLACEMENT_KEY = 1
"""``spawn_key`` namespace of the rank->page permutation: ``(..., 1)``."""

PLACEMENT_BYTES_PER_PAGE = 8
"""The ``scatter`` permutation: one ``int64`` per page of the region (its prefix is kept)."""


@runtime_checkable
class Workload(Protocol):
    """A page-access generator with independent per-stream state.

    Registered kinds are :class:`WorkloadKind` subclasses, constructed as
    ``cls(params, pages, streams, seed)`` (the signature the registry in :mod:`workloads`
    relies on), and must be deterministic in ``seed``.
    """

    name: ClassVar[str]
    """Registry key; equals ``[workload] kind`` in a scenario file."""

    description: ClassVar[str]
    """One line for ``mglru-sim list workloads``."""

    pages: int
    """Size of the region the workload indexes into; every page returned is in ``[0, pages)``."""

    def next_batch(self, stream: int, n: int) -> Batch:
        """The next ``n`` touches of ``stream`` (``0 <= stream < streams``).

        Returns ``(pages, writes)``: an ``int64`` array of page indices in ``[0, pages)`` and a
        ``bool`` array, both of length ``n``. Successive calls continue the stream.
        """
        ...


@runtime_checkable
class BatchedWorkload(Protocol):
    """A workload that can hand out ``k`` batches in one call, identical to ``k`` calls of
    ``next_batch`` (used to generate touches ahead for a compiled stretch)."""

    def next_batches(self, stream: int, n: int, k: int) -> Batch:
        """``k`` successive batches of ``n`` touches of ``stream``, concatenated."""
        ...


@runtime_checkable
class LimitedWorkload(Protocol):
    """A workload whose ``next_batch`` has a side effect once it has handed out a number of
    touches (``mglru-sim mrc``'s one-pass limiter stops the run): touches may be generated
    ahead of their time only up to that point."""

    def prefetchable(self, stream: int) -> int:
        """How many touches of ``stream`` may be generated now without the side effect."""
        ...


def next_batches(workload: Workload, stream: int, n: int, k: int) -> Batch:
    """``k`` successive batches of ``n`` touches, concatenated: one call where the workload
    offers it (:class:`BatchedWorkload`), ``k`` calls of ``next_batch`` otherwise."""
    if isinstance(workload, BatchedWorkload):
        return workload.next_batches(stream, n, k)
    parts = [workload.next_batch(stream, n) for _ in range(k)]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.bool_)
    return (np.concatenate([p for p, _ in parts]).astype(np.int64, copy=False),
            np.concatenate([w for _, w in parts]).astype(np.bool_, copy=False))


def prefetchable(workload: Workload, stream: int) -> int | None:
    """Touches of ``stream`` that may be generated ahead (None: no limit)."""
    return workload.prefetchable(stream) if isinstance(workload, LimitedWorkload) else None


def derive_seed(seed: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    """The child of ``seed`` at ``spawn_key + key``, computed statelessly.

    Unlike :meth:`numpy.random.SeedSequence.spawn` this does not advance ``seed``'s child
    counter, so the result depends only on ``(seed.entropy, seed.spawn_key, key)``.
    """
    return np.random.SeedSequence(
        entropy=seed.entropy,
        spawn_key=(*seed.spawn_key, *key),
        pool_size=seed.pool_size,
    )


def stream_generators(seed: np.random.SeedSequence, streams: int) -> list[np.random.Generator]:
    """One independent PCG64 generator per stream, stream ``i`` seeded at ``(STREAM_KEY, i)``."""
    return [np.random.default_rng(derive_seed(seed, STREAM_KEY, i)) for i in range(streams)]


def footprint_size(pages: int, footprint: float) -> int:
    """``K``, the number of distinct pages the workload touches: ``max(1, int(pages * fp))``."""
    return min(pages, max(1, int(pages * footprint)))


def placement(seed: np.random.SeedSequence, pages: int, k: int,
              scatter: bool) -> PageArray | None:
    """The rank->page map: ``None`` for the identity (rank ``r`` -> page ``r - 1``), else the
    first ``k`` entries of a seeded random permutation of the region's ``pages`` pages."""
    if not scatter:
        return None
    rng = np.random.default_rng(derive_seed(seed, PLACEMENT_KEY))
    perm = rng.permutation(pages).astype(np.int64, copy=False)
    # Copy the prefix so the (possibly much larger) full permutation can be freed.
    return perm if k == pages else perm[:k].copy()


class StreamParams(Protocol):
    """What every stream-based kind's parameters have."""

    @property
    def footprint(self) -> float: ...

    @property
    def write_fraction(self) -> float: ...


class RankedParams(StreamParams, Protocol):
    """What every ranked kind's parameters have."""

    @property
    def scatter(self) -> bool: ...


P = TypeVar("P")
T = TypeVar("T")
SP = TypeVar("SP", bound=StreamParams)


class WorkloadTable(Protocol):
    """What a workload is built from: a ``[workload]`` table
    (:class:`simulator.config.WorkloadConfig`, which this package does not import: the
    configuration builds its keys from the workload registry)."""

    @property
    def kind(self) -> str: ...

    def params_as(self, cls: type[T]) -> T:
        """The parameters ``cls`` declares, with the table's values."""
        ...
RP = TypeVar("RP", bound=RankedParams)


class WorkloadKind(Generic[P]):
    """What a registered kind declares besides its touches: its name, one line of
    description, its frozen parameter dataclass (``Params``: the ``[workload]`` keys it reads,
    declared with :func:`simulator.params.param`) and the memory it allocates.

    A kind is constructed as ``cls(params, pages, streams, seed)``, ``params`` an instance of
    its ``Params``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type[Any]]

    pages: int

    def __init__(self, params: P, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        raise NotImplementedError

    def next_batch(self, stream: int, n: int) -> Batch:
        """The next ``n`` touches of ``stream`` (:meth:`Workload.next_batch`)."""
        raise NotImplementedError

    @classmethod
    def memory_bytes(cls, params: P, pages: int, streams: int) -> int:
        """Bytes of the arrays the workload keeps over a region of ``pages`` pages with
        ``streams`` streams (the resource estimate, :mod:`simulator.resources`); arrays of a
        batch's size are not counted."""
        return 0


def check_stream_params(params: StreamParams, pages: int, streams: int) -> None:
    """Range checks for values that did not come through ``load_scenario``. Raises ValueError."""
    if operator.index(pages) < 1:
        raise ValueError(f"a workload needs at least one page, got pages={pages}")
    if operator.index(streams) < 1:
        raise ValueError(f"a workload needs at least one stream, got streams={streams}")
    if not 0.0 < params.footprint <= 1.0:
        raise ValueError(f"workload footprint must be in (0, 1], got {params.footprint!r}")
    if not 0.0 <= params.write_fraction <= 1.0:
        raise ValueError(
            f"workload write_fraction must be in [0, 1], got {params.write_fraction!r}")


def check_theta(theta: float) -> float:
    """``theta`` if it is a finite number >= 0. Raises ValueError."""
    if not (math.isfinite(theta) and theta >= 0.0):
        raise ValueError(f"workload theta must be a finite number >= 0, got {theta!r}")
    return float(theta)


class StreamWorkload(WorkloadKind[SP]):
    """Shared implementation: argument checks, per-stream generators and write flags.

    Subclasses set ``name``/``description``/``Params`` and implement :meth:`_touch`, which
    draws the page indices of one batch (from ``rng`` if random). The write flags are drawn
    afterwards from the same generator, always (even for ``write_fraction`` 0 or 1), so the
    page sequence of a seed does not depend on ``write_fraction``.
    """

    def __init__(self, params: SP, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        check_stream_params(params, pages, streams)
        self.pages: int = int(pages)
        self.streams: int = int(streams)
        self.footprint_pages: int = footprint_size(self.pages, params.footprint)  # K
        self.write_fraction: float = float(params.write_fraction)
        self._rngs = stream_generators(seed, self.streams)

    def next_batch(self, stream: int, n: int) -> Batch:
        stream = operator.index(stream)
        n = operator.index(n)
        if not 0 <= stream < self.streams:
            raise ValueError(f"stream {stream} out of range: this workload has "
                             f"{self.streams} stream(s)")
        if n < 0:
            raise ValueError(f"batch size must be >= 0, got {n}")
        rng = self._rngs[stream]
        touched = self._touch(stream, rng, n)
        writes = rng.random(n) < self.write_fraction
        return touched, writes

    def _touch(self, stream: int, rng: np.random.Generator, n: int) -> PageArray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(pages={self.pages}, "
                f"footprint_pages={self.footprint_pages}, streams={self.streams}, "
                f"write_fraction={self.write_fraction})")


class RankedWorkload(StreamWorkload[RP]):
    """A workload that draws 0-based *ranks* in ``[0, K)`` and places them on pages.

    With ``scatter`` the ranks land on a seeded random permutation of the region (so hot pages
    are spread over page tables, PMDs and Bloom-filter slots as in a real guest); without it
    rank ``r`` (1-based) is page ``r - 1``.
    """

    @classmethod
    def memory_bytes(cls, params: RP, pages: int, streams: int) -> int:
        """The placement permutation (with ``scatter``)."""
        return PLACEMENT_BYTES_PER_PAGE * pages if params.scatter else 0

    def __init__(self, params: RP, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        super().__init__(params, pages, streams, seed)
        self.scatter: bool = bool(params.scatter)
        self._map = placement(seed, self.pages, self.footprint_pages, self.scatter)

    def page_of_rank(self, ranks: npt.ArrayLike) -> PageArray:
        """The pages of 0-based ranks (``0`` is the hottest for zipf). Raises IndexError."""
        r = np.asarray(ranks, dtype=np.int64)
        if r.size and (r.min() < 0 or r.max() >= self.footprint_pages):
            raise IndexError(f"ranks must be in [0, {self.footprint_pages})")
        return r.copy() if self._map is None else self._map[r]

    def _ranks(self, rng: np.random.Generator, n: int) -> PageArray:
        raise NotImplementedError

    def _touch(self, stream: int, rng: np.random.Generator, n: int) -> PageArray:
        ranks = self._ranks(rng, n)
        return ranks if self._map is None else self._map[ranks]


__all__ = [
    "PLACEMENT_BYTES_PER_PAGE",
    "PLACEMENT_KEY",
    "STREAM_KEY",
    "Batch",
    "BatchedWorkload",
    "LimitedWorkload",
    "PageArray",
    "RankedParams",
    "RankedWorkload",
    "StreamParams",
    "StreamWorkload",
    "Workload",
    "WorkloadKind",
    "WorkloadTable",
    "WriteArray",
    "check_stream_params",
    "check_theta",
    "derive_seed",
    "footprint_size",
    "next_batches",
    "placement",
    "prefetchable",
    "stream_generators",
]
