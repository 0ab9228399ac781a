"""What ``tools/testing/selftests/kvm/lib/lru_gen_util.c`` reads from the ``lru_gen`` file.

The selftest never looks inside the kernel: it prints ``/sys/kernel/debug/lru_gen`` (here
:func:`~simulator.mm.debugfs.lru_gen_show`), parses the ``<gen> <age_ms> <nr_anon> <nr_file>``
lines of its memcg (here :func:`~simulator.mm.debugfs.parse_lru_gen`) and reasons about page
counts per generation. These functions are that reasoning, kept byte-for-byte in spirit:
``lru_gen_sum_memcg_stats_for_gen`` and the 6.16 ``lru_gen_find_generation`` (the first
generation, oldest first, holding *more than* ``pages`` pages, or -1).
"""

from __future__ import annotations

from simulator.mm.debugfs import lru_gen_show, parse_lru_gen
from simulator.mm.lruvec import Lruvec

GenStats = dict[int, tuple[int, int, int]]
"""``{gen: (age_ms, nr_anon, nr_file)}`` of one memcg on one node."""


def read_memcg_stats(lruvec: Lruvec, now_ns: int) -> GenStats:
    """``lru_gen_read_memcg_stats``: the debugfs text of the test memcg, parsed."""
    return parse_lru_gen(lru_gen_show(lruvec, now_ns))


def sum_for_gen(stats: GenStats, gen: int) -> int:
    """``lru_gen_sum_memcg_stats_for_gen``: pages in ``gen`` (every gen if ``gen < 0``)."""
    return sum(anon + file for g, (_, anon, file) in stats.items() if gen < 0 or g == gen)


def find_generation(stats: GenStats, pages: int) -> int:
    """``lru_gen_find_generation``: the oldest generation with more than ``pages`` pages."""
    for gen in sorted(stats):
        if sum_for_gen(stats, gen) > pages:
            return gen
    return -1
