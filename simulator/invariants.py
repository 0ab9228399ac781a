"""Whole-host invariant checks (``sim.check_invariants``; always on in the tests).

Checked after every reclaim step and aging pass: the replacement policy's own bookkeeping
(``ReplacementPolicy.check_invariants``; for MGLRU: 2 ≤ generations ≤ 4, every resident folio
in exactly one generation within [min_seq, max_seq], per-generation counts equal to the folios
in them, no negative counters), page conservation (resident + swapped + never touched = mapped
pages), resident ⇔ present PTE, SPTEs only for present primary PTEs, young bits only on present
entries, and TLB entries only for present SPTEs. A violation raises ``InvariantError`` naming
the simulated time, the invariant and a page.
"""

from __future__ import annotations

import numpy as np

from simulator.host import Guest, HostCore
from simulator.mm.lruvec import InvariantError


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_host(host: HostCore) -> None:
    """Raise InvariantError (with the simulated time) if any invariant is broken."""
    try:
        _check(host)
    except InvariantError as e:
        raise InvariantError(f"t={host.now()} ns: {e}") from None


def _check(host: HostCore) -> None:
    pt = host.pt
    host.policy.check_invariants()
    resident = host.policy.resident_mask()
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
    for guest in host.guests:
        _check_guest(host, guest)


def _check_guest(host: HostCore, g: Guest) -> None:
    pt = host.pt
    sp = g.backend.sptes
    outside = np.ones(len(sp.present), dtype=bool)
    outside[g.region.start:g.region.end] = False
    if np.any(sp.present & outside):
        raise InvariantError(f"{g.name}: page {_first(sp.present & outside)} has an SPTE "
                             "outside the VM's memory")
    if np.any(sp.present & ~pt.present):
        raise InvariantError(f"{g.name}: page {_first(sp.present & ~pt.present)}: SPTE "
                             "present without a present primary PTE")
    if np.any(sp.young & ~sp.present):
        raise InvariantError(f"{g.name}: page {_first(sp.young & ~sp.present)}: SPTE "
                             "young but not present")
    cached = g.tlbs.cached()
    if len(cached) and not np.all(sp.present[cached]):
        raise InvariantError(f"{g.name}: page {int(cached[~sp.present[cached]][0])}: in "
                             "a TLB without a present SPTE")
