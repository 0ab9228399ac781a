"""Kernel constants that the MGLRU model uses, with where they come from.

Values are those of include/linux/mmzone.h and kernel/bounds.c around v6.15 (research/mglru.md
§1.1). The simulated kernel is "6.15-like": two-sighting promotion (6.14+), the
``*_clear_young_notify`` walkers (6.12+), no TLB flush when aging (6.13+).
"""

from typing import Final

PAGE_SHIFT: Final = 12
PTRS_PER_PTE: Final = 512
"""PTEs per PTE table (x86-64, arm64 with a 4 KiB granule); one table maps one PMD (2 MiB)."""

MIN_NR_GENS: Final = 2
"""Second chance needs at least two generations (mmzone.h)."""
MAX_NR_GENS: Final = 4
"""The generation counter in folio->flags holds gen+1 in [1, 4] (mmzone.h)."""
MAX_NR_TIERS: Final = 4
LRU_REFS_WIDTH: Final = 2
"""kernel/bounds.c: __LRU_REFS_WIDTH = MAX_NR_TIERS - 2."""
MIN_LRU_BATCH: Final = 64
"""BITS_PER_LONG: look-around window, isolation batch, PID noise floor."""
MAX_LRU_BATCH: Final = MIN_LRU_BATCH * 64
"""Scan budget of one scan_folios() and the walker's yield threshold (4096)."""
NR_BLOOM_FILTERS: Final = 2
BLOOM_FILTER_SHIFT: Final = 15
DEF_PRIORITY: Final = 12
NR_HIST_GENS: Final = 1
"""Without CONFIG_LRU_GEN_STATS the PID counters keep one history slot."""
SUITABLE_TO_SCAN_N: Final = 8
"""suitable_to_scan(): clamp(cache_line_size() / sizeof(pte_t), 2, 8) = 64 / 8 on x86 and arm64."""
LRU_MAX_PAGES: Final = 2**31
"""The compiled exact LRU links pages by int32 indices: the index space must stay below this."""
