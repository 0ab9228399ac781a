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

from simulator.questions.analyses import MS, Finding, _arrow, _bars, with_rates
from simulator.questions.claims import Effects, runs_table
from simulator.questions.estimate import Effect

BY = ["host.policy"]
POLICIES = ("mglru", "classic", "lru")
METRICS = {"miss_ratio": ("miss ratio", 1.0),
           "refaults_per_kacc": ("refaults per 1k accesses", 1.0),
           "reclaim_cpu_per_kacc": ("reclaim CPU per 1k accesses (ms)", MS),
           "direct_reclaim_share": ("vCPU time in direct reclaim", 1.0),
           "notifier_calls_per_kacc": ("KVM calls per 1k accesses", 1.0),
           "accesses": ("accesses", 1.0)}
SAYS = (("refaults_per_kacc", "refaults per 1k accesses", ""),
        ("miss_ratio", "the miss ratio", ""),
        ("reclaim_cpu_per_kacc", "reclaim CPU per 1k accesses", "ms"),
        ("notifier_calls_per_kacc", "KVM calls per 1k accesses", ""))
NAMES = {"classic": "the classic LRU", "lru": "the exact LRU"}


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


def q8(df: pd.DataFrame) -> Finding:
    """Each policy's misses, reclaim cost and KVM calls; MGLRU against each of the others
    (the change is read from the other policy to MGLRU)."""
    tab, est, eras = runs_table(_rates(df), BY, METRICS)
    have = {p: est[(p,)] for p in POLICIES if (p,) in est}
    eff = Effects()
    sentences, heads = [], []
    mglru = have.get("mglru")
    for other, label in NAMES.items():
        if mglru is None or other not in have:
            continue
        release, backend, _ = eras[("mglru",)]
        ctx = {"release": release, "backend": backend, "comparison": f"mglru vs {other}"}
        where = f"{backend} ({release}), MGLRU vs {label}"
        parts = [eff.say(ctx, where, name, Effect(have[other][col], mglru[col]), unit)
                 for col, name, unit in SAYS if col in mglru and col in have[other]]
        sentences.append(f"Going from {label} to MGLRU ({backend}, {release}) "
                         + "; it ".join(parts) + ".")
        if "refaults_per_kacc" in mglru and "refaults_per_kacc" in have[other]:
            heads.append(f"{label} -> MGLRU "
                         + _arrow(Effect(have[other]["refaults_per_kacc"],
                                         mglru["refaults_per_kacc"])))
    fig = _bars(list(have), {"miss ratio": [have[p].get("miss_ratio") for p in have],
                             "vCPU time in direct reclaim": [
                                 have[p].get("direct_reclaim_share") for p in have]},
                "fraction", "Q8: miss ratio and direct-reclaim share by policy")
    notes = ["MGLRU consults KVM per page (per_page) without mmu_lock in 6.15 on x86_tdp; "
             "the classic LRU calls ptep_clear_flush_young_notify for every mapped page "
             "folio_referenced checks. The exact LRU sees every access, including guest-only "
             "ones no A bit would show, and costs no reclaim CPU: it bounds what any policy "
             "could reach on this workload. The runs have equal simulated time, not equal "
             "accesses: a policy whose vCPUs spend less time in reclaim makes more accesses, "
             "so its miss ratio (first touches included) counts a smaller share of warm-up "
             "faults; refaults per 1k accesses is the steadier comparison.", ""]
    headline = ("Refaults per 1k accesses: " + "; ".join(heads) + ".") if heads else ""
    return Finding(sentences, {"runs": tab, "effects": eff.table()}, fig, notes=notes,
                   conclusions=eff.conclusions, unresolved=eff.unresolved, headline=headline)


__all__ = ["q8"]
