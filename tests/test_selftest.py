"""The ``access_tracking_perf_test`` replica: output format, idle checks, -w, -p, page_idle.

Expected behaviour (the issue "access_tracking_perf_test replica and calibration"): the
selftest's phases in its order, each printed as ``"%-30s: %ld.%09lds"``; in lru_gen mode an
aging pass must move >= 90 % of the pages to a newer generation, else "Too many pages still
idle" and exit 1 (a warning and exit 0 with -w); page_idle mode marks one PFN at a time at the
documented per-page cost; -p prints the slowest vCPU's wall time and the mean aging pass. Sizes
are small (16-64 MiB per vCPU) so the file runs in seconds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from simulator.cli import main
from simulator.selftest import AccessTracking, SelftestParams, selftest_scenario
from simulator.selftest.driver import phase_line
from simulator.selftest.lrugen import find_generation, sum_for_gen
from simulator.selftest.page_idle import PAGE_IDLE_PAGE_NS

PHASE = re.compile(r"^(?P<name>.{30}): (?P<sec>\d+)\.(?P<nsec>\d{9})s$")
LRU_GEN_PHASES = [
    "Populating memory", "Initial aging pass (lru_gen)", "Re-populating memory",
    "Writing to populated memory", "Reading from populated memory",
    "Mark memory idle (lru_gen)", "Writing to idle memory", "Mark memory idle (lru_gen)",
    "Reading from idle memory",
]
PAGE_IDLE_PHASES = [
    "Populating memory", "Writing to populated memory", "Reading from populated memory",
    "Mark memory idle (page_idle)", "Writing to idle memory", "Mark memory idle (page_idle)",
    "Reading from idle memory",
]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["selftest", "access-tracking", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def phases(out: str) -> list[tuple[str, int]]:
    """(name, ns) of every phase line, checking the format of each."""
    found = []
    for line in out.splitlines():
        m = PHASE.match(line)
        if m and not line.startswith(("vcpu wall time", "lru_gen avg")):
            found.append((m["name"].rstrip(), int(m["sec"]) * 10**9 + int(m["nsec"])))
    return found


def test_phase_line_is_the_selftest_format() -> None:
    assert phase_line("Populating memory", 1_073_741_824) == \
        "Populating memory             : 1.073741824s"
    assert phase_line("x", 5) == "x" + " " * 29 + ": 0.000000005s"
    # a description longer than 30 characters is not cut, as with printf
    assert phase_line("y" * 31, 10**9).startswith("y" * 31 + ": 1.000000000s")


def test_done_when_example_prints_every_phase_and_passes(
        capsys: pytest.CaptureFixture[str]) -> None:
    """``mglru-sim selftest access-tracking -v 4 -b 64M`` on x86_tdp (the issue's example)."""
    rc, out, err = run_cli(capsys, "-v", "4", "-b", "64M", "--no-out")
    assert rc == 0, err
    assert out.splitlines()[0] == "Using lru_gen for aging"
    got = phases(out)
    assert [name for name, _ in got] == LRU_GEN_PHASES
    assert all(ns > 0 for _, ns in got)
    assert "Too many pages still idle" not in out + err


def test_every_phase_line_matches_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "-v", "2", "-b", "16M", "--no-out")
    assert rc == 0
    lines = [line for line in out.splitlines() if ": " in line]
    assert lines and all(PHASE.match(line) for line in lines), lines


@pytest.mark.parametrize("blind", ["mglru.notifier=blind", "mglru.walk_mmu=false"])
def test_aging_blind_to_guest_accesses_fails(capsys: pytest.CaptureFixture[str],
                                             blind: str) -> None:
    """Without consulting KVM (pre-6.12 ``blind``) or without the walk, accessed pages stay
    in their generation: the check fails with the selftest's message and exit status 1."""
    rc, out, err = run_cli(capsys, "-v", "2", "-b", "16M", "--set", blind, "--no-out")
    assert rc == 1
    assert "Too many pages still idle (8192 out of 8192)" in err
    names = [name for name, _ in phases(out)]
    assert "Mark memory idle (lru_gen)" not in names  # the test stops at the failed assert
    assert names[-1] == "Reading from populated memory"


def test_warn_only_turns_the_failure_into_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "-v", "2", "-b", "16M", "--set", "mglru.notifier=blind",
                           "-w", "--no-out")
    assert rc == 0, err
    assert "WARNING: Too many pages still idle (8192 out of 8192), this will affect " \
        "performance results." in out
    assert [name for name, _ in phases(out)] == LRU_GEN_PHASES


def test_p_prints_vcpu_wall_and_mean_pass(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "-v", "2", "-b", "16M", "-p", "--no-out")
    assert rc == 0
    lines = out.splitlines()
    wall = [line for line in lines if line.startswith("vcpu wall time")]
    avg = [line for line in lines if line.startswith("lru_gen avg pass duration")]
    assert len(wall) == 1 and PHASE.match(wall[0])
    m = re.fullmatch(r"lru_gen avg pass duration     : (\d+)\.(\d{9})s, "
                     r"\(passes:(\d+), total:(\d+)\.(\d{9})s\)", avg[0])
    assert m, avg
    mean = int(m[1]) * 10**9 + int(m[2])
    passes = int(m[3])
    total = int(m[4]) * 10**9 + int(m[5])
    assert passes >= 2
    assert mean == total // passes  # timespec_div truncates
    w = PHASE.match(wall[0])
    assert w is not None
    vcpu_wall = int(w["sec"]) * 10**9 + int(w["nsec"])
    # aging loops until every vCPU is done: the last pass ends after the slowest vCPU
    assert total >= vcpu_wall


def test_p_requires_lru_gen_mode(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "-p", "--mode", "page_idle", "--no-out")
    assert rc == 2 and "-p" in err


def test_page_idle_mode_runs_and_charges_the_bitmap_path(
        capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "-v", "2", "-b", "16M", "--mode", "page_idle", "--no-out")
    assert rc == 0, err
    assert out.splitlines()[0] == "Using page_idle for aging"
    got = dict(phases(out))
    assert [name for name, _ in phases(out)] == PAGE_IDLE_PHASES
    # each vCPU thread marks its 4096 pages one PFN at a time, in parallel; the clear_young
    # calls (two per page in the second marking) add well under 5 %
    mark = got["Mark memory idle (page_idle)"]
    assert 4096 * PAGE_IDLE_PAGE_NS <= mark <= 4096 * PAGE_IDLE_PAGE_NS * 1.05


def test_page_idle_consults_kvm_whatever_the_mglru_design(
        capsys: pytest.CaptureFixture[str]) -> None:
    """page_idle calls ptep_clear_young_notify itself, so a blind MGLRU does not matter."""
    rc, _, err = run_cli(capsys, "-v", "2", "-b", "16M", "--mode", "page_idle",
                         "--set", "mglru.notifier=blind", "--no-out")
    assert rc == 0, err


def test_page_idle_fails_when_the_tlb_hides_accesses(capsys: pytest.CaptureFixture[str]) -> None:
    """The selftest's stated limit: no TLB flush when clearing A bits, so with a region that
    fits in the TLB the guest's writes set no A bit and the pages stay idle."""
    rc, _, err = run_cli(capsys, "-v", "1", "-b", "4M", "--mode", "page_idle",
                         "--set", "vm.tlb_entries=4096", "--set", "vm.tlb_ways=4096",
                         "--no-out")
    assert rc == 1
    assert re.search(r"vCPU0: Too many pages still idle \(\d+ out of 1024\)", err), err


def test_overlap_every_vcpu_touches_everything() -> None:
    params = SelftestParams(vcpus=2, bytes_per_vcpu=16 << 20, overlap=True, mode="page_idle")
    test = AccessTracking(selftest_scenario(params), params)
    r = test.run()
    assert r.passed
    c = test.m.host.counters
    pages = params.test_pages
    # 5 access phases, each vCPU touching all of the test memory; populating faults each once
    assert c.accesses == 5 * 2 * pages
    assert c.faults_first_touch == pages
    # only vCPU 0 marks idle: one notifier call per page in the first marking; in the second
    # one a call to re-check each marked page and one to mark it again, except for the
    # few still idle (their accesses hit a cached translation, no A bit: no TLB flush)
    calls = c.aging_work.notifier_calls
    assert 3 * pages - pages // 10 < calls <= 3 * pages


def test_the_phase_timing_is_the_slowest_vcpu() -> None:
    params = SelftestParams(vcpus=3, bytes_per_vcpu=16 << 20)
    r = AccessTracking(selftest_scenario(params), params).run()
    populate = next(p for p in r.phases if p.name == "Populating memory").ns
    # three vCPUs fault 4096 pages each at the same time; contention makes each fault dearer:
    # each of a fault's seven shared-line atomics (mmap_lock 4, mmu_lock 2, kvm->stat 1) waits
    # at most for the other two vCPUs' and takes the line from the farthest CPU
    c = selftest_scenario(params).costs
    per_page = c.access_ns + c.fault_first_touch_ns
    assert populate >= 4096 * per_page
    assert populate <= 4096 * (per_page + 7 * 3 * c.line_other_socket_ns) * 1.05


def test_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "-v", "2", "-b", "16M", "--out", str(tmp_path))
    assert rc == 0
    folder = Path(out.splitlines()[-1].split("run folder: ")[1])
    assert folder.parent == tmp_path / "access_tracking"
    names = {p.name for p in folder.iterdir()}
    assert {"summary.json", "summary.csv", "passes.csv", "timeseries.csv", "lru_gen.txt",
            "config.toml", "phases.csv", "output.txt", ".complete"} <= names
    assert not [p for p in tmp_path.rglob(".*") if p.is_dir()]  # no staging left behind
    ph = pd.read_csv(folder / "phases.csv")
    assert list(ph.columns) == ["run_id", "phase", "seconds", "ns"]
    assert (ph["run_id"] == folder.name).all()
    assert list(ph["phase"]) == LRU_GEN_PHASES
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["selftest_passed"] is True and summary["vcpus"] == 2
    assert summary["phase_populating_memory_ns"] == int(ph["ns"].iloc[0])
    assert len(pd.read_csv(folder / "passes.csv")) == 3  # initial + two marks
    assert (folder / "output.txt").read_text().startswith("Using lru_gen for aging")


def test_failed_run_still_writes_its_folder(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, _ = run_cli(capsys, "-v", "1", "-b", "16M", "--set", "mglru.notifier=blind",
                       "--out", str(tmp_path))
    assert rc == 1
    [summary] = list(tmp_path.rglob("summary.json"))
    data = json.loads(summary.read_text())
    assert data["selftest_passed"] is False
    assert data["selftest_failure"].startswith("Too many pages still idle")


@pytest.mark.parametrize("args", [["-b", "3K"], ["-b", "lots"], ["-v", "0"],
                                  ["--set", "vm.vcpus=3"], ["--set", "host.memory=1M"]])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                          args: list[str]) -> None:
    rc, _, err = run_cli(capsys, *args, "--no-out")
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_other_backends_run(capsys: pytest.CaptureFixture[str]) -> None:
    for backend in ("x86_tdp_noad", "x86_shadow", "arm64", "generic"):
        rc, out, err = run_cli(capsys, "-v", "2", "-b", "16M", "--backend", backend, "--no-out")
        assert rc == 0, (backend, err)
        assert len(phases(out)) == len(LRU_GEN_PHASES)


def test_find_generation_is_lru_gen_util() -> None:
    stats = {4: (900, 10, 0), 5: (500, 880, 0), 6: (10, 110, 0)}
    assert sum_for_gen(stats, -1) == 1000 and sum_for_gen(stats, 5) == 880
    assert find_generation(stats, 1000 * 9 // 10) == -1   # strictly more than 900
    assert find_generation(stats, 500) == 5
    assert find_generation(stats, 5) == 4                 # the oldest that qualifies
