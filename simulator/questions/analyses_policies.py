"""Q8: MGLRU against the classic active/inactive LRU and the exact LRU, for a VM under memcg
pressure.

One sweep (``scenarios/questions/q8_policies.toml``): ``host.policy`` = mglru, classic, lru,
three seeds, one x86 TDP guest of 6.15 in a memcg smaller than it. Per policy: the miss ratio
(faults per access, first touches included, so the exact LRU is the floor), refaults per 1k
accesses, reclaim CPU per 1k accesses (aging plus eviction, paid by the vCPUs in direct
reclaim: ``try_charge_memcg`` → ``try_to_free_mem_cgroup_pages``), the share of vCPU time spent
in direct reclaim, and KVM notifier calls per 1k accesses (MGLRU's walk and look-around, or
the classic LRU's ``folio_referenced`` → ``ptep_clear_flush_young_notify`` per mapped page).
The exact LRU is a yardstick: it observes every access and charges no reclaim work.
"""

from __future__ import annotations

import pandas as pd

from simulator.questions.analyses import MS, Finding, _bars, _real, with_rates
from simulator.questions.stats import Spread, fmt, table

BY = ["host.policy"]
POLICIES = ("mglru", "classic", "lru")
METRICS = {"miss_ratio": ("miss ratio", 1.0),
           "refaults_per_kacc": ("refaults per 1k accesses", 1.0),
           "reclaim_cpu_per_kacc": ("reclaim CPU per 1k accesses (ms)", MS),
           "direct_reclaim_share": ("vCPU time in direct reclaim", 1.0),
           "notifier_calls_per_kacc": ("KVM calls per 1k accesses", 1.0),
           "accesses": ("accesses", 1.0)}
SPREADS = dict[tuple[object, ...], dict[str, Spread]]


def _rates(df: pd.DataFrame) -> pd.DataFrame:
    df = with_rates(df)
    num = {c: pd.to_numeric(df[c], errors="coerce") for c in (
        "accesses", "aging_cpu_ns", "eviction_cpu_ns", "notifier_calls",
        "vcpu_direct_reclaim_ns", "vcpu_wall_ns")}
    kacc = num["accesses"].replace(0, float("nan")) / 1000.0
    df["reclaim_cpu_per_kacc"] = (num["aging_cpu_ns"] + num["eviction_cpu_ns"]) / kacc
    df["notifier_calls_per_kacc"] = num["notifier_calls"] / kacc
    wall = num["vcpu_wall_ns"].replace(0, float("nan"))
    df["direct_reclaim_share"] = num["vcpu_direct_reclaim_ns"] / wall
    df["host.policy"] = df["host.policy"].astype(str)
    return df


def _versus(name: str, a: dict[str, Spread], b: dict[str, Spread], other: str) -> str:
    def m(col: str, sp: dict[str, Spread]) -> str:
        s = sp.get(col)
        return fmt(s.mean) if s else "-"

    return (f"Against {other}, {name} has {m('refaults_per_kacc', a)} refaults per 1k "
            f"accesses ({other}: {m('refaults_per_kacc', b)}; a difference beyond seed noise: "
            f"{_real(a.get('refaults_per_kacc'), b.get('refaults_per_kacc'))}) and a miss "
            f"ratio of {m('miss_ratio', a)} ({m('miss_ratio', b)}), spends "
            f"{m('reclaim_cpu_per_kacc', a)} ms of reclaim CPU per 1k accesses "
            f"({m('reclaim_cpu_per_kacc', b)}) and calls KVM "
            f"{m('notifier_calls_per_kacc', a)} times per 1k accesses "
            f"({m('notifier_calls_per_kacc', b)}).")


def q8(df: pd.DataFrame) -> Finding:
    """Each policy's misses, reclaim cost and KVM calls; MGLRU against each of the others."""
    tab, sp = table(_rates(df), BY, METRICS)
    have = {p: sp[(p,)] for p in POLICIES if (p,) in sp}
    sentences = []
    mglru = have.get("mglru")
    if mglru is not None:
        for other, label in (("classic", "the classic LRU"), ("lru", "the exact LRU")):
            if other in have:
                sentences.append(_versus("MGLRU", mglru, have[other], label))
    share = {p: have[p].get("direct_reclaim_share") for p in have}
    if share:
        parts = [f"{p} {fmt(s.mean)}" for p, s in share.items() if s]
        sentences.append("The share of vCPU time spent in direct reclaim is "
                         + ", ".join(parts) + " (the exact LRU charges no reclaim work).")
    fig = _bars(list(have), {"miss ratio": [have[p].get("miss_ratio") for p in have],
                             "vCPU time in direct reclaim": [
                                 have[p].get("direct_reclaim_share") for p in have]},
                "fraction", "Q8: miss ratio and direct-reclaim share by policy")
    notes = ["Kernel 6.15 on x86_tdp: MGLRU consults KVM per page (per_page) without "
             "mmu_lock; the classic LRU calls ptep_clear_flush_young_notify for every mapped "
             "page folio_referenced checks. The exact LRU sees every access, including "
             "guest-only ones no A bit would show, and costs no reclaim CPU: it bounds what "
             "any policy could reach on this workload. The runs have equal simulated time, "
             "not equal accesses: a policy whose vCPUs spend less time in reclaim makes more "
             "accesses, so its miss ratio (first touches included) counts a smaller share "
             "of warm-up faults; refaults per 1k accesses is the steadier comparison.", ""]
    return Finding(sentences, {"runs": tab}, fig, notes=notes)


__all__ = ["q8"]
