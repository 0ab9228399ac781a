"""Fuzzing the trace readers with corrupted bytes: the only outcomes are chunks of valid
records or one TraceError naming the file (never another exception, never a hang)."""

import io
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.traces import TraceError, open_trace

REC = np.dtype([("ts", "<u4"), ("id", "<u8"), ("sz", "<u4"), ("nv", "<i8")])


def _valid(fmt: str) -> bytes:
    ids = np.arange(40, dtype=np.uint64) * 7 % 13
    if fmt == "oracleGeneral":
        rec = np.zeros(len(ids), dtype=REC)
        rec["id"] = ids
        return rec.tobytes()
    if fmt == "csv":
        return ("page,rw\n" + "".join(f"{i},{'W' if i % 2 else 'R'}\n" for i in ids)).encode()
    if fmt == "lackey":
        return "".join(f" {'L' if i % 2 else 'S'} {int(i) * 4096 + 0x400000:08x},8\n"
                       for i in ids).encode()
    buf = io.BytesIO()
    np.save(buf, ids.astype(np.int64))
    return buf.getvalue()


SUFFIX = {"oracleGeneral": ".bin", "csv": ".csv", "lackey": ".lackey", "npy": ".npy"}


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(sorted(SUFFIX)))
    data = bytearray(_valid(fmt))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at:at + draw(st.integers(1, 8))]
    return fmt, bytes(data)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(corrupted())
def test_corrupted_traces_read_or_fail_cleanly(tmp_path: Path, case: tuple[str, bytes]) -> None:
    fmt, data = case
    path = tmp_path / f"t{SUFFIX[fmt]}"
    path.write_bytes(data)
    try:
        reader = open_trace(path)
        total = 0
        for chunk in reader.chunks(7):
            assert chunk.pages.dtype == np.uint64
            assert chunk.writes is None or len(chunk.writes) == len(chunk.pages)
            total += len(chunk)
        assert total >= 0
    except TraceError as e:
        line = str(e)
        assert str(path) in line and "\n" not in line
