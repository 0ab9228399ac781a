"""Tests of ``simulator.mm.debugfs``: the ``/sys/kernel/debug/lru_gen`` format, byte for byte.

Expected text is built with the kernel's own format strings (mm/vmscan.c ``lru_gen_seq_show``,
research/mglru.md §5.2) through Python's ``%`` operator, which accepts and ignores C length
modifiers (``%5hu``, ``%10lu``), and checked against the literal example of §5.2.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.mm.debugfs import lru_gen_show, parse_lru_gen
from simulator.mm.lruvec import Lruvec

MS = 1_000_000


def kernel_text(memcg_id: int, path: str, node: int,
                gens: list[tuple[int, int, int, int]]) -> str:
    """(seq, age_ms, anon, file) per generation, printed the way the kernel does."""
    out = "memcg %5hu %s\n" % (memcg_id, path)  # noqa: UP031 - the kernel's format string
    out += " node %5d\n" % node  # noqa: UP031
    for seq, age, anon, file in gens:
        out += " %10lu %10u" % (seq, age)  # noqa: UP031
        for size in (anon, file):
            out += " %10lu%c" % (size, " ")  # noqa: UP031
        out += "\n"
    return out


def hand_lruvec(min_seq: int, max_seq: int, sizes: dict[int, int], births_ms: dict[int, int]
                ) -> Lruvec:
    lv = Lruvec(1)
    lv.min_seq, lv.max_seq = min_seq, max_seq
    for seq, n in sizes.items():
        lv.nr_pages[seq % 4] = n
    for seq, t in births_ms.items():
        lv.timestamps[seq % 4] = t * MS
    return lv


def test_lru_gen_show_matches_research_example() -> None:
    # research/mglru.md §5.2: root memcg, node 0, max_seq 7, min_seq 4 (anon)
    now_ms = 50_000
    lv = hand_lruvec(4, 7, {4: 0, 5: 1234, 6: 2048, 7: 40960},
                     {4: now_ms - 41000, 5: now_ms - 9000, 6: now_ms - 2900, 7: now_ms - 300})
    expected = (
        "memcg     1 /\n"
        " node     0\n"
        "          4      41000          0           0 \n"
        "          5       9000       1234           0 \n"
        "          6       2900       2048           0 \n"
        "          7        300      40960           0 \n"
    )
    got = lru_gen_show(lv, now_ms * MS)
    assert got == expected
    assert got == kernel_text(1, "/", 0, [(4, 41000, 0, 0), (5, 9000, 1234, 0),
                                          (6, 2900, 2048, 0), (7, 300, 40960, 0)])


def test_lru_gen_show_other_memcg_node_and_two_gens() -> None:
    lv = hand_lruvec(10, 11, {10: 5, 11: 123456789}, {10: 0, 11: 1})
    now_ns = 2_500 * MS + 999_999  # ages are truncated to whole ms
    got = lru_gen_show(lv, now_ns, memcg_id=42, path="/machine.slice/vm0", node=1)
    assert got == kernel_text(42, "/machine.slice/vm0", 1,
                              [(10, 2500, 5, 0), (11, 2499, 123456789, 0)])
    assert got.splitlines()[0] == "memcg    42 /machine.slice/vm0"
    assert got.splitlines()[1] == " node     1"


def test_lru_gen_show_trailing_space_and_widths() -> None:
    lv = hand_lruvec(0, 3, {0: 1, 1: 2, 2: 3, 3: 4}, {0: 0, 1: 0, 2: 0, 3: 0})
    lines = lru_gen_show(lv, 0).splitlines()
    assert len(lines) == 2 + 4
    for line in lines[2:]:
        assert line.endswith(" ")
        assert len(line) == 1 + 10 + 1 + 10 + (1 + 10 + 1) * 2


def test_lru_gen_show_clamps_negative_sizes() -> None:
    # nr_pages is eventually consistent and may be transiently negative: max(size, 0)
    lv = hand_lruvec(2, 3, {2: -5, 3: 7}, {2: 0, 3: 0})
    assert lru_gen_show(lv, 10 * MS) == kernel_text(1, "/", 0, [(2, 10, 0, 0), (3, 10, 7, 0)])


def test_lru_gen_show_real_lruvec() -> None:
    lv = Lruvec(100)
    lv.add_folios(np.arange(30, dtype=np.int64))
    lv.try_to_inc_min_seq()
    lv.inc_max_seq(5 * MS)
    lv.add_folios(np.arange(30, 50, dtype=np.int64))
    text = lru_gen_show(lv, 12 * MS)
    assert text == kernel_text(1, "/", 0, [(2, 12, 30, 0), (3, 12, 20, 0), (4, 7, 0, 0)])


@settings(max_examples=50, deadline=None)
@given(min_seq=st.integers(0, 10**6), n=st.integers(2, 4),
       sizes=st.lists(st.integers(0, 10**9), min_size=4, max_size=4),
       ages=st.lists(st.integers(0, 10**6), min_size=4, max_size=4))
def test_parse_lru_gen_round_trips(min_seq: int, n: int, sizes: list[int],
                                   ages: list[int]) -> None:
    max_seq = min_seq + n - 1
    now_ms = 10**7
    lv = hand_lruvec(min_seq, max_seq,
                     {s: sizes[i] for i, s in enumerate(range(min_seq, max_seq + 1))},
                     {s: now_ms - ages[i] for i, s in enumerate(range(min_seq, max_seq + 1))})
    parsed = parse_lru_gen(lru_gen_show(lv, now_ms * MS))
    assert parsed == {s: (ages[i], sizes[i], 0)
                      for i, s in enumerate(range(min_seq, max_seq + 1))}


def test_parse_lru_gen_reads_file_column() -> None:
    text = kernel_text(1, "/", 0, [(4, 41000, 0, 0), (5, 9000, 1234, 56789)])
    assert parse_lru_gen(text) == {4: (41000, 0, 0), 5: (9000, 1234, 56789)}


@pytest.mark.parametrize("bad", [" 1 2 x 4 \n", " 1 2 3\n", "garbage\n"])
def test_parse_lru_gen_rejects_junk(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_lru_gen("memcg     1 /\n node     0\n" + bad)
