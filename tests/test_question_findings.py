"""The findings generator on crafted tables: zero spread, equal values, a flip inside the range.

A crafted ``sweep.csv`` for Q2's analysis (one backend, blind vs per_page fallback, three
seeds) goes through the real analysis, the real sensitivity pass (its runs replaced by crafted
tables computed from the moved constant) and the real findings writer; the test reads the
sentences it wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from simulator.questions.analyses import q2
from simulator.questions.findings import write_findings
from simulator.questions.robustness import sensitivity_pass
from simulator.questions.sensitivity import Conclusion, Point, Uncertain

X = Uncertain("costs.x_ns", 20.0, 10.0, 60.0, "estimate")
"""Crafted constant: per_page's aging pass is 1 ms + (x - 15) * 0.1 ms, blind's 1 ms, so
"per_page raises the aging pass" holds at x = 20 and flips below x = 15.15 (1 % dead band)."""
Y = Uncertain("costs.y_ns", 5.0, 2.0, 15.0, "estimate")
"""Crafted constant nothing depends on."""


@dataclass(frozen=True)
class FakeQuestion:
    name: str = "q2_unreliable_fallback"
    title: str = "A crafted question"
    asked_by: str = "a test"
    where: str = "tests/test_question_findings.py"
    path: str = "crafted.toml"


def crafted(x: float, seeds: Sequence[int] = (1, 2, 3), pass_noise: float = 0.0
            ) -> pd.DataFrame:
    rows = []
    for fallback in ("blind", "per_page"):
        for i, seed in enumerate(seeds):
            jitter = pass_noise * (i - 1) if fallback == "per_page" else 0.0
            pass_ms = 1.0 if fallback == "blind" else 1.0 + (x - 15.0) * 0.1
            rows.append({
                "run_id": f"{fallback}{seed}", "status": "ok", "sim.seed": seed,
                "vm.backend": "x86_shadow", "mglru.unreliable_fallback": fallback,
                "kernel": "6.15", "kernel_deviations": "",
                # zero spread, and a real change: per_page sees every young page
                "young_walk_recall": 0.5 if fallback == "blind" else 1.0,
                "young_f1": 0.75,
                # equal values: the same refaults either way (deterministic)
                "refaults": 2000, "accesses": 1_000_000,
                "aging_pass_mean_ns": (pass_ms + jitter) * 1e6,
                "notifier_calls": 4096})
    return pd.DataFrame(rows)


def fake_evaluate(points: Sequence[Point]) -> Mapping[Point, Sequence[Conclusion]]:
    out = {}
    for p in points:
        x = dict(p.values).get(X.key, X.value)
        out[p] = q2(crafted(x, seeds=(1,))).conclusions
    return out


def save_figure(fig: Figure, folder: Path, name: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {"png": folder / f"{name}.png"}


def write(tmp_path: Path, df: pd.DataFrame, quick: bool = False) -> str:
    finding = q2(df)
    sens = sensitivity_pass("crafted", [X, Y], ["costs.gone_ns"], df, finding.conclusions, q2,
                            fake_evaluate, quick=quick)
    results: list[tuple[Any, pd.DataFrame, Any, Any]] = [(FakeQuestion(), df, finding, sens)]
    path = write_findings(tmp_path, results, quick=quick, wall_s=1.0, machine="a test",
                          jobs=1, save_figure=save_figure)
    return path.read_text()


def answer(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("**Answer.**"))


def test_zero_spread_is_said_to_be_deterministic(tmp_path: Path) -> None:
    text = answer(write(tmp_path, crafted(20.0)))
    assert ("raises the walk's young recall from 0.5000 to 1.000 (+0.5000, +100%; "
            "deterministic: every seed gives these values)") in text
    assert "±" not in text and "e-1" not in text and "seed noise" not in text
    assert "kernel 6.15" in text and "x86_shadow" in text


def test_equal_values_are_unchanged_not_from_x_to_x(tmp_path: Path) -> None:
    text = answer(write(tmp_path, crafted(20.0)))
    assert ("leaves refaults per 1k accesses unchanged at 2.000 (to 4 s.f.; "
            "deterministic: every seed gives these values)") in text
    assert not re.search(r"from (\S+) to \1\b", text)


def test_noisy_change_carries_its_interval(tmp_path: Path) -> None:
    text = answer(write(tmp_path, crafted(20.0, pass_noise=0.02)))
    # 1.00 vs 1.50 ms, sd 0.02 per side: t(4) Welch interval, resolved
    assert re.search(r"raises the aging pass from 1\.00\d? ms to 1\.50\d? ms \(\+0\.50\d? ms, "
                     r"\+50%; 95% interval of the change ±0\.0\d+ over 3 seeds, excluding zero\)",
                     text), text


def test_a_flip_inside_the_range_is_located(tmp_path: Path) -> None:
    text = write(tmp_path, crafted(20.0))
    verdicts = [line for line in text.splitlines() if line.startswith("- x86_shadow")]
    recall = next(v for v in verdicts if "raises the walk's young recall:" in v)
    assert "holds over the plausible range" in recall
    flip = next(v for v in verdicts if "raises the aging pass:" in v)
    m = re.search(r"flips when costs\.x_ns falls below ([\d.]+) \(holds at ([\d.]+), "
                  r"not at ([\d.]+)\)", flip)
    assert m, flip
    mid, ok, bad = (float(g) for g in m.groups())
    assert bad < 15.15 <= ok <= 20.0 and ok - bad <= 5.0  # at least one bisection round of 10 ns
    assert bad < mid < ok
    assert "costs.y_ns" not in flip
    # the summary quotes the answer's robustness, and the missing constant is named
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "flips with `costs.x_ns`" in summary
    assert "costs.gone_ns" in text and "not in this cost model" in text


def test_quick_mode_brackets_a_flip_without_claiming_a_threshold(tmp_path: Path) -> None:
    text = write(tmp_path, crafted(20.0), quick=True)
    flip = next(line for line in text.splitlines()
                if line.startswith("- x86_shadow") and "raises the aging pass:" in line)
    assert "flips when costs.x_ns falls below a value between 10.0 and 20.0" in flip


def test_a_conclusion_the_first_seed_contradicts_is_within_seed_noise(tmp_path: Path) -> None:
    df = crafted(15.3, pass_noise=0.05)  # per_page mean +3% (raises), seed 1 -2% (lowers)
    text = write(tmp_path, df)
    line = next(x for x in text.splitlines() if x.startswith("- x86_shadow") and "aging pass" in x)
    assert "within seed noise" in line and "seeds do not resolve" in line
