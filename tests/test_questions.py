"""`mglru-sim questions --quick`: every question runs, and every number of every answer in
findings.md is a cell of that question's results tables (generated text, no typed numbers)."""

import re
from pathlib import Path

import pandas as pd
import pytest

from simulator.cli import main
from simulator.questions.run import load_questions
from simulator.questions.stats import Spread, fmt

NUMBER = re.compile(r"(?<![\w.\-])-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?(?![\w\-])")


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("questions")
    assert main(["questions", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {p.split(".", 1)[0]: p for p in parts}


def test_every_question_is_answered_with_three_seeds(findings: Path) -> None:
    text = (findings / "findings.md").read_text()
    sections = _sections(text)
    assert sorted(sections) == ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7"]
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
        cells: set[str] = set()
        for csv in (findings / "findings" / questions[label]).glob("*.csv"):
            frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
            cells |= {str(v) for v in frame.to_numpy().ravel()}
        numbers = NUMBER.findall(answer)
        assert numbers, label
        missing = [n for n in numbers if n not in cells]
        assert missing == [], f"{label}: numbers not in its tables: {missing}"


def test_the_noise_rule_and_formatter() -> None:
    a = Spread(10.0, 1.0, 9.0, 11.0, 3)
    assert a.differs_from(Spread(20.0, 1.0, 19.0, 21.0, 3))
    assert not a.differs_from(Spread(11.0, 1.0, 10.0, 12.0, 3))
    assert [fmt(x) for x in (0.12345, 1234.5, 7.0, None, 0.000123)] == [
        "0.123", "1,234", "7", "-", "0.000123"]
