"""Kernel history: every behaviour change between the modelled releases, as the commit made it.

Each :class:`Change` is one row of ``docs/kernels.md``: the first release that has it, the
behaviour, the commit or mail that made it, and the switch (and value) it sets in
:class:`~simulator.kernels.profile.KernelProfile`. Rows with ``switch = ""`` are differences
the model does not represent; their ``note`` says why (no file pages, no mTHP, not measurable
here). A release's profile is :data:`BASE` (6.1 LTS) with every change of an earlier or equal
release applied in order; a never-merged series (:data:`VARIANTS`) is its base release plus its
own changes.

Sources were read in the kernel text, pull requests and stable announcements (commit ids are
mainline). Where the first release is inferred from merge timing rather than read from a tag,
``note`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.kernels.profile import KernelProfile

RELEASES = ("6.1", "6.6", "6.11", "6.11.7", "6.12", "6.13", "6.14", "6.15", "6.16")
"""Modelled releases, oldest first. 6.11 stands for 6.11.0-6.11.6; 6.11.7 got the three MGLRU
fixes of 6.12 on the 6.11 KVM. 6.16 is the newest release whose changes were confirmed."""

BASE = KernelProfile(
    release="6.1", notifier="blind",
    aging_lock_x86_tdp="write", aging_lock_x86_tdp_noad="write", aging_lock_x86_shadow="write",
    aging_lock_arm64="write", aging_lock_generic="write",
    young_flush_x86="yes", young_flush_arm64="yes", young_flush_generic="yes",
    promotion="one", tiers="old", insertion="youngest", putback="active_if_mapped",
    walkers="wait", force_scan_walks="yes", kvm_marks_accessed="yes",
    arm64_af_fault_lock="write", scan_cap="batch")
"""6.1 LTS: MGLRU as merged (walks see primary A bits only), KVM aging under mmu_lock for
write everywhere, every young ``clear_flush_young`` flushes."""


@dataclass(frozen=True, slots=True)
class Change:
    """One behaviour change: from ``release`` on, ``switch`` is ``value``."""

    release: str
    behaviour: str
    source: str
    switch: str = ""
    value: str = ""
    note: str = ""

    @property
    def modelled(self) -> bool:
        return bool(self.switch)


CHANGES: tuple[Change, ...] = (
    Change("6.3", "a stage-2 access-flag fault takes mmu_lock for read "
           "(handle_access_fault behind the read lock)",
           "fc61f554e694 (kvmarm-6.3 pull)", "arm64_af_fault_lock", "read"),
    Change("6.3", "debugfs force_scan no longer walks page tables without a hardware A bit "
           "(memcg-LRU series)", "f386e9314025, e9d4e1ee7880 (lore 20221222041905.2431096)",
           "force_scan_walks", "no", note="release inferred from merge timing"),
    Change("6.3", "look-around updates folios in place (no bitmap, no folio_activate for "
           "fewer than 15)", "lore 20230118001827.1040870-8-talumbau@google.com",
           note="not modelled: only the batching of the same promotions differs"),
    Change("6.4", "concurrent walkers no longer wait; the walker whose mm-list cursor wraps "
           "increments max_seq, the others return at once", "7f63cf2d9b9b (MM pull for 6.4)",
           "walkers", "no_wait"),
    Change("6.5", "arm64 kvm_age_gfn ages the whole notifier range, not the leaf at its start",
           "df6556adf27b (kvmarm fixes for 6.5)",
           note="not modelled: it differs only for a call over a range of several leaves, and "
                "the model's arm64 maps a 2 MiB block wherever the host maps a THP, so a "
                "PMD_SIZE call meets one leaf in every release"),
    Change("6.6", "arm64 unmap defers per-IPA TLBIs to one range TLBI (FEAT_TLBIRANGE + FWB)",
           "stage2_unmap_defer_tlb_flush (Raghavendra Rao Ananta)",
           note="not modelled: the unmap still invalidates every stage-1 entry of the VMID "
                "(vmalle1is); release inferred"),
    Change("6.10", "anonymous mTHP swapped out whole", "Ryan Roberts, 'mm: swap: allow "
           "storage of all mTHP orders'", note="not modelled: mTHP is not (PMD-mapped THPs "
           "are, swapped out whole in every modelled release); release inferred"),
    Change("6.11.7", "the aging walk and look-around consult secondary MMUs "
           "({ptep,pmdp}_clear_young_notify); the rmap path calls look-around or "
           "ptep_clear_flush_young_notify, never both",
           "1d4832becdc2 (v6.12-rc7; stable 6.11.7)", "notifier", "per_page"),
    Change("6.11.7", "the walk skips old PTEs only in mms without notifiers; non-leaf PMD "
           "young is not used for mms with notifiers", "1d4832becdc2, ddd6d8e975b1",
           note="part of notifier = per_page; non-leaf PMD A bits are not modelled"),
    Change("6.13", "x86 clear_flush_young no longer flushes remote TLBs "
           "(KVM_ELIDE_TLB_FLUSH_IF_YOUNG; arm64 does not select it)",
           "2ebbe0308c29, b9883ee40d7e (KVM x86 MMU for 6.13)", "young_flush_x86", "no"),
    Change("6.13", "KVM no longer marks the host folio accessed (x86 zap of a young SPTE, "
           "arm64 access-flag fault)", "66bc627e7fee, 2362506f7cff (v6.13-rc1)",
           "kvm_marks_accessed", "no"),
    Change("6.13", "TDP MMU test_young stops at the first young SPTE; aging visits valid "
           "roots only", "51192ebdd145, 526e609f0567",
           note="not modelled: MGLRU never calls test_young with a range before v3"),
    Change("6.14", "two-sighting promotion (lru_gen_set_refs): the first sighting sets "
           "PG_referenced, the second promotes and sets PG_workingset; the rmap check "
           "activates on the second", "4d5d14a01e2c, a52dcec56c5b and siblings "
           "(lore 20241207221522.2250311)", "promotion", "two",
           note="release inferred from merge timing"),
    Change("6.14", "tier = workingset ? MAX_NR_TIERS - 1 : order_base_2(refs)",
           "4d5d14a01e2c", "tiers", "new"),
    Change("6.14", "a faulted-in folio goes to max_seq - 1 (max_seq with PG_workingset) "
           "by lru_gen_distance", "4d5d14a01e2c", "insertion", "distance"),
    Change("6.14", "a rejected folio gets PG_active only if it would land in the oldest "
           "generation", "4d5d14a01e2c", "putback", "oldest_only"),
    Change("6.14", "look-around and the walk skip isolated folios (get_pfn_folio)",
           "a52dcec56c5b", note="the model never promotes an isolated folio in any release"),
    Change("6.15", "x86 TDP MMU ages SPTEs without mmu_lock (RCU)",
           "b146a9b34aed, aa34b811650c (kvm-x86-mmu-6.15)", "aging_lock_x86_tdp", "none"),
    Change("6.15", "x86 TDP MMU without A/D bits ages locklessly too", "b146a9b34aed",
           "aging_lock_x86_tdp_noad", "none"),
    Change("6.15", "x86 shadow MMU ages under a per-rmap bit lock", "af3b6a9eba48, "
           "4834eaded91e (kvm-x86-mmu-6.15)", "aging_lock_x86_shadow", "rmap"),
    Change("6.16", "memcg reclaim under MGLRU scans at most nr_to_scan per scan_folios and "
           "scales by memory.min/low", "Koichiro Den, 'apply proportional reclaim pressure "
           "for memcg when MGLRU is enabled'", "scan_cap", "nr_to_scan",
           note="release inferred from merge timing; no memory.min/low in the model"),
)
"""Every change after :data:`BASE`, in release order."""


@dataclass(frozen=True, slots=True)
class Variant:
    """A never-merged series, modelled on its base release."""

    name: str
    title: str
    base: str
    posted: str
    source: str
    values: tuple[tuple[str, str], ...]


VARIANTS: tuple[Variant, ...] = (
    Variant("v3", "mm/kvm: improve parallelism for access bit harvesting (bitmap "
            "test_young/clear_young)", "6.6", "2024-04-01 on mm-unstable 0cef2c0a2a35 "
            "(≈6.9-rc; no modelled switch differs from 6.6)",
            "lore 20240401232946.1837665-1-jthoughton@google.com",
            (("notifier", "bitmap"), ("aging_lock_x86_tdp", "none"),
             ("aging_lock_arm64", "read"))),
    Variant("v5", "separate test_clear_young_fast_only op", "6.11",
            "2024-06-11 on v6.10-rc3", "lore 20240611002145.2078921-1-jthoughton@google.com",
            (("notifier", "fast_only"), ("aging_lock_x86_tdp", "none"),
             ("aging_lock_x86_tdp_noad", "none"), ("aging_lock_arm64", "read"))),
    Variant("v6", "fast_only argument of test_young/clear_young", "6.11",
            "2024-07-24 on the KVM 6.11 pull (332d2c1d713e)",
            "lore 20240724011037.3671523-1-jthoughton@google.com",
            (("notifier", "fast_only"), ("aging_lock_x86_tdp", "none"),
             ("aging_lock_x86_tdp_noad", "none"), ("aging_lock_arm64", "read"))),
    Variant("v7", "fast_only with lockless shadow-MMU harvesting; arm64 locking dropped",
            "6.11", "2024-09-26 on kvm-x86/next 3cc25d5adcfd",
            "lore 20240926013506.860253-1-jthoughton@google.com",
            (("notifier", "fast_only"), ("aging_lock_x86_tdp", "none"),
             ("aging_lock_x86_tdp_noad", "none"), ("aging_lock_x86_shadow", "rmap"))),
)


def release_key(release: str) -> tuple[int, ...]:
    """Sort key of a release name: '6.11.7' → (6, 11, 7)."""
    return tuple(int(p) for p in release.split("."))


__all__ = ["BASE", "CHANGES", "RELEASES", "VARIANTS", "Change", "Variant", "release_key"]
