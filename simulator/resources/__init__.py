"""Resource guard: estimate what a command needs before allocating anything, refuse if too big.

- :mod:`.run`: the estimate of one run (every structure that grows with the scenario), and the
  row budget a run enforces while it goes (:class:`~.run.BoundedRows`);
- :mod:`.commands`: the estimates of a sweep's driver, the selftest, ``mrc`` and ``trace
  convert``;
- :mod:`.limits`: the limits an estimate must fit (available memory or ``--max-memory``,
  ``RLIMIT_AS``/``RLIMIT_DATA``, the cgroup's ``memory.max``);
- :mod:`.guard`: refusing with one line (:class:`ResourceError`, exit 2).
"""

from __future__ import annotations

from simulator.resources.commands import (
    mrc_driver_estimate,
    selftest_estimate,
    sweep_driver_bytes,
    text_fields,
    trace_estimate,
    trace_records_bound,
)
from simulator.resources.errors import ResourceError
from simulator.resources.guard import check, check_estimate, check_parallel
from simulator.resources.limits import Limit, available_bytes, cgroup_limit, memory_limits
from simulator.resources.run import (
    BASE_BYTES,
    BoundedRows,
    Estimate,
    estimate,
    estimate_parts,
    pass_rows,
    sample_rows,
)

__all__ = [
    "BASE_BYTES", "BoundedRows", "Estimate", "Limit", "ResourceError", "available_bytes",
    "cgroup_limit", "check", "check_estimate", "check_parallel", "estimate", "estimate_parts",
    "memory_limits", "mrc_driver_estimate", "pass_rows", "sample_rows", "selftest_estimate",
    "sweep_driver_bytes", "text_fields", "trace_estimate", "trace_records_bound",
]
