"""Benchmarks: the ``ci`` regression suite and the ``perf`` suite behind ``mglru-sim bench``.

- :mod:`~simulator.bench.metrics`: what one case records (deterministic outcome metrics,
  performance figures, identity) and running each case in a fresh process;
- :mod:`~simulator.bench.suites`: the ``ci`` suite (``scenarios/ci/*.toml``);
- :mod:`~simulator.bench.perf`: the ``perf`` suite (trace replay against libCacheSim, the aging
  pass over 1M pages, the 64 GiB guest) and its targets;
- :mod:`~simulator.bench.compare`: results, the baseline file and the gating rules;
- :mod:`~simulator.bench.report`: the printed table, Markdown and JSON.

The command itself is :mod:`simulator.cli.bench`; ``docs/performance.md`` is the user guide.
"""

from simulator.bench.compare import (
    BaselineError,
    BenchResults,
    Comparison,
    Row,
    Target,
    compare,
    load_results,
    write_json_atomic,
)
from simulator.bench.metrics import CaseResult, measure_scenario

__all__ = [
    "BaselineError", "BenchResults", "CaseResult", "Comparison", "Row", "Target", "compare",
    "load_results", "measure_scenario", "write_json_atomic",
]
