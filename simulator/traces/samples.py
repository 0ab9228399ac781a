"""The real trace the repository carries (``data/``) and its published exact-LRU miss ratios.

``data/cloudPhysicsIO.oracleGeneral.bin`` is libCacheSim's CloudPhysics block trace (see
``data/README.md`` for its source and checksum). It is the fixture of every test that checks
replay against published numbers, and the perf benchmark's real trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

CLOUDPHYSICS: Final = "cloudPhysicsIO.oracleGeneral.bin"
DATA_DIR: Final = Path(__file__).resolve().parents[2] / "data"
"""``data/`` of the repository checkout this package was imported from."""
CLOUDPHYSICS_TRACE: Final = DATA_DIR / CLOUDPHYSICS

CLOUDPHYSICS_LRU_MISS_RATIOS: Final = {
    49: 0.902153, 490: 0.837915, 4897: 0.804913, 9795: 0.724770, 19590: 0.632842,
    39179: 0.430299,
}
"""Cache size in pages → exact-LRU miss ratio (Mattson's algorithm, equal to libCacheSim's LRU
at the sizes it was run at), from ``data/README.md``."""
