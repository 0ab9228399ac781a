"""`mglru-sim questions --quick`: every question runs, every number of every answer in
findings.md is a cell of that question's results tables (generated text, no typed numbers),
and every conclusion carries its sensitivity verdict."""

import re
from pathlib import Path

import pandas as pd
import pytest

from simulator.cli import main
from simulator.questions.estimate import CONFIDENCE, DETERMINISTIC_DIGITS
from simulator.questions.run import load_questions
from simulator.questions.stats import Spread, fmt

NUMBER = re.compile(r"(?<![\w.\-])-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[+-]?\d+)?(?![\w\-])")
"""A number as the text prints it: thousands grouped, never a trailing comma ("-98, -67%")."""


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("questions")
    assert main(["questions", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


def _sections(text: str) -> dict[str, str]:
    """The question sections (``## Q1. ...``), the summary left out."""
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {p.split(".", 1)[0]: p for p in parts if re.match(r"Q\d+\.", p)}


BOILERPLATE = (f"{CONFIDENCE:.0%} interval", f"to {DETERMINISTIC_DIGITS} s.f.")
"""Fixed words of the generated text that contain digits (the confidence level and the
digits of a deterministic value), not numbers read from a table."""


def test_every_question_is_answered_with_three_seeds(findings: Path) -> None:
    text = (findings / "findings.md").read_text()
    sections = _sections(text)
    assert sorted(sections) == ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q8"]
    for name, body in sections.items():
        assert "**Answer.** (no comparable runs)" not in body, name
        assert "Seeds: 1, 2, 3 (3 per configuration)" in body, name
        assert ", failed: 0." in body, name
        png = re.search(r"\]\((findings/[^)]+\.png)\)", body)
        assert png and (findings / png.group(1)).is_file(), name


def test_every_number_in_the_answers_is_read_from_the_tables(findings: Path) -> None:
    text = (findings / "findings.md").read_text()
    questions = {q.name.split("_", 1)[0].upper(): q.name for q in load_questions()}
    for label, body in _sections(text).items():
        answer = next(line for line in body.splitlines() if line.startswith("**Answer.**"))
        for words in BOILERPLATE:
            answer = answer.replace(words, "")
        cells: set[str] = set()
        for csv in (findings / "findings" / questions[label]).glob("*.csv"):
            frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
            for v in frame.to_numpy().ravel():
                cells |= {str(v), *NUMBER.findall(str(v))}  # "+72" gives "72", "±0.12" "0.12"
        numbers = NUMBER.findall(answer)
        assert numbers, label
        missing = [n for n in numbers if n not in cells]
        assert missing == [], f"{label}: numbers not in its tables: {missing}"


def test_every_conclusion_has_a_sensitivity_verdict(findings: Path) -> None:
    text = (findings / "findings.md").read_text()
    summary = text.split("## Summary", 1)[1].split("\n## Q", 1)[0]
    for label, body in _sections(text).items():
        assert f"**{label}. " in summary and "*Robustness:*" in summary, label
        sens = body.split("**Sensitivity.**", 1)[1]
        verdicts = [line for line in sens.splitlines() if line.startswith("- ")]
        assert verdicts, label
        for line in verdicts:
            assert re.search(r"holds over the plausible range|flips (when|only)|seed noise",
                             line), line
        answer = next(line for line in body.splitlines() if line.startswith("**Answer.**"))
        assert not re.search(r"from (\S+) to \1\b", answer), answer  # no "from 1 to 1"
        assert "e-1" not in answer and "beyond seed noise" not in answer, label


def test_the_noise_rule_and_formatter() -> None:
    a = Spread(10.0, 1.0, 9.0, 11.0, 3)
    assert a.differs_from(Spread(20.0, 1.0, 19.0, 21.0, 3))
    assert not a.differs_from(Spread(11.0, 1.0, 10.0, 12.0, 3))
    assert [fmt(x) for x in (0.12345, 1234.5, 7.0, None, 0.000123)] == [
        "0.123", "1,234", "7", "-", "0.000123"]


def test_every_sensitivity_constant_is_a_cost_of_the_model() -> None:
    """A question's sensitivity list names constants of ``[costs]`` (a renamed constant would
    otherwise be skipped silently, and the answer's verdict would rest on fewer)."""
    from dataclasses import fields

    from simulator.costs import CostConfig
    from simulator.questions.run import load_questions

    names = {f"costs.{f.name}" for f in fields(CostConfig)}
    for q in load_questions():
        assert q.sensitivity, q.name
        assert set(q.sensitivity) <= names, (q.name, set(q.sensitivity) - names)


def test_analyse_only_answers_from_the_saved_sweeps(findings: Path, tmp_path: Path) -> None:
    """``--analyse-only`` simulates nothing: from the sweep tables a run left, it writes the
    same answers (sensitivity passes reported as not run); without them it is one line, 2."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(findings, copy)
    assert main(["questions", "--analyse-only", "--out", str(copy), "--no-progress"]) == 0
    before, after = _sections((findings / "findings.md").read_text()), \
        _sections((copy / "findings.md").read_text())
    assert sorted(before) == sorted(after)
    for name, body in before.items():
        answer = body.split("**Answer.**", 1)[1].split("\n\n", 1)[0]
        assert answer in after[name], name
    assert "--analyse-only" in (copy / "findings.md").read_text()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["questions", "--analyse-only", "--out", str(empty), "--no-progress"]) == 2
    assert not (empty / "findings.md").exists()
