"""White-box tests of the aging walk (``simulator.mm.aging``) on small, not-running Machines.

Expected behaviour (research/mglru.md §2.4-§2.7): two-sighting promotion in ``folio_update_gen``;
``walk_pmd_range`` visits only PTE tables in the Bloom filter of ``walk->seq`` unless
``force_scan``; ``walk_pte_range`` carries a table to the next filter iff
``suitable_to_scan``: young * 8 >= total; before 6.12 (``blind``) the walk never calls the
secondary MMU and skips old primary PTEs; since 6.12 (``per_page``) every present PTE of an mm
with notifiers costs one ``clear_young`` call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simulator.config import PAGE_SIZE, scenario_from_dict
from simulator.machine import Machine
from simulator.mm.aging import WalkResult, drain
from simulator.mm.lruvec import lru_gen_from_seq


def host_machine(task_pages: int) -> Machine:
    return Machine(scenario_from_dict({
        "sim": {"duration_ms": 1, "check_invariants": True},
        "host": {"memory": "64MiB"},
        "vm": {"enabled": False},
        "task": {"memory": task_pages * PAGE_SIZE},
    }))


def vm_machine(notifier: str, **vm: Any) -> Machine:
    return Machine(scenario_from_dict({
        "sim": {"duration_ms": 1, "check_invariants": True},
        "host": {"memory": "48MiB"},
        "vm": {"memory": "8MiB", "vcpus": 2, **vm},
        "mglru": {"notifier": notifier},
    }))


def fault_in(m: Machine, pages: np.ndarray) -> None:
    m.mglru().fault_in(pages, np.zeros(len(pages), dtype=bool))


def walk(m: Machine, force_scan: bool = False) -> WalkResult:
    return drain(m.mglru().aging.try_to_inc_max_seq(m.mglru().lruvec.max_seq, force_scan,
                                                    lambda: 0))


def test_walk_promotes_only_on_second_sighting() -> None:
    m = host_machine(1024)
    pages = np.arange(1024, dtype=np.int64)
    fault_in(m, pages)  # fault-in maps young PTEs
    lv, pt = m.mglru().lruvec, m.host.pt
    gen0 = lru_gen_from_seq(2)
    r1 = walk(m)
    assert r1.success and lv.max_seq == 4
    assert (r1.first_sightings, r1.promoted) == (1024, 0)
    assert np.all(lv.refs[pages] == 1) and not lv.workingset.any()
    assert np.all(lv.gen[pages] == gen0)  # no promotion on the first sighting
    assert not pt.young.any()  # ptep_test_and_clear_young
    pt.young[:100] = True
    r2 = walk(m)
    assert (r2.first_sightings, r2.promoted) == (0, 100)
    assert np.all(lv.gen[:100] == lru_gen_from_seq(4))  # the max_seq the walk started at
    assert lv.max_seq == 5
    assert lv.workingset[:100].all() and np.all(lv.refs[:100] == 0)
    assert np.all(lv.gen[100:] == gen0) and np.all(lv.refs[100:] == 1)
    assert r2.stats.leaf_young == 100
    lv.check_invariants()


def test_walk_ignores_stale_seq() -> None:
    m = host_machine(512)
    fault_in(m, np.arange(512, dtype=np.int64))
    walk(m)
    seq = m.mglru().lruvec.max_seq
    gen = m.mglru().aging.try_to_inc_max_seq(seq - 1, False, lambda: 0)  # already aged past it
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert not stop.value.value.success
    assert m.mglru().lruvec.max_seq == seq


def test_bloom_filter_gating_and_force_scan() -> None:
    m = host_machine(5 * 512)
    pt = m.host.pt
    fault_in(m, np.arange(4 * 512, dtype=np.int64))  # table 4 never allocated
    assert pt.table_allocated.tolist() == [True, True, True, True, False]
    pt.young[:] = False
    pt.young[0:512] = True          # table 0: all young        -> suitable
    pt.young[1024:1024 + 64] = True  # table 2: 64 of 512 young  -> 64 * 8 >= 512, suitable
    pt.young[1536:1536 + 63] = True  # table 3: 63 of 512 young  -> 504 < 512, not suitable
    # table 1: no young PTE                                       -> not suitable
    r1 = walk(m)  # first iteration: no filter yet, every allocated table is walked
    assert r1.stats.nonleaf_found == 4
    assert r1.stats.nonleaf_added == 2
    assert r1.stats.leaf_young == 512 + 64 + 63
    # MM_LEAF_TOTAL: 4 * 512 PTEs read, plus 1 for the !pmd_present entry of table 4
    assert r1.stats.leaf_total == 4 * 512 + 1
    pt.young[pt.present] = True
    r2 = walk(m)  # non-force: only the tables carried over (0 and 2)
    assert r2.stats.nonleaf_found == 2
    assert r2.stats.leaf_young == 1024
    assert not pt.young[0:512].any() and not pt.young[1024:1536].any()
    assert pt.young[512:1024].all() and pt.young[1536:2048].all()  # skipped: not harvested
    r3 = walk(m, force_scan=True)  # force_scan: every allocated table
    assert r3.stats.nonleaf_found == 4
    assert r3.stats.leaf_young == 1024
    assert not pt.young.any()
    m.mglru().lruvec.check_invariants()


def test_walk_without_bloom_filter_walks_everything() -> None:
    m = Machine(scenario_from_dict({
        "sim": {"duration_ms": 1, "check_invariants": True}, "host": {"memory": "64MiB"},
        "vm": {"enabled": False},
        "task": {"memory": 2048 * PAGE_SIZE}, "mglru": {"bloom_filter": False}}))
    fault_in(m, np.arange(2048, dtype=np.int64))
    m.host.pt.young[:] = False
    walk(m)
    m.host.pt.young[:] = True
    r = walk(m)
    assert r.stats.nonleaf_found == 4 and r.stats.leaf_young == 2048


def _vm_setup(notifier: str) -> tuple[Machine, np.ndarray, np.ndarray]:
    m = vm_machine(notifier)
    assert m.vms[0].backend is not None
    present = np.arange(2000, dtype=np.int64)  # of 2048 guest pages: 48 never touched
    fault_in(m, present)
    m.vms[0].backend.sptes.map(present, np.zeros(len(present), dtype=bool))
    m.host.pt.young[:] = False                      # primary A bits harvested before
    m.vms[0].backend.sptes.young[:] = False
    rng = np.random.default_rng(3)
    s = np.sort(rng.choice(present, size=300, replace=False))
    m.vms[0].backend.sptes.young[s] = True            # guest touched them: secondary-only young
    m.host.truth.record_access(s)
    return m, present, s


def test_blind_walk_makes_no_calls_and_misses_secondary_young() -> None:
    m, _present, s = _vm_setup("blind")
    r = walk(m)
    assert r.work.notifier_calls == 0
    assert r.stats.leaf_young == 0
    assert r.first_sightings == 0 and r.promoted == 0
    assert not m.mglru().lruvec.refs[s].any()
    assert m.vms[0].backend.sptes.young[s].all()  # never asked, not cleared
    assert (r.confusion.tp, r.confusion.fn, r.confusion.fp) == (0, 300, 0)
    assert r.confusion.tn == 2000 - 300


def test_per_page_walk_one_call_per_present_pte() -> None:
    m, present, s = _vm_setup("per_page")
    r = walk(m)
    assert r.work.notifier_calls == len(present)  # one clear_young per examined present PTE
    assert r.stats.leaf_young == 300
    assert r.first_sightings == 300
    assert np.all(m.mglru().lruvec.refs[s] == 1)
    assert not m.vms[0].backend.sptes.young.any()  # test-and-cleared
    assert (r.confusion.tp, r.confusion.fn, r.confusion.fp) == (300, 0, 0)


def test_per_page_walk_calls_only_present_ptes_of_walked_tables() -> None:
    m = vm_machine("per_page")
    assert m.vms[0].backend is not None
    present = np.arange(2000, dtype=np.int64)  # table 3 holds 464 present PTEs
    fault_in(m, present)
    sp = m.vms[0].backend.sptes
    sp.map(present, np.zeros(len(present), dtype=bool))
    m.host.pt.young[:] = False
    sp.young[:] = False
    sp.young[0:100] = True          # table 0: 100 young -> carried
    sp.young[512:522] = True        # table 1: 10 young  -> 80 < 512, dropped
    sp.young[1024:1088] = True      # table 2: 64 young  -> 512 >= 512, carried
    sp.young[1536:1600] = True      # table 3: 64 young of 512 mapped PTEs -> carried
    r1 = walk(m)
    assert r1.work.notifier_calls == 2000
    assert r1.stats.nonleaf_added == 3
    sp.young[present] = True
    r2 = walk(m)
    assert r2.stats.nonleaf_found == 3
    assert r2.work.notifier_calls == 512 + 512 + 464
    assert sp.young[512:1024].all()  # table 1 was not walked: not asked, not cleared
    assert not sp.young[np.r_[0:512, 1024:2000]].any()


@pytest.mark.parametrize("lock", ["write", "none"])
def test_per_page_walk_lock_mode(lock: str) -> None:
    m = vm_machine("per_page", aging_lock=lock)
    present = np.arange(2048, dtype=np.int64)
    fault_in(m, present)
    assert m.vms[0].backend is not None
    m.vms[0].backend.sptes.map(present, np.zeros(2048, dtype=bool))
    r = walk(m)
    assert r.work.notifier_calls == 2048
    # before 6.15 every clear_young takes mmu_lock for write; lockless aging takes none
    assert r.work.write_locks == (2048 if lock == "write" else 0)
