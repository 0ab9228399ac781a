"""The cost model: every nanosecond constant the simulator charges, with its source.

All constants live in :class:`CostConfig` (the ``[costs]`` table of a scenario), so a scenario
can override any of them. Nothing else in the simulator hard-codes a duration. Backends differ by
*mechanism* (which lock a call takes, how many calls a walk makes, which faults happen), never by
a per-backend fudge factor.

Every constant also carries the range its source allows beside its value (``_c(value, lo,
hi, tag, doc)``; :func:`cost_ranges` returns them for the sensitivity passes of
``mglru-sim questions``, and ``mglru-sim list keys`` shows them).

Tags: **[src]** a published measurement (see ``research/patch-series.md`` / ``mglru.md``);
**[derived]** arithmetic on published numbers, shown next to the constant; **[estimate]** an
order-of-magnitude figure with no published source, flagged so that users know to sweep it;
**fit** fitted by ``scripts/calibrate.py``.

The x86 TDP MMU aging constants (``pte_scan_ns``, ``notifier_call_ns``, ``spte_age_ns``,
``mmu_lock_ns``) are the ones the selftest calibration (issue "access_tracking_perf_test
replica") is allowed to fit; everything else follows from mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

TAGS = ("src", "derived", "estimate", "fit")


def _c(value: float, lo: float, hi: float, tag: str, doc: str,
       valid: tuple[float, float] = (0.0, 1e10)) -> Any:
    """A cost field: ``value`` with plausible range ``[lo, hi]`` from source ``tag``.

    ``valid`` is what a scenario may set (checked by the config loader), wider than the
    plausible range on purpose: what-if runs go outside it.
    """
    assert tag in TAGS and lo <= value <= hi, (value, lo, hi, tag)
    return field(default=value, metadata={
        "lo": valid[0], "hi": valid[1], "range": (lo, hi), "tag": tag,
        "doc": f"{doc} (plausible {lo:g}-{hi:g}, {tag})"})


@dataclass(frozen=True, slots=True)
class CostConfig:
    """``[costs]``: every cost constant in nanoseconds; each field's doc is its source."""

    # --- aging walk (mm/vmscan.c walk_pte_range / walk_pmd_range) -------------------------
    pte_scan_ns: float = _c(
        22.6, 10.0, 40.0, "fit",
        "[derived] fitted by scripts/calibrate.py to the v4 table (patch-series §5.4): "
        "read one PTE + get_pte_pfn/get_pfn_folio in walk_pte_range. The lockless -p passes "
        "(1-32 vCPUs) fix only the sum with notifier_call_ns and spte_age_ns (one clear_young "
        "per resident page); the three keep the ratio of their first estimates (4 : 14 : 9)")
    pmd_scan_ns: float = _c(
        2.0, 1.0, 5.0, "estimate",
        "[estimate] one PMD entry read in walk_pmd_range (pmdp_get_lockless)")
    bloom_ns: float = _c(
        5.0, 2.0, 15.0, "estimate",
        "[estimate] hash_ptr + two test_bit/set_bit on a 4 KiB filter (cache-resident)")
    notifier_call_ns: float = _c(
        79.0, 40.0, 120.0, "fit",
        "[derived] fitted by scripts/calibrate.py to the v4 table (patch-series §5.4): "
        "mmu_notifier_clear_young() dispatch: SRCU read + ops call + kvm_handle_hva_range "
        "memslot lookup, outside mmu_lock (scaled with pte_scan_ns)")
    spte_age_ns: float = _c(
        50.8, 20.0, 90.0, "fit",
        "[derived] fitted by scripts/calibrate.py to the v4 table (patch-series §5.4): "
        "TDP MMU walk to the leaf SPTE + test-and-clear of the A bit "
        "(tdp_mmu_clear_spte_bits_atomic), under mmu_lock when aging locks (scaled with "
        "pte_scan_ns)")
    mmu_lock_ns: float = _c(
        3.0, 1.0, 6.0, "derived",
        "[derived] uncontended write_lock+write_unlock of kvm->mmu_lock: v4 1-vCPU "
        "locked vs lockless pass = 1.1x of ~28 ns/page (patch-series §5.4)")
    rmap_walk_ns: float = _c(
        250.0, 100.0, 600.0, "derived",
        "[derived] folio_referenced rmap hop (anon_vma interval tree + "
        "page_vma_mapped_walk + PTL): kswapd profiles put one hop at ~tens of PTE reads "
        "(look-around of 64 PTEs ~ 2% vs rmap 7-8%, mglru.md §7)")
    folio_sort_ns: float = _c(
        20.0, 10.0, 50.0, "estimate",
        "[estimate] sort_folio/isolate_folio list manipulation under lru_lock")
    gen_update_ns: float = _c(
        10.0, 5.0, 30.0, "estimate",
        "[estimate] folio_update_gen cmpxchg on folio->flags + batch size update")
    # --- guest execution ----------------------------------------------------------------
    access_ns: float = _c(
        10.0, 5.0, 20.0, "derived",
        "[derived] a guest memory touch that hits the TLB: the v5 run's 66 ns per "
        "page for writing populated memory (32 vCPUs, patch-series §8) minus tlb_miss_ns")
    tlb_miss_ns: float = _c(
        56.0, 30.0, 80.0, "derived",
        "[derived] two-dimensional page walk on a TLB miss: every page of the 1 GiB "
        "'Writing to populated memory' phase misses the TLB, 66 ns - access_ns")
    fault_first_touch_ns: float = _c(
        3730.0, 3000.0, 4200.0, "fit",
        "[derived] fitted by scripts/calibrate.py to the v4 table (patch-series §5.4): "
        "EPT violation + gup + page allocation + SPTE install with no other vCPU faulting. "
        "With fault_contention_ns a log-space least-squares fit of the 'no aging' column "
        "(0.88 s at 1 vCPU to 8.5 s at 112, 262,144 pages each; rows within -21..+12%) and "
        "of the 2021 'before' row (§5.10)")
    fault_lock_hold_ns: float = _c(
        563.0, 400.0, 700.0, "fit",
        "[derived] fitted by scripts/calibrate.py to the v4 table (patch-series §5.4): "
        "time a fault holds mmu_lock (for read on the TDP MMU and arm64, for write on the "
        "shadow MMU), e.g. kvm_tdp_mmu_map under read_lock. It sets how long write-locked "
        "aging waits for faulting readers: golden-section fit of the write-locked pass times "
        "at 1-32 vCPUs (the speedup of lockless aging, 1.13x at 1 vCPU to 17x at 32, implies "
        "a 400-550 ns hold at every vCPU count in the fast lock model)")
    fault_contention_ns: float = _c(
        252.5, 177.0, 291.0, "fit",
        "[derived] fitted by scripts/calibrate.py to the v4 table (patch-series §5.4) "
        "and the 2021 A/D-disabled baseline (§5.10): extra cost of a fault that takes "
        "mmu_lock, per other vCPU faulting at the same time (atomics on shared cache lines: "
        "mmu_lock and mmap_lock reader counts, memcg and zone counters). The 'no aging' "
        "column grows by ~73 ms per added vCPU; Matlack credits 'less time spent acquiring "
        "the mmu lock in read mode' for his 10x (his row alone gives 177 ns, the v4 column "
        "alone 291 ns: two machines)")
    thp_fault_page_ns: float = _c(
        345.0, 200.0, 700.0, "derived",
        "[derived] a THP first-touch fault zeroes and maps 2 MiB (folio_zero_user): "
        "demand-faulting 2 MiB pages runs at 11.82 GB/s (perf bench mem map, pg-sz=2MB; Ankur "
        "Arora, '[PATCH v4 00/13] x86/mm: Add multi-page clearing', June 2025, AMD) = 177 us "
        "per fault = 345 ns per 4 KiB page; charged for the 511 pages beyond the one "
        "fault_first_touch_ns covers. Plausible 200-700 ns (20-6 GB/s)")
    spte_fault_ns: float = _c(
        2500.0, 1500.0, 3730.0, "estimate",
        "[estimate] an EPT violation on a page the host already maps (another page of "
        "a THP under 4 KiB SPTEs, a page only the host touched): VM exit, hva_to_pfn finding "
        "the present PTE, SPTE install under mmu_lock; fault_first_touch_ns without the page "
        "allocation, zeroing and memcg charge. Plausible 1500-3730 ns")
    fault_access_track_ns: float = _c(
        1084.8, 900.0, 1151.0, "fit",
        "[derived] fitted by scripts/calibrate.py to the 2021 A/D-disabled baseline "
        "(patch-series §5.10): x86 access-tracking fault restored by the lockless "
        "fast_page_fault, 'Writing to idle memory' 0.302 s for 262,144 pages per vCPU "
        "(64 vCPUs) = 1151 ns per page minus access_ns and tlb_miss_ns")
    fault_access_flag_ns: float = _c(
        1150.0, 600.0, 3000.0, "estimate",
        "[estimate] arm64 access-flag fault (handle_access_fault, stage-2 mkyoung "
        "under mmu_lock read): taken equal to the x86 fast fault, no arm64 figure published")
    shadow_rmap_ns: float = _c(
        20.0, 10.0, 60.0, "estimate",
        "[estimate] shadow MMU aging per gfn: memslot rmap head lookup and the "
        "pte_list walk (kvm_rmap_age_gfn_range) on top of the SPTE test-and-clear")
    rmap_lock_ns: float = _c(
        5.0, 3.0, 20.0, "estimate",
        "[estimate] per-rmap lock of lockless shadow-MMU aging (6.15, "
        "kvm_rmap_lock_readonly): one uncontended cmpxchg")
    zap_ns: float = _c(
        300.0, 150.0, 1000.0, "estimate",
        "[estimate] kvm_mmu_notifier_invalidate_range_start for one 4 KiB page: "
        "write lock + zap one leaf SPTE (tdp_mmu_zap_leafs), remote flush excluded")
    swap_in_zram_ns: float = _c(
        15000.0, 8000.0, 30000.0, "estimate",
        "[estimate] swap-in fault from zram: lzo decompress of 4 KiB (~3 us) + "
        "fault, swap cache and rmap work; sweep it")
    swap_out_zram_ns: float = _c(
        5000.0, 3000.0, 10000.0, "estimate",
        "[estimate] kswapd cost to compress and store one 4 KiB page in zram "
        "(lzo1x ~1 GB/s, dominant in Chrome OS kswapd profiles, mglru.md §6.1)")
    swap_in_ssd_ns: float = _c(
        100000.0, 50000.0, 200000.0, "estimate",
        "[estimate] 4 KiB random read from an NVMe SSD plus fault overhead")
    swap_out_ssd_ns: float = _c(
        20000.0, 10000.0, 50000.0, "estimate",
        "[estimate] kswapd share of a 4 KiB swap write (bio submission, batched)")
    tlb_flush_ns: float = _c(
        3000.0, 1000.0, 6000.0, "estimate",
        "[estimate] remote TLB flush broadcast (IPI round trip) paid by the flusher; "
        "no per-flush figure was published (patch-series §8)")
    tlbi_vmid_ns: float = _c(
        1000.0, 300.0, 5000.0, "estimate",
        "[estimate] arm64 kvm_flush_remote_tlbs: __kvm_tlb_flush_vmid, a broadcast "
        "tlbi vmalls12e1is and the DSB that waits for every core (no IPI, no VM exit); no "
        "published figure, plausible 300-5000 ns")
    tlb_flush_vcpu_ns: float = _c(
        1000.0, 450.0, 2000.0, "estimate",
        "[estimate] a running vCPU's share of a remote flush: VM exit for the IPI, "
        "flush, re-entry (the refills are charged as TLB misses)")

    def swap_in_ns(self, device: str) -> float:
        """Swap-in latency for the ``[host] swap`` device."""
        return self.swap_in_zram_ns if device == "zram" else self.swap_in_ssd_ns

    def swap_out_ns(self, device: str) -> float:
        """Reclaimer-side cost of writing one page to the ``[host] swap`` device."""
        return self.swap_out_zram_ns if device == "zram" else self.swap_out_ssd_ns

    def clear_young_ns(self) -> float:
        """One per-page ``clear_young`` notifier call into KVM, lock excluded."""
        return self.notifier_call_ns + self.spte_age_ns


def cost_ranges(costs: CostConfig | None = None) -> dict[str, tuple[float, float, float, str]]:
    """``{name: (value, lo, hi, source tag)}`` for every constant (the values of ``costs``,
    default the committed ones; the ranges are the committed ones)."""
    costs = costs if costs is not None else CostConfig()
    out: dict[str, tuple[float, float, float, str]] = {}
    for f in fields(CostConfig):
        lo, hi = f.metadata["range"]
        out[f.name] = (float(getattr(costs, f.name)), float(lo), float(hi), f.metadata["tag"])
    return out
