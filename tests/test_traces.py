"""Trace readers: every format reads back the same records, in any chunk size; corrupt input
is a TraceError naming the file and the line or record; the dense remap is deterministic; the
``trace`` CLI prints one line and exits 2 on bad input."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from simulator.cli import main
from simulator.traces import (
    PageMapBuilder,
    TraceError,
    TraceOptions,
    build_page_map,
    convert_trace,
    count_distinct_pages,
    detect_format,
    open_trace,
    summarize,
)
from simulator.traces.oracle import RECORD
from simulator.traces.samples import CLOUDPHYSICS_TRACE

SHARED_TRACE = CLOUDPHYSICS_TRACE

N = 257
RNG = np.random.default_rng(7)
PAGES = RNG.integers(0, 40, N).astype(np.uint64) * np.uint64(3) + np.uint64(1000)
WRITES = RNG.random(N) < 0.3
STREAMS = RNG.integers(0, 5, N).astype(np.int64)
TIMES = np.arange(N, dtype=np.float64) * 10 + 5


def read_all(path: Path, chunk: int = 1 << 16, **opts: object) -> dict[str, npt.NDArray[
        np.generic] | None]:
    reader = open_trace(path, TraceOptions(**opts))  # type: ignore[arg-type]
    chunks = list(reader.chunks(chunk))
    assert [c.first_record for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks])[
        :-1])

    def cat(name: str) -> npt.NDArray[np.generic] | None:
        parts = [getattr(c, name) for c in chunks]
        return None if parts[0] is None else np.concatenate(parts)

    return {name: cat(name) for name in ("pages", "writes", "streams", "times")}


# --- writers of small files, one per format -----------------------------------------------------
def write_csv(path: Path, header: bool = True) -> Path:
    lines = ["addr,op,tid,ts"] if header else []
    lines += [f"{p},{'w' if w else 'r'},{s},{t:.0f}"
              for p, w, s, t in zip(PAGES, WRITES, STREAMS, TIMES, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_oracle(path: Path) -> Path:
    rec = np.zeros(N, dtype=RECORD)
    rec["id"], rec["ts"], rec["sz"], rec["nv"] = PAGES, TIMES.astype(np.uint32), 4096, -1
    rec.tofile(path)
    return path


def write_lackey(path: Path) -> Path:
    lines = ["==99== Lackey, an example Valgrind tool", "==99== Command: ./prog"]
    for p, w in zip(PAGES, WRITES, strict=True):
        addr = (int(p) << 12) + int(RNG.integers(0, 4096))
        lines.append(f"I  {0x401000 + int(p):08x},3")  # instruction fetches, dropped by default
        lines.append(f" {'S' if w else 'L'} {addr:08x},8")
    lines.append(" M 0421ad40,4")
    lines.append("==99== Exit code: 0")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_structured_npy(path: Path) -> Path:
    arr = np.zeros(N, dtype=[("page", "<u8"), ("write", "?"), ("stream", "<i8"),
                             ("time", "<f8")])
    arr["page"], arr["write"], arr["stream"], arr["time"] = PAGES, WRITES, STREAMS, TIMES
    np.save(path, arr)
    return path


# --- every format reads the same records ------------------------------------------------------
@pytest.mark.parametrize("chunk", [3, 64, 1 << 16])
def test_csv_with_header_names(tmp_path: Path, chunk: int) -> None:
    got = read_all(write_csv(tmp_path / "t.csv"), chunk, column="addr", rw_column="op",
                   stream_column="tid", time_column="ts")
    assert np.array_equal(got["pages"], PAGES)  # type: ignore[arg-type]
    assert np.array_equal(got["writes"], WRITES)  # type: ignore[arg-type]
    assert np.array_equal(got["streams"], STREAMS)  # type: ignore[arg-type]
    assert np.array_equal(got["times"], TIMES)  # type: ignore[arg-type]


def test_csv_without_header_by_index(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", header=False)
    got = read_all(path, 10, column="0", rw_column="1", stream_column="2")
    assert np.array_equal(got["pages"], PAGES)  # type: ignore[arg-type]
    assert np.array_equal(got["writes"], WRITES)  # type: ignore[arg-type]
    assert got["times"] is None
    # auto header detection: the first field is a number, so no header
    assert np.array_equal(read_all(path)["pages"], PAGES)  # type: ignore[arg-type]


def test_csv_byte_addresses_and_tsv(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n" + "".join(f"{int(p) << 12 | 5}\t0\n" for p in PAGES))
    got = read_all(path, 50, addresses=True)
    assert np.array_equal(got["pages"], PAGES)  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk", [1, 13, 1 << 16])
def test_oracle_general(tmp_path: Path, chunk: int) -> None:
    got = read_all(write_oracle(tmp_path / "t.oracleGeneral.bin"), chunk)
    assert np.array_equal(got["pages"], PAGES)  # type: ignore[arg-type]
    assert got["writes"] is None
    assert np.array_equal(got["times"], TIMES.astype(np.uint32))  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk", [1, 5, 1 << 16])
def test_lackey(tmp_path: Path, chunk: int) -> None:
    path = write_lackey(tmp_path / "t.lackey")
    got = read_all(path, chunk)
    assert np.array_equal(got["pages"][:-1], PAGES)  # type: ignore[index]
    assert got["pages"][-1] == 0x0421ad40 >> 12  # type: ignore[index]
    assert np.array_equal(got["writes"][:-1], WRITES)  # type: ignore[index]
    assert bool(got["writes"][-1])  # type: ignore[index]  # M: a load and a store
    with_fetches = read_all(path, chunk, instructions=True)
    assert len(with_fetches["pages"]) == 2 * N + 1  # type: ignore[arg-type]
    assert not with_fetches["writes"][0]  # type: ignore[index]


def test_lackey_crlf_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    path.write_bytes(b"==1== x\r\n L 00001000,4\r\n S 7ff000398,8")
    assert detect_format(path) == "lackey"
    got = read_all(path)
    assert got["pages"].tolist() == [1, 0x7ff000398 >> 12]  # type: ignore[union-attr]
    assert got["writes"].tolist() == [False, True]  # type: ignore[union-attr]


@pytest.mark.parametrize("layout", ["plain", "2d", "structured"])
@pytest.mark.parametrize("chunk", [1, 100, 1 << 16])
def test_npy_layouts(tmp_path: Path, layout: str, chunk: int) -> None:
    path = tmp_path / "t.npy"
    opts: dict[str, object] = {}
    if layout == "plain":
        np.save(path, PAGES.astype(np.int64))
    elif layout == "2d":
        np.save(path, np.stack([STREAMS, PAGES.astype(np.int64), WRITES.astype(np.int64)], 1))
        opts = {"column": "1", "rw_column": "2", "stream_column": "0"}
    else:
        write_structured_npy(path)
    got = read_all(path, chunk, **opts)
    assert np.array_equal(got["pages"], PAGES)  # type: ignore[arg-type]
    if layout != "plain":
        assert np.array_equal(got["writes"], WRITES)  # type: ignore[arg-type]
        assert np.array_equal(got["streams"], STREAMS)  # type: ignore[arg-type]


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_members_stream(tmp_path: Path, compressed: bool) -> None:
    path = tmp_path / "t.npz"
    save = np.savez_compressed if compressed else np.savez
    save(path, pages=PAGES, writes=WRITES, streams=STREAMS)
    for chunk in (1, 50, 1 << 16):
        got = read_all(path, chunk)
        assert np.array_equal(got["pages"], PAGES)  # type: ignore[arg-type]
        assert np.array_equal(got["writes"], WRITES)  # type: ignore[arg-type]
        assert np.array_equal(got["streams"], STREAMS)  # type: ignore[arg-type]
    np.savez(tmp_path / "one.npz", anything=PAGES)
    assert np.array_equal(read_all(tmp_path / "one.npz")["pages"], PAGES)  # type: ignore[arg-type]


def test_detect_format_by_name_and_content(tmp_path: Path) -> None:
    assert detect_format(Path("x.csv")) == "csv"
    assert detect_format(Path("x.npy")) == "npy"
    assert detect_format(Path("x.npz")) == "npz"
    assert detect_format(Path("cloudPhysicsIO.oracleGeneral.bin")) == "oracleGeneral"
    assert detect_format(Path("x.oracleGeneral")) == "oracleGeneral"
    txt = tmp_path / "x.txt"
    txt.write_text("1\n2\n3\n")
    assert detect_format(txt) == "csv"
    assert detect_format(write_lackey(tmp_path / "y.txt")) == "lackey"


# --- corrupt input ------------------------------------------------------------------------
def expect_error(path: Path, *words: str, **opts: object) -> TraceError:
    with pytest.raises(TraceError) as info:
        read_all(path, 16, **opts)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path)), msg
    for w in words:
        assert w in msg, msg
    return info.value


def test_missing_and_empty_files(tmp_path: Path) -> None:
    expect_error(tmp_path / "none.csv", "no such file")
    (tmp_path / "e.bin").write_bytes(b"")
    expect_error(tmp_path / "e.bin", "empty")


def test_truncated_oracle_record(tmp_path: Path) -> None:
    path = write_oracle(tmp_path / "t.bin")
    path.write_bytes(path.read_bytes()[:-5])
    err = expect_error(path, "record 257", "byte offset 6144", "truncated")
    assert err.record == N


def test_truncated_npy(tmp_path: Path) -> None:
    path = tmp_path / "t.npy"
    np.save(path, PAGES)
    path.write_bytes(path.read_bytes()[:-20])
    expect_error(path, "truncated", "record 255")


def test_npy_of_floats_and_negative_ids(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", np.array([1.5, 2.0]))
    expect_error(tmp_path / "f.npy", "integers")
    np.save(tmp_path / "n.npy", np.array([3, 4, -1, 5]))
    expect_error(tmp_path / "n.npy", "record 3", "negative")


def test_bad_npz(tmp_path: Path) -> None:
    (tmp_path / "z.npz").write_bytes(b"PK not a zip")
    expect_error(tmp_path / "z.npz", "npz")
    np.savez(tmp_path / "m.npz", pages=PAGES, writes=WRITES[:10])
    expect_error(tmp_path / "m.npz", "writes")


def test_csv_non_numeric_field_names_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv")
    lines = path.read_text().splitlines()
    lines[100] = "12x,r,1,5"
    path.write_text("\n".join(lines) + "\n")
    err = expect_error(path, "line 101", "'12x'", "addr")
    assert err.line == 101


def test_csv_bad_rw_value_and_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("page,rw\n1,r\n2,maybe\n")
    expect_error(path, "line 3", "maybe", rw_column="rw")
    path.write_text("1\n2\n\n3\n")
    expect_error(path, "line 3")


def test_csv_wrong_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv")
    expect_error(path, "no column 'nope'", "addr, op", column="nope")
    expect_error(path, "does not exist", column="9")
    bare = write_csv(tmp_path / "n.csv", header=False)
    expect_error(bare, "no column 'addr'", column="addr")  # auto: a name implies a header
    expect_error(bare, "no header line", column="addr", header="no")


def test_csv_parser_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('1,2\n3,4\n"5,6\n7,8\n')
    expect_error(path, "EOF inside string")


def test_bad_lackey_line(tmp_path: Path) -> None:
    path = write_lackey(tmp_path / "t.lackey")
    lines = path.read_text().splitlines()
    lines[40] = " L 0422zcac,8"
    path.write_text("\n".join(lines) + "\n")
    expect_error(path, "line 41", "0422zcac")
    lines[40] = "hello from the program"
    path.write_text("\n".join(lines) + "\n")
    expect_error(path, "line 41")
    lines[40] = " L 04222cac,"
    path.write_text("\n".join(lines) + "\n")
    expect_error(path, "line 41")


def test_columns_that_cannot_apply(tmp_path: Path) -> None:
    expect_error(write_oracle(tmp_path / "t.bin"), "no columns", rw_column="x")
    expect_error(write_lackey(tmp_path / "t.lackey"), "no columns", column="1")
    np.save(tmp_path / "p.npy", PAGES)
    expect_error(tmp_path / "p.npy", "1-D", rw_column="write")


# --- summary, dense remap, conversion ------------------------------------------------------------
def test_summary_counts(tmp_path: Path) -> None:
    s = summarize(open_trace(write_csv(tmp_path / "t.csv"),
                             TraceOptions(column="addr", rw_column="op", stream_column="tid",
                                          time_column="ts")))
    assert s.records == N and s.distinct_pages == len(np.unique(PAGES))
    assert s.writes == int(WRITES.sum()) and s.reads == N - s.writes
    assert s.first_time == TIMES[0] and s.last_time == TIMES[-1]
    assert s.stream_values is not None and s.stream_values.tolist() == sorted(set(STREAMS))
    assert count_distinct_pages(write_oracle(tmp_path / "t.bin")) == s.distinct_pages


def test_first_touch_remap_is_deterministic_and_chunk_independent() -> None:
    pages = np.array([50, 7, 50, 9, 7, 1, 50, 2**63 + 5], dtype=np.uint64)
    expect = [0, 1, 0, 2, 1, 3, 0, 4]
    for size in (1, 2, 3, 100):
        m = build_page_map(pages[i:i + size] for i in range(0, len(pages), size))
        assert m.lookup(pages).tolist() == expect
    sorted_map = build_page_map([pages], "sorted")
    assert sorted_map.lookup(pages).tolist() == [3, 1, 3, 2, 1, 0, 3, 4]
    with pytest.raises(KeyError):
        m.lookup(np.array([8], dtype=np.uint64))
    with pytest.raises(ValueError, match="unknown remap order"):
        PageMapBuilder("random")


def test_remap_matches_python_reference_on_random_chunks() -> None:
    rng = np.random.default_rng(3)
    pages = rng.integers(0, 500, 5000).astype(np.uint64)
    ref: dict[int, int] = {}
    for p in pages.tolist():
        ref.setdefault(p, len(ref))
    cuts = np.sort(rng.integers(0, len(pages), 30))
    m = build_page_map(np.split(pages, cuts))
    assert m.lookup(pages).tolist() == [ref[p] for p in pages.tolist()]


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_convert_round_trip(tmp_path: Path, suffix: str) -> None:
    src = open_trace(write_csv(tmp_path / "t.csv"),
                     TraceOptions(column="addr", rw_column="op", stream_column="tid",
                                  time_column="ts"))
    out = tmp_path / f"out{suffix}"
    assert convert_trace(src, out, chunk_records=19) == N
    got = read_all(out, 31)
    assert np.array_equal(got["pages"], PAGES)  # type: ignore[arg-type]
    assert np.array_equal(got["writes"], WRITES)  # type: ignore[arg-type]
    assert np.array_equal(got["streams"], STREAMS)  # type: ignore[arg-type]
    assert np.array_equal(got["times"], TIMES)  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_convert_failure_leaves_nothing(tmp_path: Path) -> None:
    path = write_lackey(tmp_path / "t.lackey")
    path.write_text(path.read_text() + "garbage\n")
    with pytest.raises(TraceError):
        convert_trace(open_trace(path), tmp_path / "o.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.lackey"]
    with pytest.raises(ValueError, match=r"\.npy or \.csv"):
        convert_trace(open_trace(write_oracle(tmp_path / "t.bin")), tmp_path / "o.parquet")


def test_shared_oracle_trace_summary() -> None:
    s = summarize(open_trace(SHARED_TRACE))
    assert (s.format, s.records, s.distinct_pages) == ("oracleGeneral", 113_872, 48_974)


# --- CLI ----------------------------------------------------------------------------------
def test_cli_trace_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "t.csv")
    assert main(["trace", "info", str(path), "--rw-column", "op", "--time-column", "ts",
                 "--reuse"]) == 0
    out = capsys.readouterr().out
    assert f"records          {N}" in out and "distinct pages" in out
    assert f"writes           {int(WRITES.sum())}" in out
    assert "first timestamp  5" in out and "LRU miss ratio" in out


def test_cli_trace_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_oracle(tmp_path / "t.bin")
    assert main(["trace", "convert", str(src), str(tmp_path / "t.npy")]) == 0
    assert f"{N} records" in capsys.readouterr().out
    assert np.array_equal(np.load(tmp_path / "t.npy")["page"], PAGES)


@pytest.mark.parametrize("case", ["truncated", "missing", "bad_csv", "bad_lackey", "suffix"])
def test_cli_bad_trace_is_one_line_exit_2(tmp_path: Path, case: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    if case == "truncated":
        path = write_oracle(tmp_path / "t.bin")
        path.write_bytes(path.read_bytes()[:-1])
        argv = ["trace", "info", str(path)]
    elif case == "missing":
        argv = ["trace", "info", str(tmp_path / "nope.npy")]
    elif case == "bad_csv":
        path = tmp_path / "t.csv"
        path.write_text("1\n2\nx\n")
        argv = ["trace", "convert", str(path), str(tmp_path / "o.npy")]
    elif case == "bad_lackey":
        path = tmp_path / "t.lackey"
        path.write_text(" L 1000,4\n?\n")
        argv = ["trace", "info", str(path)]
    else:
        argv = ["trace", "convert", str(write_oracle(tmp_path / "t.bin")),
                str(tmp_path / "o.txt")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mglru-sim: error: "), captured.err
    assert "Traceback" not in captured.err


# --- a real lackey trace, end to end --------------------------------------------------------------
PROGRAM = r"""
#include <stdlib.h>
int main(void) {
    volatile char *p = malloc(64 << 12);
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < (64 << 12); i += 4096) p[i] += r;
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("cc") is None,
                    reason="needs valgrind and a C compiler (Debian: apt-get install valgrind "
                           "gcc)")
def test_real_lackey_trace_replays(tmp_path: Path) -> None:
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    subprocess.run(["cc", "-O1", "-o", str(tmp_path / "prog"), str(src)], check=True)
    log = tmp_path / "prog.lackey"
    subprocess.run(["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-file={log}",
                    str(tmp_path / "prog")], check=True, capture_output=True, timeout=120)
    s = summarize(open_trace(log))
    assert s.format == "lackey" and s.records > 1000
    assert s.writes is not None and s.writes >= 128  # two stores into each of the 64 pages
    assert s.distinct_pages >= 64
    from simulator.config import WorkloadConfig
    from workloads import make_workload

    w = make_workload(WorkloadConfig(kind="trace", trace=str(log)), s.distinct_pages + 10, 2,
                      np.random.SeedSequence(1))
    pages, writes = w.next_batch(1, s.records)  # more than its half: wraps around
    assert pages.max() < s.distinct_pages and writes.any()


def test_zip_member_that_is_not_an_array(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pages.npy", b"not an array")
    expect_error(path, "not a .npy array")
