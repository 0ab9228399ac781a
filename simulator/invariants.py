"""Whole-machine invariant checks (``sim.check_invariants``; always on in the tests).

Checked after every reclaim step and aging pass: the MGLRU generation bookkeeping
(``Lruvec.check_invariants``: 2 ≤ generations ≤ 4, every resident folio in exactly one
generation within [min_seq, max_seq], per-generation counts equal to the folios in them, no
negative counters), page conservation (resident + swapped + never touched = mapped pages),
resident ⇔ present PTE, SPTEs only for present primary PTEs, young bits only on present
entries, and TLB entries only for present SPTEs. A violation raises ``InvariantError`` naming
the simulated time, the invariant and a page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulator.mm.lruvec import InvariantError

if TYPE_CHECKING:
    from simulator.machine import Machine


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_machine(m: Machine) -> None:
    """Raise InvariantError (with the simulated time) if any invariant is broken."""
    try:
        _check(m)
    except InvariantError as e:
        raise InvariantError(f"t={m.now()} ns: {e}") from None


def _check(m: Machine) -> None:
    pt, lv = m.pt, m.lruvec
    if m.exact_lru is not None:
        resident = np.zeros(pt.nr_pages, dtype=bool)
        resident[m.exact_lru.resident()] = True
        if len(m.exact_lru) > m.exact_lru.capacity:
            raise InvariantError(f"exact LRU holds {len(m.exact_lru)} pages, "
                                 f"capacity {m.exact_lru.capacity}")
    else:
        m.lruvec.check_invariants()
        resident = lv.gen >= 0
    if np.any(resident != pt.present):
        raise InvariantError(f"page {_first(resident != pt.present)}: resident "
                             "but not mapped, or mapped but not resident")
    if np.any(pt.present & pt.swapped):
        raise InvariantError(f"page {_first(pt.present & pt.swapped)}: present and swapped")
    untouched = ~pt.present & ~pt.swapped
    if int(resident.sum() + pt.swapped.sum() + (untouched & pt.mapped).sum()) != int(
            pt.mapped.sum()):
        raise InvariantError("pages not conserved: resident + swapped + never touched != total")
    if np.any(~pt.mapped & (pt.present | pt.swapped)):
        raise InvariantError(f"page {_first(~pt.mapped & (pt.present | pt.swapped))}: "
                             "state outside any mm")
    if np.any(pt.young & ~pt.present):
        raise InvariantError(f"page {_first(pt.young & ~pt.present)}: young but not present")
    for vm in m.vms:
        sp = vm.backend.sptes
        outside = np.ones(len(sp.present), dtype=bool)
        outside[vm.region.start:vm.region.end] = False
        if np.any(sp.present & outside):
            raise InvariantError(f"{vm.name}: page {_first(sp.present & outside)} has an SPTE "
                                 "outside the VM's memory")
        if np.any(sp.present & ~pt.present):
            raise InvariantError(f"{vm.name}: page {_first(sp.present & ~pt.present)}: SPTE "
                                 "present without a present primary PTE")
        if np.any(sp.young & ~sp.present):
            raise InvariantError(f"{vm.name}: page {_first(sp.young & ~sp.present)}: SPTE "
                                 "young but not present")
        cached = vm.tlbs.cached()
        if len(cached) and not np.all(sp.present[cached]):
            raise InvariantError(f"{vm.name}: page {int(cached[~sp.present[cached]][0])}: in "
                                 "a TLB without a present SPTE")
