"""The primary MMU and MGLRU (mm/vmscan.c, mm/workingset.c, mm/rmap.c), vectorised over pages.

Modules: ``constants`` (the kernel's constants), ``pagetable`` (primary PTEs), ``lruvec``
(generations, folio flags, PID counters), ``bloom`` (the aging walk's Bloom filters), ``aging``
(``try_to_inc_max_seq`` / ``walk_mm``), ``eviction`` (``evict_folios`` and
``lru_gen_look_around``), ``workingset`` (shadow tokens and refaults), ``debugfs`` (the
``lru_gen`` file format), ``reclaim`` (``try_to_shrink_lruvec`` and kswapd's priority loop).
"""
