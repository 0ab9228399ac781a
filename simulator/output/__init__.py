"""The output layer: every file the simulator writes goes through here.

- :mod:`.atomic`: :func:`atomic_write` (one file: temporary file, fsync, rename) and
  :func:`atomic_folder` (a folder built under a temporary name, renamed once);
- :mod:`.summary`: the one-row run summary, from a run's :class:`~simulator.rundata.RunData`;
- :mod:`.run_folder`: a run's tables (``RunResult``) and its run folder.

Model code never writes files (DESIGN §4); commands and the domain modules that write results
(sweeps, figures, reports, findings, benchmarks, traces) call :func:`atomic_write`. Only the
atomic writers are imported here: they import nothing else of the simulator, so any module can
use them without import cycles (the run folder needs the configuration, which needs the
registries, which include the trace readers, which write through :func:`atomic_write`).
"""

from __future__ import annotations

from simulator.output.atomic import Writer, atomic_folder, atomic_write

__all__ = ["Writer", "atomic_folder", "atomic_write"]
