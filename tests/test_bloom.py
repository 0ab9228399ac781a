"""Tests of the aging walk's Bloom filters (``simulator.mm.bloom``, mm/vmscan.c)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.mm.bloom import BloomFilters, get_item_key, pmd_item

GOLDEN_RATIO_64 = 0x61C8864680B583EB


def items(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


def test_missing_filter_tests_true() -> None:
    bf = BloomFilters()
    assert bf.test(3, items(1, 2, 3)).tolist() == [True, True, True]
    bf.update(3, items(1))  # no-op on a missing filter
    bf.reset(4)  # allocates filters[0] only
    assert bf.test(5, items(99)).tolist() == [True]  # filters[1] still missing
    assert bf.test(4, items(99)).tolist() == [False]


def test_insert_then_test_true() -> None:
    bf = BloomFilters()
    bf.reset(4)
    its = pmd_item(0, np.arange(100, dtype=np.int64))
    assert not bf.test(4, its[:10]).any()
    bf.update(4, its[:10])
    assert bf.test(4, its[:10]).all()


def test_reset_clears() -> None:
    bf = BloomFilters()
    bf.reset(2)
    its = pmd_item(1, np.arange(50, dtype=np.int64))
    bf.update(2, its)
    assert bf.test(2, its).all()
    bf.reset(2)
    assert not bf.test(2, its).any()
    assert not bf.bits.any()


def test_double_buffering_by_seq_parity() -> None:
    bf = BloomFilters()
    bf.reset(4)
    bf.reset(5)
    its = pmd_item(0, np.arange(20, dtype=np.int64))
    bf.update(5, its)  # walker with walk->seq = 4 inserts into filters[5 % 2]
    assert bf.test(5, its).all()
    assert bf.test(7, its).all()  # same buffer
    assert not bf.test(4, its).any()  # the other buffer is untouched
    assert not bf.test(6, its).any()
    bf.reset(6)  # clears filters[0]: filters[1] keeps its items
    assert bf.test(5, its).all()
    bf.reset(7)
    assert not bf.test(5, its).any()


def test_get_item_key_is_hash_ptr_30() -> None:
    # hash_64(val, 30) = (val * GOLDEN_RATIO_64 mod 2^64) >> 34; key[0] low 15, key[1] high 15
    vals = [0, 1, 0xFFFF888000000000, 0xFFFF888012345678, 2**64 - 1]
    k0, k1 = get_item_key(np.array(vals, dtype=np.uint64))
    for v, a, b in zip(vals, k0.tolist(), k1.tolist(), strict=True):
        h = ((v * GOLDEN_RATIO_64) % 2**64) >> 34
        assert (a, b) == (h & 0x7FFF, h >> 15)


def test_pmd_item_distinct_per_mm_and_table() -> None:
    a = pmd_item(0, np.arange(1000, dtype=np.int64))
    b = pmd_item(1, np.arange(1000, dtype=np.int64))
    assert len(set(a.tolist()) | set(b.tolist())) == 2000
    # PMD entries are 8 bytes apart
    assert int(a[1]) - int(a[0]) == 8


def _fp_rate(n: int, seed: int, kind: str) -> float:
    rng = np.random.default_rng(seed)
    if kind == "random":
        pool = np.unique(rng.integers(0, 2**63, size=3 * n, dtype=np.uint64))
        rng.shuffle(pool)
    else:  # PMD entry addresses of random distinct PTE tables of two mms
        tables = rng.choice(1 << 22, size=3 * n, replace=False).astype(np.int64)
        pool = np.concatenate([pmd_item(0, tables[: 3 * n // 2]),
                               pmd_item(1, tables[3 * n // 2:])])
        rng.shuffle(pool)
    inserted, probe = pool[:n], pool[n:n + 2 * n]
    assert len(np.intersect1d(inserted, probe)) == 0
    bf = BloomFilters()
    bf.reset(0)
    bf.update(0, inserted)
    assert bf.test(0, inserted).all()  # no false negatives
    return float(bf.test(0, probe).mean())


@pytest.mark.parametrize("kind", ["random", "pmd"])
@pytest.mark.parametrize("seed", [1, 2])
def test_false_positive_rate(kind: str, seed: int) -> None:
    # "~1/5 when n=10,000 and ~1/2 when n=20,000" (mm/vmscan.c); theory (1-e^(-2n/m))^2 with
    # m = 2^15: 0.209 and 0.497
    assert 0.12 <= _fp_rate(10_000, seed, kind) <= 0.30
    assert 0.35 <= _fp_rate(20_000, seed, kind) <= 0.65
