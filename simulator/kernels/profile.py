"""A kernel release as the simulator sees it: the switches that changed between releases.

:class:`KernelProfile` holds one value per *switch*: a behaviour of MGLRU or KVM aging that
differs between the releases the project models and that the model implements. The values of
each release are not typed here but *derived*: ``simulator.kernels.history`` lists every change
as the commit that made it, and a release's profile is the base (6.1) with every change up to
it applied. Switches that differ between releases but that the model does not represent (or that
only matter for large folios or file pages) are listed there too, with the reason, so the docs
table (``docs/kernels.md``) shows every difference and says which ones are simulated.

Per-backend switches (the KVM aging lock, whether ``clear_flush_young`` flushes) are keyed by
the simulator's backend names (``simulator.kvm.backends``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from simulator.params import param

BACKEND_NAMES = ("x86_tdp", "x86_tdp_noad", "x86_shadow", "arm64", "generic")
"""The KVM backends a profile sets per-backend switches for (``simulator.kvm.backends``)."""

ARCH_OF_BACKEND = {"x86_tdp": "x86", "x86_tdp_noad": "x86", "x86_shadow": "x86",
                   "arm64": "arm64", "generic": "generic"}


AUTO = "auto"
DEFAULT_RELEASE = "6.15"


def _sw(doc: str, choices: tuple[str, ...]) -> Any:
    return param(AUTO, choices=(AUTO, *choices), doc=doc)


@dataclass(frozen=True, slots=True)
class KernelProfile:
    """The switches of one release (or never-merged series on its base release).

    It is also the ``[kernel]`` table of a scenario: ``release`` names the profile, and each
    switch left at ``auto`` takes the release's value, while one set explicitly overrides it
    (a what-if the summary reports as a deviation from the release).
    """

    release: str = param(DEFAULT_RELEASE, doc="kernel release (or never-merged series) whose "
                                              "behaviour the run models (mglru-sim list "
                                              "kernels)")
    notifier: str = _sw("how MGLRU consults KVM: blind (walk and look-around see primary A bits "
                        "only; the eviction pivot gets clear_flush_young), per_page "
                        "(*_clear_young_notify per PTE), bitmap (v3), fast_only (v5-v7)",
                        ("blind", "per_page", "bitmap", "fast_only"))
    aging_lock_x86_tdp: str = _sw("mmu_lock mode of x86 TDP MMU aging", ("write", "none"))
    aging_lock_x86_tdp_noad: str = _sw("mmu_lock mode of x86 TDP MMU aging with A/D bits off",
                                       ("write", "none"))
    aging_lock_x86_shadow: str = _sw("lock of x86 shadow-MMU aging (rmap: per-rmap bit lock)",
                                     ("write", "rmap"))
    aging_lock_arm64: str = _sw("mmu_lock mode of arm64 stage-2 aging", ("write", "read", "none"))
    aging_lock_generic: str = _sw("mmu_lock of a spinlock architecture's aging", ("write",))
    young_flush_x86: str = _sw("x86 kvm_mmu_notifier_clear_flush_young flushes remote TLBs when "
                               "it found a young SPTE", ("yes", "no"))
    young_flush_arm64: str = _sw("arm64 clear_flush_young flushes the VMID when young",
                                 ("yes", "no"))
    young_flush_generic: str = _sw("a generic arch's clear_flush_young flushes when young",
                                   ("yes", "no"))
    promotion: str = _sw("sightings before the aging walk or look-around promotes a folio to "
                         "max_seq (folio_update_gen), and what the rmap check activates",
                         ("one", "two"))
    tiers: str = _sw("lru_tier_from_refs: order_base_2(refs + 1) with refs = LRU_REFS + "
                     "PG_workingset (old), or workingset ? MAX_NR_TIERS - 1 : "
                     "order_base_2(refs) (new)", ("old", "new"))
    insertion: str = _sw("generation of a faulted-in folio: youngest (max_seq, PG_active "
                         "from lru_gen_in_fault) or lru_gen_distance (max_seq - 1, max_seq "
                         "with PG_workingset)", ("youngest", "distance"))
    putback: str = _sw("evict_folios putback of rejected mapped folios: PG_active (youngest "
                       "generation) for every mapped one, or only when it would land in the "
                       "oldest generation", ("active_if_mapped", "oldest_only"))
    walkers: str = _sw("concurrent aging walkers: a late walker waits for the iteration at "
                       "priority <= DEF_PRIORITY - 2 and the last to finish increments max_seq "
                       "(wait), or returns at once and the walker whose cursor wraps increments "
                       "(no_wait)", ("wait", "no_wait"))
    force_scan_walks: str = _sw("debugfs force_scan walks page tables even without a hardware A "
                                "bit", ("yes", "no"))
    kvm_marks_accessed: str = _sw("an arm64 access-flag fault marks the host folio accessed "
                                  "(folio_mark_accessed)", ("yes", "no"))
    arm64_af_fault_lock: str = _sw("mmu_lock mode of an arm64 access-flag fault "
                                   "(handle_access_fault)", ("write", "read"))
    scan_cap: str = _sw("scan_folios budget: MAX_LRU_BATCH, or min(nr_to_scan, MAX_LRU_BATCH) "
                        "(memcg proportional reclaim, 6.16)", ("batch", "nr_to_scan"))

    def aging_lock(self, backend: str) -> str:
        """The aging lock of ``backend`` in this release."""
        value: str = getattr(self, f"aging_lock_{backend}")
        return value

    def young_flush(self, backend: str) -> bool:
        """Whether ``clear_flush_young`` flushes remote TLBs when young, for ``backend``."""
        return bool(getattr(self, f"young_flush_{ARCH_OF_BACKEND[backend]}") == "yes")

    def with_values(self, **values: str) -> KernelProfile:
        return replace(self, **values)


def switch_names() -> tuple[str, ...]:
    """Every switch, in declaration order (every field but ``release``)."""
    return tuple(f.name for f in fields(KernelProfile) if f.name != "release")


def switch_doc(name: str) -> str:
    return str({f.name: f for f in fields(KernelProfile)}[name].metadata["doc"])


def switch_choices(name: str) -> tuple[str, ...]:
    """The values a switch takes (without ``auto``)."""
    choices: tuple[str, ...] = {f.name: f for f in fields(KernelProfile)}[name].metadata["choices"]
    return choices[1:]


__all__ = ["ARCH_OF_BACKEND", "AUTO", "BACKEND_NAMES", "DEFAULT_RELEASE", "KernelProfile",
           "switch_choices", "switch_doc", "switch_names"]
