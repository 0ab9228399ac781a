"""The debugfs ``/sys/kernel/debug/lru_gen`` file, byte for byte (``lru_gen_seq_show``).

Format (mm/vmscan.c, research/mglru.md §5.2): ``"memcg %5hu %s\\n"``, ``" node %5d\\n"``, then
one line per generation from ``evictable_min_seq`` to ``max_seq``: ``" %10lu %10u"`` (seq, age
in ms) and, for anon then file, ``" %10lu%c"`` (pages, a mark that is ``' '`` in this file).
Note the trailing space of every line. The simulated lruvec is anon-only, so the file column is 0.
"""

from __future__ import annotations

import re

from simulator.mm.lruvec import Lruvec, lru_gen_from_seq

NS_PER_MS = 1_000_000


def lru_gen_show(lruvec: Lruvec, now_ns: int, memcg_id: int = 1, path: str = "/",
                 node: int = 0) -> str:
    """The text a ``cat /sys/kernel/debug/lru_gen`` would print for this lruvec."""
    lines = [f"memcg {memcg_id:5d} {path}", f" node {node:5d}"]
    for seq in range(lruvec.min_seq, lruvec.max_seq + 1):
        gen = lru_gen_from_seq(seq)
        age_ms = (now_ns - int(lruvec.timestamps[gen])) // NS_PER_MS
        anon = max(int(lruvec.nr_pages[gen]), 0)
        lines.append(f" {seq:10d} {age_ms:10d} {anon:10d}  {0:10d} ")
    return "\n".join(lines) + "\n"


_GEN_LINE = re.compile(r"^\s+(\d+)\s+(\d+)\s+(-?\d+)\s+(-?\d+)\s*$")


def parse_lru_gen(text: str) -> dict[int, tuple[int, int, int]]:
    """Parse one memcg/node block back into ``{seq: (age_ms, anon, file)}``.

    The same parse ``tools/testing/selftests/kvm/lib/lru_gen_util.c`` does; raises ValueError on
    a line it cannot read.
    """
    gens: dict[int, tuple[int, int, int]] = {}
    for line in text.splitlines():
        if line.startswith("memcg") or line.startswith(" node") or not line.strip():
            continue
        m = _GEN_LINE.match(line)
        if not m:
            raise ValueError(f"unreadable lru_gen line: {line!r}")
        seq, age, anon, file = (int(g) for g in m.groups())
        gens[seq] = (age, anon, file)
    return gens
