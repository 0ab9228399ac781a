"""``mglru-sim mrc``: sizes, the one-pass replay, the table and mrc.csv, the LRU self-check
(the machine's exact ``lru`` policy replaying a trace once must equal Mattson), bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.cli import main
from simulator.mattson import lru_miss_ratios
from simulator.mrc import MRC_COLUMNS, base_document, parse_sizes, replay_once, sized_scenario
from simulator.traces.samples import CLOUDPHYSICS_LRU_MISS_RATIOS, CLOUDPHYSICS_TRACE

SHARED_TRACE = CLOUDPHYSICS_TRACE
PUBLISHED = {s: CLOUDPHYSICS_LRU_MISS_RATIOS[s] for s in (4897, 39179)}


@pytest.fixture
def small_trace(tmp_path: Path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(9)
    ranks = np.minimum(rng.zipf(1.2, 3000), 400) - 1
    pages = rng.permutation(10_000)[ranks] * 7 + 3  # sparse ids
    path = tmp_path / "small.npy"
    np.save(path, pages.astype(np.int64))
    return path, pages


def test_parse_sizes() -> None:
    assert parse_sizes("49,490,4897", 48974) == [49, 490, 4897]
    assert parse_sizes("0.001, 0.01,0.1,0.2,0.4,0.8", 48974) == [49, 490, 4897, 9795, 19590,
                                                                    39179]
    assert parse_sizes("100,0.5,100", 1000) == [100, 500]
    assert parse_sizes("0.00001", 1000) == [1]
    for bad in ("", "abc", "0", "-3", "0.0", "nan", "1e30", "1.5", str(2**40 + 1)):
        with pytest.raises(ValueError, match="--sizes"):
            parse_sizes(bad, 1000)
    assert len(parse_sizes(",".join(map(str, range(1, 1001))), 1000)) == 1000
    with pytest.raises(ValueError, match="1,001 sizes; at most 1,000"):
        parse_sizes(",".join(map(str, range(1, 1002))), 1000)


def test_a_million_sizes_are_refused_before_reading(tmp_path: Path,
                                                    small_trace: tuple[Path, np.ndarray],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = small_trace
    sizes = ",".join(map(str, range(1, 10**6 + 1)))
    assert main(["mrc", str(path), "--sizes", sizes, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1,000,000 sizes; at most 1,000" in err
    assert not (tmp_path / "o").exists()


def test_mrc_end_to_end(tmp_path: Path, small_trace: tuple[Path, np.ndarray],
                        capsys: pytest.CaptureFixture[str]) -> None:
    path, pages = small_trace
    distinct = len(np.unique(pages))
    out = tmp_path / "out"
    rc = main(["mrc", str(path), "--sizes", "64,0.5", "--out", str(out), "--jobs", "2"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "cache_pages  lru_miss_ratio  mglru_miss_ratio" in printed
    frame = pd.read_csv(out / "mrc.csv")
    assert tuple(frame.columns) == MRC_COLUMNS
    sizes = [64, round(0.5 * distinct)]
    assert frame["cache_pages"].tolist() == sizes
    assert np.allclose(frame["lru_miss_ratio"], lru_miss_ratios(pages, sizes), atol=5e-7)
    mg = frame["mglru_miss_ratio"].to_numpy()
    cold = distinct / len(pages)
    assert np.all((mg >= cold - 1e-9) & (mg <= 1.0))
    assert mg[0] >= mg[1]  # more memory, fewer misses
    assert (out / "mrc.png").stat().st_size > 0 and (out / "mrc.svg").stat().st_size > 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_lru_policy_replay_equals_mattson(small_trace: tuple[Path, np.ndarray]) -> None:
    """The whole pipeline (trace workload, dense remap, one-pass stop, the machine) under the
    exact lru policy gives Mattson's miss ratio exactly."""
    path, pages = small_trace
    distinct = len(np.unique(pages))
    doc = base_document(path, "auto", ["host.policy=lru"])
    for size in (20, 150):
        r = replay_once(sized_scenario(doc, distinct, size, quantum_set=False), len(pages))
        assert r.accesses == len(pages)
        assert r.miss_ratio == lru_miss_ratios(pages, [size])[0]


def test_shared_trace_lru_replay_reproduces_published_ratios(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sizes = ",".join(str(s) for s in PUBLISHED)
    rc = main(["mrc", str(SHARED_TRACE), "--sizes", sizes, "--out", str(tmp_path), "-j", "2",
               "--set", "host.policy=lru"])
    assert rc == 0, capsys.readouterr().err
    frame = pd.read_csv(tmp_path / "mrc.csv")
    for row in frame.itertuples(index=False):
        assert round(row.lru_miss_ratio, 6) == PUBLISHED[row.cache_pages]
        assert round(row.mglru_miss_ratio, 6) == PUBLISHED[row.cache_pages]


def test_mrc_lru_only(tmp_path: Path, small_trace: tuple[Path, np.ndarray],
                      capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = small_trace
    assert main(["mrc", str(path), "--sizes", "0.1", "--no-mglru", "--out",
                 str(tmp_path)]) == 0
    frame = pd.read_csv(tmp_path / "mrc.csv")
    assert frame["mglru_miss_ratio"].isna().all()


@pytest.mark.parametrize("argv", [
    ["--sizes", "10"],  # the trace below is corrupt
    ["--sizes", "ten"],
    ["--sizes", "10", "--set", "task.workload.nope=1"],
    ["--sizes", "10", "--jobs", "0"],
])
def test_mrc_bad_input_is_one_line_exit_2(tmp_path: Path, argv: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.bin"
    path.write_bytes(b"\0" * 50 if argv == ["--sizes", "10"] else b"\0" * 48)
    assert main(["mrc", str(path), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.splitlines()
    # "mglru-sim mrc: error: argument --jobs..." for options argparse checks
    assert len(err) == 1 and err[0].startswith("mglru-sim") and ": error: " in err[0], err
    assert not (tmp_path / "o").exists()


def test_mrc_missing_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mrc", str(tmp_path / "none.bin"), "--sizes", "1"]) == 2
    assert "no such file" in capsys.readouterr().err
