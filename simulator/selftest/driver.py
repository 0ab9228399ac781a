"""The phase driver of the ``access_tracking_perf_test`` replica.

Models ``tools/testing/selftests/kvm/access_tracking_perf_test.c`` (6.16) and its
``run_benchmark`` (``-p``) from "[PATCH v7 18/18] KVM: selftests: Add multi-gen LRU aging to
access_tracking_perf_test" (research/patch-series.md §6):

- a VM of ``-v`` vCPUs with ``-b`` bytes each; vCPU ``i`` touches its own slice of guest
  memory in address order (``memstress_guest_code``), or all of it with ``-o``;
- each phase kicks every vCPU off at once and is timed from the kick-off until the last vCPU
  finished its iteration (``run_iteration``), printed as ``"%-30s: %ld.%09lds"``;
- ``lru_gen`` mode marks memory idle with one forced aging pass through debugfs
  (``+ memcg node max_gen 1 1``, :meth:`simulator.machine.Machine.age`) and checks that the
  pages moved to a newer generation (``lru_gen_mark_memory_idle``); ``page_idle`` mode has
  every vCPU thread mark its pages through the page_idle bitmap (:mod:`.page_idle`) and
  checks that fewer than 10 % are still idle (``pageidle_mark_vcpu_memory_idle``);
- ``-p`` populates memory while the main thread ages back to back (``run_benchmark``) and
  reports the slowest vCPU's wall time and the mean aging pass.

All times are simulated nanoseconds. The test's own memcg has no limit, so nothing is
reclaimed and kswapd never runs; the scenario's ``host.memory`` must hold the guest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from simulator.accounting import Work
from simulator.config import (
    PAGE_SIZE,
    ConfigError,
    Scenario,
    apply_overrides,
    parse_override,
    scenario_from_dict,
)
from simulator.machine import Machine
from simulator.mm.constants import PTRS_PER_PTE
from simulator.mm.debugfs import lru_gen_show
from simulator.rundata import RunData
from simulator.selftest.lrugen import find_generation, read_memcg_stats, sum_for_gen
from simulator.selftest.page_idle import PAGE_IDLE_PAGE_NS, MarkCounts, PageIdle

MODES = ("lru_gen", "page_idle")
TABLE_BYTES = PTRS_PER_PTE * PAGE_SIZE
SELFTEST_SOURCE = "selftest"
"""The name ConfigErrors of the selftest's own options carry."""


def phase_line(description: str, ns: int) -> str:
    """``pr_info("%-30s: %ld.%09lds\\n", description, sec, nsec)``, without the newline."""
    return f"{description:<30}: {ns // 10**9}.{ns % 10**9:09d}s"


@dataclass(frozen=True, slots=True)
class SelftestParams:
    """The selftest's command-line options (``-v -b -o -w``, ``-p``, and the aging mode)."""

    vcpus: int = 1
    bytes_per_vcpu: int = 2**30
    overlap: bool = False
    """``-o``: every vCPU walks all of the test memory; only vCPU 0 marks it idle."""
    warn_only: bool = False
    """``-w 1``: too many idle pages is a warning, not a failure."""
    mode: str = "lru_gen"
    benchmark: bool = False
    """``-p``: age back to back while the vCPUs populate memory (v4–v8 series only)."""
    age_during_benchmark: bool = True
    """False runs ``-p`` without the aging loop: the v4 table's "no aging" column."""
    page_idle_ns: float = PAGE_IDLE_PAGE_NS

    @property
    def test_pages(self) -> int:
        """``test_pages``: every vCPU's memory, in 4 KiB guest pages."""
        return self.vcpus * (self.bytes_per_vcpu // PAGE_SIZE)

    @property
    def vcpu_pages(self) -> int:
        """Pages one vCPU touches per iteration (``vcpu_args->pages``)."""
        return self.test_pages if self.overlap else self.bytes_per_vcpu // PAGE_SIZE

    def check(self) -> None:
        """Raise ConfigError for options the selftest would reject."""
        if self.vcpus < 1:
            raise ConfigError(SELFTEST_SOURCE, "-v", "must be a positive number of vCPUs")
        if self.bytes_per_vcpu < PAGE_SIZE or self.bytes_per_vcpu % PAGE_SIZE:
            raise ConfigError(SELFTEST_SOURCE, "-b", "must be a positive multiple of 4KiB")
        if self.mode not in MODES:
            raise ConfigError(SELFTEST_SOURCE, "--mode", f"expected one of {', '.join(MODES)}")
        if self.benchmark and self.mode != "lru_gen":
            raise ConfigError(SELFTEST_SOURCE, "-p", "-p specified without lru_gen mode")


def selftest_scenario(params: SelftestParams, backend: str | None = None,
                      overrides: Sequence[str] = (), seed: int | None = None) -> Scenario:
    """The scenario of one selftest run: a VM of ``-v`` vCPUs and ``-v × -b`` bytes.

    Guest memory is rounded up to whole PTE tables; the guest loop has no think time; the
    memcg holds the whole guest. ``overrides`` are ``--set key=value`` (any scenario key but
    those the options set).
    """
    params.check()
    for text in overrides:
        key, _ = parse_override(text)
        if key in ("vm.vcpus", "vm.memory", "vm.enabled"):
            raise ConfigError("--set", key, "is set by the selftest's -v and -b options")
    guest = -(-params.test_pages * PAGE_SIZE // TABLE_BYTES) * TABLE_BYTES
    doc: dict[str, Any] = {
        "name": "access_tracking",
        "description": "access_tracking_perf_test replica (mglru-sim selftest)",
        "sim": {"lru_gen_snapshots": 0},
        "host": {"memory": guest},
        "vm": {"memory": guest, "vcpus": params.vcpus},
        "mglru": {"aging": "reclaim"},
        # memstress_guest_code: touch one page after the other, nothing in between
        "workload": {"kind": "sequential", "write_fraction": 1.0, "think_ns": 0},
    }
    if backend is not None:
        doc["vm"]["backend"] = backend
    doc = apply_overrides(doc, overrides)
    if seed is not None:
        doc["sim"]["seed"] = seed
    sc = scenario_from_dict(doc, SELFTEST_SOURCE)
    if sc.host.memory < guest:
        raise ConfigError("--set", "host.memory", "the selftest's memcg has no limit: "
                          f"must hold the guest ({guest} bytes)")
    return sc


@dataclass(slots=True)
class Phase:
    """One timed phase."""

    name: str
    ns: int


class SelftestFailure(Exception):
    """A ``TEST_ASSERT`` of the selftest failed; the message is the selftest's."""


@dataclass(slots=True)
class SelftestResult:
    """A finished (or failed) selftest run."""

    params: SelftestParams
    scenario: Scenario
    data: RunData
    lines: list[str] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failure: str | None = None
    vcpu_wall_ns: int | None = None
    aging_passes: int | None = None
    aging_total_ns: int | None = None
    wall_time_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.failure is None

    @property
    def aging_avg_ns(self) -> int | None:
        """``timespec_div(total, passes)``: the mean pass, truncated to whole ns."""
        if not self.aging_passes or self.aging_total_ns is None:
            return None
        return self.aging_total_ns // self.aging_passes


class AccessTracking:
    """One run of the selftest on a fresh :class:`Machine`."""

    def __init__(self, sc: Scenario, params: SelftestParams,
                 emit: Callable[[str], None] | None = None) -> None:
        params.check()
        self.params = params
        self.m = Machine(sc)
        self.lruvec = self.m.mglru().lruvec
        self.vm = self.m.vms[0]
        self.env = self.m.env
        self.quantum = self.vm.cfg.quantum_accesses
        self.page_idle = (PageIdle(self.m.host.pt, self.vm.design.ops, self.m.host.truth)
                          if params.mode == "page_idle" else None)
        self.vcpu_done_ns = np.zeros(params.vcpus, dtype=np.int64)
        self.last_gen = -1
        self._emit = emit
        self.result = SelftestResult(params, sc, self.m.data)

    # --- output ------------------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.result.lines.append(line)
        if self._emit is not None:
            self._emit(line)

    def _phase(self, name: str, ns: int) -> None:
        self.result.phases.append(Phase(name, ns))
        self.emit(phase_line(name, ns))
        self.m.data.lru_gen.append(f"# after {name!r}, t_ns={self.m.now()}\n"
                                   + lru_gen_show(self.lruvec, self.m.now()))

    def _too_many_idle(self, idle: int, total: int, vcpu_idx: int) -> None:
        """``too_many_idle_pages``: fail, or with ``-w`` warn."""
        prefix = f"vCPU{vcpu_idx}: " if vcpu_idx >= 0 else ""
        if not self.params.warn_only:
            raise SelftestFailure(f"{prefix}Too many pages still idle ({idle} out of {total})")
        warning = (f"WARNING: {prefix}Too many pages still idle ({idle} out of {total}), "
                   "this will affect performance results.")
        self.result.warnings.append(warning)
        self.emit(warning)

    # --- run ---------------------------------------------------------------------------------
    def run(self) -> SelftestResult:
        """Run every phase (or the ``-p`` benchmark); failures end the run early."""
        t0 = time.perf_counter()
        main = self.env.process(self._main())
        try:
            self.env.run(until=main)
        except SelftestFailure as e:
            self.result.failure = str(e)
        self.m.finish()
        self.result.wall_time_s = time.perf_counter() - t0
        return self.result

    def _main(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        self.emit(f"Using {p.mode} for aging")
        if p.benchmark:
            yield from self._benchmark()
            return
        self.emit("")
        yield from self._iteration("Populating memory", self._access, True)
        if p.mode == "lru_gen":
            yield from self._initial_aging()
            yield from self._iteration("Re-populating memory", self._access, True)
            self.last_gen = self._find_generation()
        yield from self._iteration("Writing to populated memory", self._access, True)
        yield from self._iteration("Reading from populated memory", self._access, False)
        yield from self._mark_memory_idle()
        yield from self._iteration("Writing to idle memory", self._access, True)
        yield from self._mark_memory_idle()
        yield from self._iteration("Reading from idle memory", self._access, False)

    # --- vCPU iterations ---------------------------------------------------------------------
    def _region(self, v: int) -> tuple[int, int]:
        """Host pages ``[lo, hi)`` vCPU ``v`` touches (``vcpu_args->gva``, ``->pages``)."""
        p = self.params
        lo = self.vm.base + (0 if p.overlap else v * p.vcpu_pages)
        return lo, lo + p.vcpu_pages

    def _iteration(self, name: str,
                   work: Callable[[int, bool], Generator[simpy.Event, Any, None]],
                   arg: bool) -> Generator[simpy.Event, Any, int]:
        """``run_iteration``: kick every vCPU off, wait for all, print the elapsed time."""
        start = self.m.now()
        yield self.env.all_of([self.env.process(work(v, arg))
                               for v in range(self.params.vcpus)])
        ns = self.m.now() - start
        self._phase(name, ns)
        return ns

    def _access(self, v: int, write: bool) -> Generator[simpy.Event, Any, None]:
        """``memstress_guest_code``: touch every page of the region once, in order."""
        lo, hi = self._region(v)
        writes = np.full(self.quantum, write)
        for start in range(lo, hi, self.quantum):
            end = min(start + self.quantum, hi)
            yield from self.vm.quantum(v, np.arange(start, end, dtype=np.int64),
                                       writes[:end - start])
        self.vcpu_done_ns[v] = self.m.now()

    # --- lru_gen -----------------------------------------------------------------------------
    def _age(self) -> Generator[simpy.Event, Any, None]:
        """``lru_gen_do_aging``: one forced aging pass of the test memcg."""
        yield from self.m.age("debugfs", force_scan=True)

    def _initial_aging(self) -> Generator[simpy.Event, Any, None]:
        """The pass that gives every page its first sighting (6.14+ two-sighting rule), so
        later passes always move accessed pages to a newer generation."""
        start = self.m.now()
        yield from self._age()
        stats = read_memcg_stats(self.lruvec, self.m.now())
        total = self.params.test_pages
        if sum_for_gen(stats, -1) < total:
            raise SelftestFailure(f"Not all pages accounted for (looking for {total}). "
                                  "Was the memcg set up correctly?")
        self._phase("Initial aging pass (lru_gen)", self.m.now() - start)

    def _find_generation(self) -> int:
        """``find_generation``: the generation with 90 % of the pages, else (``-w``) 50 %."""
        stats = read_memcg_stats(self.lruvec, self.m.now())
        total = self.params.test_pages
        gen = find_generation(stats, total * 9 // 10)
        if gen >= 0:
            return gen
        if not self.params.warn_only:
            raise SelftestFailure("Could not find a generation with 90% of guest memory "
                                  f"({total * 9 // 10} pages).")
        warning = ("WARNING: Couldn't find a generation with 90% of guest memory. "
                   "Performance results may not be accurate.")
        self.result.warnings.append(warning)
        self.emit(warning)
        gen = find_generation(stats, total // 2)
        if gen < 0:
            raise SelftestFailure("Could not find a generation with 50% of guest memory "
                                  f"({total // 2} pages).")
        return gen

    def _mark_memory_idle(self) -> Generator[simpy.Event, Any, None]:
        if self.page_idle is not None:
            yield from self._iteration("Mark memory idle (page_idle)", self._mark_idle, False)
            return
        # lru_gen_mark_memory_idle: accessed pages must land in a newer generation
        start = self.m.now()
        yield from self._age()
        ns = self.m.now() - start
        new_gen = self._find_generation()
        if new_gen <= self.last_gen:
            stats = read_memcg_stats(self.lruvec, self.m.now())
            idle = sum_for_gen(stats, self.last_gen)
            total = self.params.test_pages
            self._too_many_idle(min(idle, total), total, -1)
        self._phase("Mark memory idle (lru_gen)", ns)
        self.last_gen = new_gen

    # --- page_idle ---------------------------------------------------------------------------
    def _mark_idle(self, v: int, _: bool) -> Generator[simpy.Event, Any, None]:
        """``pageidle_mark_vcpu_memory_idle`` on vCPU ``v``'s thread (vCPU 0 alone with -o)."""
        assert self.page_idle is not None
        if self.params.overlap and v:
            return
        lo, hi = self._region(v)
        counts = MarkCounts()
        for start in range(lo, hi, self.quantum):
            work = Work()
            end = min(start + self.quantum, hi)
            counts.add(self.page_idle.mark(np.arange(start, end, dtype=np.int64), work))
            work.cpu_ns += (end - start) * self.params.page_idle_ns
            yield from self._host_step(v, work)
        pages = hi - lo
        if counts.no_pfn >= pages // 100:
            raise SelftestFailure(f"vCPU {v}: No PFN for {counts.no_pfn} out of {pages} pages.")
        if counts.still_idle >= pages // 10:
            self._too_many_idle(counts.still_idle, pages, -1 if self.params.overlap else v)

    def _host_step(self, actor: int, work: Work) -> Generator[simpy.Event, Any, None]:
        """Time a host thread's step of notifier calls under the backend's aging lock."""
        groups = self.vm.backend.pending.take().groups
        wait = yield from self.vm.lock.step_groups(actor, "aging", work.cpu_ns, groups)
        c = self.m.host.counters
        c.aging_work.add(work)
        c.aging_cpu_ns += work.cpu_ns + wait

    # --- -p ------------------------------------------------------------------------------------
    def _benchmark(self) -> Generator[simpy.Event, Any, None]:
        """``run_benchmark``: age back to back until every vCPU has populated its memory."""
        self.emit("Running lru_gen benchmark...")
        start = self.m.now()
        done = self.env.all_of([self.env.process(self._access(v, True))
                                for v in range(self.params.vcpus)])
        self.emit(f"{'Populating memory (async)':<30}")
        passes = 0
        if self.params.age_during_benchmark:
            while not done.triggered:
                yield from self._age()
                passes += 1
        else:
            yield done
        total = self.m.now() - start
        r = self.result
        r.vcpu_wall_ns = int(self.vcpu_done_ns.max()) - start
        r.aging_passes, r.aging_total_ns = passes, total
        self.emit(phase_line("vcpu wall time", r.vcpu_wall_ns))
        avg = r.aging_avg_ns
        if avg is not None:
            self.emit(f"{phase_line('lru_gen avg pass duration', avg)}, (passes:{passes}, "
                      f"total:{total // 10**9}.{total % 10**9:09d}s)")
