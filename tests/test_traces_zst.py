"""``.zst`` traces (as libCacheSim ships them) read like their plain twins, in every reader, and
libCacheSim's format names are accepted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zstandard

from simulator.traces import TraceError, TraceOptions, detect_format, open_trace, summarize

ROOT = Path(__file__).resolve().parents[1]
CLOUDPHYSICS = ROOT / "data" / "cloudPhysicsIO.oracleGeneral.bin"


def _zst(src: Path, dst: Path, *, streamed: bool = False, cut: int = 0) -> Path:
    data = src.read_bytes()[:len(src.read_bytes()) - cut]
    if streamed:  # no content size in the frame header, as `cat x | zstd` writes
        with dst.open("wb") as f, zstandard.ZstdCompressor().stream_writer(f) as w:
            w.write(data)
    else:
        dst.write_bytes(zstandard.ZstdCompressor().compress(data))
    return dst


def _pages(path: Path, fmt: str = "auto", chunk: int = 1000) -> np.ndarray:
    reader = open_trace(path, TraceOptions(format=fmt))
    return np.concatenate([c.pages for c in reader.chunks(chunk)])


def _plain_files(tmp_path: Path) -> list[Path]:
    pages = (np.arange(3000) * 7919) % 211
    csv = tmp_path / "t.csv"
    csv.write_text("page,rw\n" + "".join(f"{p},{'w' if p % 2 else 'r'}\n" for p in pages))
    npy = tmp_path / "t.npy"
    np.save(npy, pages.astype(np.uint64))
    lackey = tmp_path / "t.lackey"
    lackey.write_text("".join(f" L {p << 12:x},8\n" for p in pages))
    oracle = tmp_path / "t.oracleGeneral.bin"
    oracle.write_bytes(CLOUDPHYSICS.read_bytes()[:24 * 5000])
    return [csv, npy, lackey, oracle]


def test_every_reader_reads_zst_like_the_plain_file(tmp_path: Path) -> None:
    for plain in _plain_files(tmp_path):
        packed = _zst(plain, plain.with_name(plain.name + ".zst"))
        assert detect_format(packed) == detect_format(plain)
        np.testing.assert_array_equal(_pages(packed), _pages(plain), err_msg=plain.name)
        assert summarize(open_trace(packed)).records == summarize(open_trace(plain)).records


def test_the_cloudphysics_trace_compressed(tmp_path: Path) -> None:
    packed = _zst(CLOUDPHYSICS, tmp_path / "cloudPhysicsIO.oracleGeneral.bin.zst", streamed=True)
    s = summarize(open_trace(packed))
    assert (s.records, s.distinct_pages) == (113_872, 48_974)


def test_a_truncated_or_corrupt_zst_is_one_clear_error(tmp_path: Path) -> None:
    cut = _zst(CLOUDPHYSICS, tmp_path / "cut.oracleGeneral.bin.zst", cut=5)
    with pytest.raises(TraceError, match=r"record 113872 .*truncated: only 19 of 24 bytes"):
        summarize(open_trace(cut))
    bad = tmp_path / "bad.csv.zst"
    bad.write_bytes(b"not zstd at all\n")
    with pytest.raises(TraceError, match=r"bad\.csv\.zst: not a readable zstd stream"):
        summarize(open_trace(bad))
    npz = tmp_path / "t.npz.zst"
    npz.write_bytes(zstandard.ZstdCompressor().compress(b"PK"))
    with pytest.raises(TraceError, match="compressed already"):
        open_trace(npz)


def test_libcachesim_format_names(tmp_path: Path) -> None:
    oracle = tmp_path / "trace.data"  # a name that says nothing
    oracle.write_bytes(CLOUDPHYSICS.read_bytes()[:24 * 100])
    assert len(_pages(oracle, "oracleGeneralBin")) == 100
    txt = tmp_path / "ids.txt"
    txt.write_text("".join(f"{i % 13}\n" for i in range(50)))
    assert _pages(txt, "txt").tolist() == [i % 13 for i in range(50)]
