"""The memory estimate of each command that is not one run: a sweep's driver, the selftest,
``mrc`` and ``trace convert``; each counts what grows with its inputs, on top of
:data:`~simulator.resources.run.BASE_BYTES`.
"""

from __future__ import annotations

from pathlib import Path

from simulator.config import Scenario
from simulator.resources.run import BASE_BYTES, FIXED_BYTES, Estimate, estimate

SWEEP_POINT_BYTES = 48 * 2**10
"""Per run of a sweep, in the driver: its validated scenario (≈ 4 KiB), its summary row (≈ 170
values) as a dict, in the table and in the CSV writer."""
PAGE_IDLE_BYTES = 1
"""Per page of the host index space, the selftest's page_idle bitmap (a boolean array)."""
TRACE_RECORD_BYTES = 16
"""Per record of a trace that ``mrc`` holds: its page id in the chunks read and once more in
the array they are joined into (2 × uint64)."""
MATTSON_RECORD_BYTES = 120
"""Per record, Mattson's stack distances at the peak: the dense ids and their sort, previous
and next access, the distances, and the wavelet matrix's levels (measured ≈ 100)."""
MRC_SIZE_BYTES = 256
"""Per cache size asked for: its miss ratios, replay scenario and result."""
PAGE_MAP_BYTES = 120
"""Per distinct page of a trace: the compiled page map's hash table (at most half full: up to
4 slots of key and id, 64 bytes), the old table while it grows, the sorted (key, id) pairs it
is built into (measured peak ≈ 75 bytes a page, with 4 million distinct pages)."""
CHUNK_RECORD_BYTES = 96
"""Per record of one chunk that ``trace convert`` or ``info`` holds: its columns (page, write,
stream, time), the structured array or the CSV text written out."""
CHUNK_FIELD_BYTES = 80
"""Per field of a record of a text trace: the Python string it is parsed into first."""
TEXT_FIELDS = {"csv": 0, "lackey": 4}
"""Fields per record of the text formats (csv: as many as its first line has)."""


def sweep_driver_bytes(points: int) -> int:
    """What a sweep's driver holds for ``points`` runs (besides one interpreter)."""
    return points * SWEEP_POINT_BYTES


def selftest_estimate(sc: Scenario, page_idle: bool) -> Estimate:
    """The selftest's run, and its page_idle bitmap in page_idle mode."""
    est = estimate(sc)
    extra = PAGE_IDLE_BYTES * est.pages if page_idle else 0
    return Estimate(est.bytes + extra, est.pages, {**est.parts, "page_idle": extra})


def mrc_driver_estimate(records: int, sizes: int) -> Estimate:
    """``mrc``'s own process: the trace's page ids, Mattson's pass over them, the sizes."""
    parts = {"base": BASE_BYTES + FIXED_BYTES,
             "trace": TRACE_RECORD_BYTES * records,
             "mattson": MATTSON_RECORD_BYTES * records,
             "sizes": MRC_SIZE_BYTES * sizes}
    return Estimate(sum(parts.values()), 0, parts)


def trace_records_bound(reader: object) -> int:
    """At most how many records a trace holds, without reading one: what the header of a
    binary trace says (``records``), or the lines of a text trace (counted in bounded
    memory)."""
    records = getattr(reader, "records", None)
    if isinstance(records, int):
        return records
    path = Path(getattr(reader, "path", ""))
    lines = 1
    try:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                lines += block.count(b"\n")
    except OSError:
        return 0
    return lines


def trace_estimate(chunk_records: int, fields: int = 0, distinct: int = 0) -> Estimate:
    """``trace convert`` and ``trace info``: one chunk at a time, each record parsed from
    ``fields`` text fields (0 for a binary format), and (info) the page map of at most
    ``distinct`` pages."""
    parts = {"base": BASE_BYTES + FIXED_BYTES,
             "chunk": chunk_records * (CHUNK_RECORD_BYTES + CHUNK_FIELD_BYTES * fields),
             "page_map": PAGE_MAP_BYTES * distinct}
    return Estimate(sum(parts.values()), 0, parts)


def text_fields(reader: object) -> int:
    """The text fields of each record of ``reader``'s trace (0 for a binary format)."""
    fmt = getattr(reader, "format", "")
    fields = TEXT_FIELDS.get(fmt, 0)
    return int(getattr(reader, "fields", fields)) if fmt == "csv" else fields


__all__ = [
    "SWEEP_POINT_BYTES",
    "mrc_driver_estimate",
    "selftest_estimate",
    "sweep_driver_bytes",
    "trace_estimate",
    "trace_records_bound",
]
