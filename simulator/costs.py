"""The cost model: every constant the simulator charges, with its source and plausible range.

All constants live in :class:`CostConfig` (the ``[costs]`` table of a scenario), so a scenario
can override any of them. Nothing else in the simulator hard-codes a duration. Backends differ by
*mechanism* (which lock a call takes, how a call walks its range, which faults happen) and by
the constants of their own walker, never by a per-backend fudge factor.

Every constant carries, beside its value, the range its source allows (a measurement's spread,
an estimate's factor) and a source tag: **src** a published measurement, **derived** arithmetic
on published numbers or kernel code (instruction and cache-miss counts), **estimate** an
order-of-magnitude figure with no published source, **fit** fitted by ``scripts/calibrate.py``
to the x86 TDP MMU runs (patch-series §5.4, §5.10; ``docs/calibration.md``), the range then
being where the fit's sensitivity analysis and the derivation put it. :func:`cost_ranges`
returns them all, machine-readable, for sensitivity passes; ``mglru-sim list keys`` shows them.
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
    """``[costs]``: every cost constant (ns unless stated); each field's doc is its source."""

    # --- aging walk (mm/vmscan.c walk_pte_range / walk_pmd_range) -------------------------
    pte_scan_ns: float = _c(
        30.3, 13.0, 45.0, "fit",
        "one PTE in walk_pte_range: read, get_pte_pfn/get_pfn_folio, ptep_test_and_clear_young "
        "and folio_update_gen for a young one; derived 20, scaled x1.52 by scripts/calibrate.py "
        "together with notifier_call_ns, tdp_descend_ns and tdp_young_ns: the v4 lockless "
        "passes (one clear_young per resident page) identify only their sum (227 ns; the "
        "range is where the split can go, docs/calibration.md §4)")
    pmd_scan_ns: float = _c(
        2.0, 1.0, 5.0, "estimate", "one PMD entry read in walk_pmd_range (pmdp_get_lockless)")
    bloom_ns: float = _c(
        5.0, 2.0, 15.0, "estimate",
        "hash_ptr + two test_bit/set_bit on a 4 KiB filter (cache-resident)")
    rmap_walk_ns: float = _c(
        250.0, 100.0, 600.0, "derived",
        "folio_referenced rmap hop (anon_vma interval tree + page_vma_mapped_walk + PTL): "
        "kswapd profiles put one hop at ~tens of PTE reads (look-around of 64 PTEs ~ 2% vs "
        "rmap 7-8%, mglru.md §7)")
    folio_sort_ns: float = _c(
        20.0, 10.0, 50.0, "estimate", "sort_folio/isolate_folio list manipulation under lru_lock")
    gen_update_ns: float = _c(
        10.0, 5.0, 30.0, "estimate", "folio_update_gen cmpxchg on folio->flags + batch update")
    # --- guest execution ----------------------------------------------------------------
    access_ns: float = _c(
        10.0, 5.0, 20.0, "derived",
        "a guest memory touch that hits the TLB: the v5 run's 66 ns per page for writing "
        "populated memory (32 vCPUs, patch-series §8) minus tlb_miss_ns")
    tlb_miss_ns: float = _c(
        56.0, 30.0, 80.0, "derived",
        "two-dimensional page walk on a TLB miss: every page of the 1 GiB 'Writing to "
        "populated memory' phase misses the TLB, 66 ns - access_ns")
    # --- the fault path ---------------------------------------------------------------------
    fault_first_touch_ns: float = _c(
        3903.0, 3660.0, 4195.0, "fit",
        "CPU time of a first-touch fault with nobody else faulting (EPT violation, GUP, page "
        "allocation and clearing, SPTE install), shared-line transfers and lock waits "
        "excluded (the lock model adds them): least squares in log space over the v4 'no "
        "aging' walls (0.88 s at 1 vCPU to 8.5 s at 112 for 262,144 faults each); the range "
        "is the leave-one-out spread")
    fault_gup_ns: float = _c(
        1200.0, 600.0, 2500.0, "estimate",
        "the part of a first-touch fault between mmap_read_lock and mmap_read_unlock in "
        "hva_to_pfn_slow (get_user_pages_unlocked: page allocation, clear_page of 4 KiB, "
        "memcg charge, rmap, LRU batch); sets how often another CPU takes mmap_lock's line "
        "between the two atomics")
    fault_lock_hold_ns: float = _c(
        225.0, 200.0, 272.0, "fit",
        "CPU time a fault holds mmu_lock (kvm_tdp_mmu_map under read_lock on the TDP MMU and "
        "arm64; under write_lock on the shadow MMU), its line transfers excluded: least "
        "squares in log space over the v4 write-locked passes at 1-112 vCPUs (a first "
        "estimate 100-250 ns of kvm_tdp_mmu_map instructions); the range is the leave-one-out "
        "spread")
    thp_fault_page_ns: float = _c(
        345.0, 200.0, 700.0, "derived",
        "a THP first-touch fault zeroes and maps 2 MiB (folio_zero_user): demand-faulting "
        "2 MiB pages runs at 11.82 GB/s (perf bench mem map, pg-sz=2MB; Ankur Arora, '[PATCH "
        "v4 00/13] x86/mm: Add multi-page clearing', June 2025, AMD) = 177 us per fault = 345 "
        "ns per 4 KiB page; charged for the 511 pages beyond the one fault_first_touch_ns "
        "covers; the range is 20-6 GB/s")
    spte_fault_ns: float = _c(
        2500.0, 1500.0, 3903.0, "estimate",
        "an EPT violation on a page the host already maps (another page of a THP under 4 KiB "
        "SPTEs, a page only the host touched): VM exit, hva_to_pfn finding the present PTE, "
        "SPTE install under mmu_lock; fault_first_touch_ns without the page allocation, "
        "zeroing and memcg charge")
    fault_access_track_ns: float = _c(
        956.9, 855.0, 1085.0, "fit",
        "x86 access-tracking fault restored by the lockless fast_page_fault: the 2021 "
        "A/D-disabled 'Writing to idle memory' 0.302 s for 262,144 pages per vCPU (64 "
        "vCPUs, patch-series §5.10) = 1151 ns per page, over the SMT stretch of 64 busy "
        "threads on 56 cores (1.125), minus access_ns and tlb_miss_ns; the range is "
        "smt_corun_factor's (1.2-2.0) and no sharing at all")
    fault_access_flag_ns: float = _c(
        1150.0, 600.0, 3000.0, "estimate",
        "arm64 access-flag fault (handle_access_fault: kvm_pgtable_stage2_mkyoung under "
        "mmu_lock read): no arm64 figure published; the x86 fast fault's order, with a "
        "stage-2 walk and an exception round trip instead of an EPT violation exit")
    # --- cache-line transfers (simulator.kvm.topology, simulator.kvm.lines) ------------------
    line_self_ns: float = _c(
        7.0, 5.0, 10.0, "src",
        "a locked RMW on a line the CPU already owns: concurrency-hierarchy-bench 1-thread "
        "atomic add, Skylake 7.0, Neoverse N1 5.3 (hardware-round2 B.2)")
    line_smt_ns: float = _c(
        7.5, 5.3, 10.1, "src",
        "line transfer between SMT siblings, CAS ping-pong one way: nviennot/core-to-core-"
        "latency 7.4 (Gold 6242), 7.6 (8275CL), 8.0 (8375C, 7742), 9.8 (7R13), 5.3 (7950X)")
    line_same_llc_ns: float = _c(
        48.0, 43.6, 55.6, "src",
        "line transfer between cores sharing a last-level cache, CAS one way; on Cascade Lake "
        "the whole socket's mesh: nviennot 8275CL 46.6 (p10-p90 43.6-50.9), Gold 6242 48.0; "
        "MLC local HITM 49.3 (6240), 55.6 (CSIT)")
    line_same_socket_ns: float = _c(
        48.0, 43.6, 55.6, "src",
        "line transfer between last-level caches of one socket (AMD CCX to CCX); Cascade "
        "Lake has one LLC per socket, so the same value as line_same_llc_ns")
    line_other_socket_ns: float = _c(
        138.0, 113.0, 178.0, "src",
        "line transfer between two Cascade Lake sockets, CAS one way: nviennot 8275CL 134, "
        "Gold 6242 141; MLC remote HITM 113-114 (6240), 115.6-178.2 (CSIT CLX)")
    smt_corun_factor: float = _c(
        1.5, 1.2, 2.0, "estimate",
        "factor (not ns) by which a thread's CPU work slows while its SMT sibling runs "
        "another busy thread: Intel's 'up to 30% more throughput' from Hyper-Threading "
        "implies ~0.65 of solo speed per thread", valid=(1.0, 10.0))
    # --- KVM aging, common to every backend (virt/kvm/kvm_main.c) -----------------------------
    notifier_call_ns: float = _c(
        106.1, 54.0, 165.0, "fit",
        "one aging notifier call before the arch handler: __mmu_notifier_clear_young (SRCU, "
        "subscription walk, indirect call), kvm_handle_hva_range (SRCU, interval-tree memslot "
        "lookup, the kvm_gfn_range). The same generic code for every backend, hence one "
        "constant. Derived 70 [30-120], scaled with pte_scan_ns")
    mmu_lock_ns: float = _c(
        2.0, 0.5, 5.0, "estimate",
        "instructions of write_lock+write_unlock around the lock word's atomics (preempt "
        "count, lockdep off); the atomics themselves are line accesses the lock model charges")
    # --- x86 TDP MMU (arch/x86/kvm/mmu/tdp_mmu.c), A/D and A/D-disabled ---------------------
    tdp_descend_ns: float = _c(
        37.9, 13.0, 90.0, "fit",
        "__kvm_tdp_mmu_age_gfn_range: per call and root, tdp_iter_start's walk from the root "
        "to the first leaf, 4 dependent SPTE loads (upper levels L1/L2-hot in a sequential "
        "pass) plus ~30-60 iterator instructions per level. Shared by x86_tdp and "
        "x86_tdp_noad (the same iterator). Derived 25 [8-60], scaled with pte_scan_ns")
    tdp_leaf_step_ns: float = _c(
        3.0, 1.5, 8.0, "derived",
        "tdp_iter_next to the next leaf of the range (try_step_side: sptep++, READ_ONCE), "
        "~15-30 instructions, a new 64-byte line every 8 SPTEs (prefetched inside the 4 KiB "
        "table). Not identifiable from published data (every v4 call covered one page)")
    tdp_young_ns: float = _c(
        53.0, 8.0, 75.0, "fit",
        "kvm_tdp_mmu_age_spte with A/D bits: tdp_mmu_clear_spte_bits_atomic (atomic64_fetch_and,"
        " ~20 cycles on an owned line) plus taking the SPTE's line from the vCPU whose page "
        "walker set the Accessed bit (0-138 ns by distance, shared by up to 8 SPTEs). Derived "
        "35 [6-50], scaled with pte_scan_ns")
    tdp_noad_young_ns: float = _c(
        40.0, 10.0, 65.0, "derived",
        "kvm_tdp_mmu_age_spte without A/D bits: mark_spte_for_access_track (save and clear "
        "the RWX bits) and one __tdp_mmu_set_spte_atomic cmpxchg (no retry since v7), plus "
        "the same line transfer as tdp_young_ns")
    # --- arm64 stage 2 (arch/arm64/kvm/hyp/pgtable.c) -----------------------------------------
    s2_descend_ns: float = _c(
        30.0, 10.0, 70.0, "estimate",
        "kvm_pgtable_stage2_test_clear_young -> kvm_pgtable_walk: per call, the descent from "
        "the start level (3-4 levels for a 4 KiB granule), each a __kvm_pgtable_walk frame "
        "and a READ_ONCE of the table entry; heavier per level than tdp_iter (a visit "
        "context per entry)")
    s2_leaf_step_ns: float = _c(
        6.0, 2.0, 15.0, "estimate",
        "__kvm_pgtable_visit of the next leaf: READ_ONCE, the walker-flags test and the "
        "indirect call to stage2_age_walker for every valid leaf (tdp_iter inlines its step)")
    s2_young_store_ns: float = _c(
        28.0, 5.0, 60.0, "estimate",
        "stage2_age_walker under the write lock: stage2_try_set_pte is a plain WRITE_ONCE "
        "(~3 ns) after taking the descriptor's line from the vCPU whose hardware AF update "
        "wrote it (Neoverse N1 mesh 47 ns, p10-p90 42-53, shared by up to 8 descriptors); no "
        "TLBI ('But where's the TLBI?!')")
    s2_young_cas_ns: float = _c(
        33.0, 8.0, 65.0, "estimate",
        "stage2_age_walker in a shared walk (read lock, v3; RCU, v2): stage2_try_set_pte is a "
        "cmpxchg (LSE CAS, 8.4 ns single-threaded on N1, hardware-round2 B.2) plus the same "
        "line transfer as s2_young_store_ns")
    # --- x86 shadow MMU (arch/x86/kvm/mmu/mmu.c, kvm_rmap_age_gfn_range) ----------------------
    rmap_head_ns: float = _c(
        2.0, 1.0, 4.0, "derived",
        "one rmap head read per gfn per level (4K, 2M, 1G: n + n/512 + n/2^18 heads, 8 per "
        "64-byte line, sequential in each level's array)")
    rmap_lock_ns: float = _c(
        8.0, 5.0, 20.0, "derived",
        "kvm_rmap_lock_readonly + unlock on a non-empty head (6.15 lockless aging): one "
        "cmpxchg setting bit 1 and a release store, uncontended ('O(seconds)' between "
        "collisions, 4834eaded91e)")
    rmap_spte_ns: float = _c(
        30.0, 5.0, 90.0, "estimate",
        "reading an SPTE reached through the rmap chain (for_each_rmap_spte_lockless): a "
        "scattered line, L2/LLC hit (5-25 ns) to DRAM (80-90 ns)")
    rmap_young_ns: float = _c(
        15.0, 6.0, 50.0, "estimate",
        "clearing a young shadow SPTE: clear_bit on the Accessed bit (A/D) or "
        "mark_spte_for_access_track + mmu_spte_update, a locked RMW on the line "
        "rmap_spte_ns fetched, plus its transfer from the vCPU that set the bit")
    # --- generic spinlock arches (powerpc radix, riscv g-stage) --------------------------------
    generic_walk_ns: float = _c(
        45.0, 15.0, 100.0, "estimate",
        "per gfn: these arches' kvm_age_gfn handlers look up each gfn's leaf from the root "
        "(e.g. book3s radix __find_linux_pte per gfn): a 3-4 level walk without a range "
        "iterator")
    generic_young_ns: float = _c(
        30.0, 8.0, 60.0, "estimate",
        "clearing a young leaf on a generic arch: an atomic PTE update "
        "(ptep_test_and_clear_young-like) plus the line transfer from the vCPU")
    # --- unmap, flush ---------------------------------------------------------------------------
    zap_ns: float = _c(
        300.0, 150.0, 1000.0, "estimate",
        "kvm_mmu_notifier_invalidate_range_start for one 4 KiB page: zap one leaf SPTE "
        "(tdp_mmu_zap_leafs) under the write lock, remote flush excluded")
    tlb_flush_ns: float = _c(
        3000.0, 1000.0, 6000.0, "estimate",
        "remote TLB flush seen by the flusher (IPIs to vCPUs in guest mode, wait for each "
        "to exit and acknowledge): ack >= 1000 cycles per remote core, 1-3 us shootdowns "
        "(hardware-round2 C.2); no per-flush KVM figure published (patch-series §8)")
    tlbi_vmid_ns: float = _c(
        1000.0, 300.0, 5000.0, "estimate",
        "arm64 kvm_flush_remote_tlbs: __kvm_tlb_flush_vmid, a broadcast tlbi vmalls12e1is and "
        "the DSB that waits for every core (no IPI, no VM exit); no published figure "
        "(hardware-round2 C.1)")
    tlb_flush_vcpu_ns: float = _c(
        1000.0, 450.0, 2000.0, "estimate",
        "a running vCPU's share of a remote flush: VM exit for the IPI (~1,350 cycles round "
        "trip, AMD 2020), INVEPT, re-entry (the refills are charged as TLB misses)")
    # --- swap -------------------------------------------------------------------------------------
    swap_in_zram_ns: float = _c(
        15000.0, 8000.0, 30000.0, "estimate",
        "swap-in fault from zram: lzo decompress of 4 KiB (~3 us) + fault, swap cache and "
        "rmap work; sweep it")
    swap_out_zram_ns: float = _c(
        5000.0, 3000.0, 10000.0, "estimate",
        "kswapd cost to compress and store one 4 KiB page in zram (lzo1x ~1 GB/s, dominant "
        "in Chrome OS kswapd profiles, mglru.md §6.1)")
    swap_in_ssd_ns: float = _c(
        100000.0, 50000.0, 200000.0, "estimate",
        "4 KiB random read from an NVMe SSD plus fault overhead")
    swap_out_ssd_ns: float = _c(
        20000.0, 10000.0, 50000.0, "estimate",
        "kswapd share of a 4 KiB swap write (bio submission, batched)")

    def swap_in_ns(self, device: str) -> float:
        """Swap-in latency for the ``[host] swap`` device."""
        return self.swap_in_zram_ns if device == "zram" else self.swap_in_ssd_ns

    def swap_out_ns(self, device: str) -> float:
        """Reclaimer-side cost of writing one page to the ``[host] swap`` device."""
        return self.swap_out_zram_ns if device == "zram" else self.swap_out_ssd_ns


def cost_ranges(costs: CostConfig | None = None) -> dict[str, tuple[float, float, float, str]]:
    """``{name: (value, lo, hi, source tag)}`` for every constant (the values of ``costs``,
    default the committed ones; the ranges are the committed ones)."""
    costs = costs if costs is not None else CostConfig()
    out: dict[str, tuple[float, float, float, str]] = {}
    for f in fields(CostConfig):
        lo, hi = f.metadata["range"]
        out[f.name] = (float(getattr(costs, f.name)), float(lo), float(hi), f.metadata["tag"])
    return out
