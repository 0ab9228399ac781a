"""Whole-host invariant checks (``sim.check_invariants``; always on in the tests).

Checked after every reclaim step and aging pass: the replacement policy's own bookkeeping
(``ReplacementPolicy.check_invariants``; for MGLRU: 2 ≤ generations ≤ 4, every resident folio
in exactly one generation within [min_seq, max_seq], per-generation counts equal to the folios
in them, no negative counters), page conservation (resident + swapped + never touched = mapped
pages), resident ⇔ present PTE, SPTEs only for present primary PTEs, young bits only on present
entries, and TLB entries only for present SPTEs.

Large folios (``simulator.mm.folio``): a THP only where its mm allows one, every page of it
present and none swapped, its A and D bits on the head alone (the PMD's); a 2 MiB SPTE only
while the host maps the range with a PMD (``kvm_mmu_max_mapping_level``) and on a backend that
maps 2 MiB, its bits on its first gfn alone, and a TLB entry for it tagged with that gfn. The
policies check that a folio's list state lives on its head and that sizes count its pages.

A violation raises ``InvariantError`` naming the simulated time, the invariant and a page.
"""

from __future__ import annotations

import numpy as np

from simulator.host import Guest, HostCore
from simulator.mm.folio import HPAGE_PMD_NR
from simulator.mm.lruvec import InvariantError
from simulator.mm.pagetable import PageTables


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
    if pt.folios.nr_huge:
        _check_thp(pt)
    for guest in host.guests:
        _check_guest(host, guest)


def _tails(huge: np.ndarray) -> np.ndarray:
    """Per page: a tail of a 2 MiB range marked in ``huge`` (one flag per table)."""
    mask = np.repeat(huge, HPAGE_PMD_NR)
    mask[::HPAGE_PMD_NR] = False
    return mask


def _check_thp(pt: PageTables) -> None:
    huge = pt.folios.huge
    if int(huge.sum()) != pt.folios.nr_huge:
        raise InvariantError(f"{pt.folios.nr_huge} THPs counted, {int(huge.sum())} mapped")
    if np.any(huge & ~pt.thp_ok):
        raise InvariantError(f"table {_first(huge & ~pt.thp_ok)}: a THP where its mm has none "
                             "or the range is not whole")
    pages = np.repeat(huge, HPAGE_PMD_NR)
    if np.any(pages & ~pt.present):
        raise InvariantError(f"page {_first(pages & ~pt.present)}: part of a THP, not present")
    tails = _tails(huge)
    if np.any(tails & (pt.young | pt.dirty)):
        raise InvariantError(f"page {_first(tails & (pt.young | pt.dirty))}: a THP tail with "
                             "its own A or D bit (the PMD's bits live on the head)")


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
    if sp.nr_huge:
        _check_huge_sptes(host, g)
    cached = g.tlbs.cached()
    if len(cached) and not np.all(sp.present[cached] & sp.is_leaf(cached)):
        bad = cached[~(sp.present[cached] & sp.is_leaf(cached))]
        raise InvariantError(f"{g.name}: page {int(bad[0])}: in a TLB without a present SPTE "
                             "of its own (a 2 MiB leaf is cached by its first gfn)")


def _check_huge_sptes(host: HostCore, g: Guest) -> None:
    sp, pt = g.backend.sptes, host.pt
    if not g.backend.maps_2m:
        raise InvariantError(f"{g.name}: a 2 MiB SPTE on {g.backend.name}, which maps 4 KiB")
    if np.any(sp.huge & ~pt.folios.huge):
        raise InvariantError(f"{g.name}: table {_first(sp.huge & ~pt.folios.huge)}: a 2 MiB "
                             "SPTE where the host does not map a PMD")
    if np.any(np.repeat(sp.huge, HPAGE_PMD_NR) & ~sp.present):
        raise InvariantError(f"{g.name}: a 2 MiB SPTE with a gfn not present")
    tails = _tails(sp.huge)
    if np.any(tails & (sp.young | sp.dirty)):
        raise InvariantError(f"{g.name}: page {_first(tails & (sp.young | sp.dirty))}: a "
                             "tail of a 2 MiB SPTE with its own A or D bit")
