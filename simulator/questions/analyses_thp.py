"""Q7: what THP backing does to Q1's and Q5's answers, and what the posted v3 code would cost.

One sweep (``scenarios/questions/q7_thp_and_posted_v3.toml``): each configuration, named by
its kernel release, with ``vm.thp`` = never and always, three seeds. Two derived tables:

- THP's effect: per configuration, the aging pass, the notifier calls per pass, the walk's
  young recall and the overall young precision without and with THP;
- posted v3: v3's bitmap as intended against the 7/7 code as posted, with and without THP:
  overall and walk precision, and refaults per 1k accesses.

Both are rows of the effects table (:class:`simulator.questions.claims.Effects`): every number a
sentence quotes is a cell of it or of the runs table, as for every question.
"""

from __future__ import annotations

import pandas as pd

from simulator.questions.analyses import MS, Finding, _arrow, _bars, with_rates
from simulator.questions.claims import Effects, runs_table
from simulator.questions.estimate import Effect

BY = ["kernel.release", "vm.backend", "mglru.bitmap_variant", "vm.thp"]
METRICS = {"aging_pass_mean_ns": ("aging pass (ms)", MS),
           "notifier_calls_per_pass": ("notifier calls per pass", 1.0),
           "young_walk_recall": ("walk young recall", 1.0),
           "young_walk_precision": ("walk young precision", 1.0),
           "young_precision": ("young precision", 1.0),
           "refaults_per_kacc": ("refaults per 1k accesses", 1.0)}


def _rates(df: pd.DataFrame) -> pd.DataFrame:
    df = with_rates(df)
    passes = pd.to_numeric(df["aging_passes"], errors="coerce").replace(0, float("nan"))
    df["notifier_calls_per_pass"] = pd.to_numeric(df["notifier_calls"], errors="coerce") / passes
    for col in ("kernel.release", "mglru.bitmap_variant", "vm.thp", "vm.backend"):
        df[col] = df[col].astype(str)
    return df


def _label(release: object, backend: object, variant: object) -> str:
    extra = ", as posted" if variant == "posted_v3" else ""
    return f"{backend} ({release}{extra})"


THP_SAYS = (("aging_pass_mean_ns", "the aging pass", "ms"),
            ("notifier_calls_per_pass", "the notifier calls per pass", ""),
            ("young_walk_recall", "the walk's young recall", ""),
            ("young_precision", "young precision", ""))
POSTED_SAYS = (("young_precision", "young precision", ""),
               ("young_walk_precision", "the walk's young precision", ""),
               ("refaults_per_kacc", "refaults per 1k accesses", ""))


def q7(df: pd.DataFrame) -> Finding:
    """THP's effect on every configuration, and v3 as posted against v3 as intended."""
    tab, est, _ = runs_table(_rates(df), BY, METRICS)
    eff = Effects()
    sentences, heads = [], []
    configs = list(dict.fromkeys(k[:3] for k in est))
    for rel, backend, variant in configs:
        small, huge = est.get((rel, backend, variant, "never")), est.get((rel, backend,
                                                                          variant, "always"))
        if not small or not huge or variant == "posted_v3":
            continue
        ctx = {"release": str(rel), "backend": str(backend), "bitmap variant": str(variant),
               "comparison": "THP vs no THP"}
        where = f"{backend} ({rel}), THP vs none"
        parts = [eff.say(ctx, where, name, Effect(small[col], huge[col]), unit)
                 for col, name, unit in THP_SAYS if col in small and col in huge]
        sentences.append(f"On {_label(rel, backend, variant)}, THP backing "
                         + "; it ".join(parts) + ".")
        if "notifier_calls_per_pass" in small and "notifier_calls_per_pass" in huge:
            heads.append(f"{_label(rel, backend, variant)} "
                         + _arrow(Effect(small["notifier_calls_per_pass"],
                                         huge["notifier_calls_per_pass"])))
    posted_heads = []
    for thp in ("never", "always"):
        intended = est.get(("v3", "x86_tdp", "intended", thp))
        posted = est.get(("v3", "x86_tdp", "posted_v3", thp))
        if not intended or not posted:
            continue
        ctx = {"release": "v3", "backend": "x86_tdp", "bitmap variant": "posted_v3",
               "comparison": f"as posted vs intended, vm.thp = {thp}"}
        where = f"x86_tdp (v3), vm.thp = {thp}, as posted vs intended"
        parts = [eff.say(ctx, where, name, Effect(intended[col], posted[col]), unit)
                 for col, name, unit in POSTED_SAYS if col in intended and col in posted]
        memory = "Without THP" if thp == "never" else "With THP"
        sentences.append(f"{memory}, the v3 bitmap code as posted (x86_tdp, v3) "
                         + "; it ".join(parts) + ".")
        if "young_precision" in intended and "young_precision" in posted:
            posted_heads.append(f"{memory[0].lower()}{memory[1:]} "
                                + _arrow(Effect(intended["young_precision"],
                                                posted["young_precision"])))
    fig = _bars([_label(*c) for c in configs],
                {f"vm.thp = {t}": [(est.get((*c, t)) or {}).get("young_precision")
                                   for c in configs] for t in ("never", "always")},
                "young precision", "Q7: young precision by configuration, with and without THP")
    notes = ["Each row's kernel release sets the notifier design and KVM's aging lock "
             "(docs/kernels.md); 'as posted' is mglru.bitmap_variant = posted_v3. With THP, "
             "PMD-mapped memory is aged by one pmdp_clear_young_notify per THP and never "
             "through the bitmap, so the posted defect only reaches the guest's 4 KiB "
             "remainder (pages refaulted after a THP was swapped out). KVM's cost of a "
             "2 MiB aging call is whatever charge_aging_calls charges for the range's pages.",
             ""]
    headline = ""
    if heads:
        headline = "THP backing changes the notifier calls per pass: " + "; ".join(heads) + "."
    if posted_heads:
        headline += (" The v3 bitmap code as posted moves young precision "
                     + " and ".join(posted_heads) + ".")
    return Finding(sentences, {"runs": tab, "effects": eff.table()}, fig, notes=notes,
                   conclusions=eff.conclusions, unresolved=eff.unresolved,
                   headline=headline.strip())


__all__ = ["q7"]
