"""docs/api.md is a notebook that works: its Python code blocks run, in order, in one namespace,
in an empty directory outside the repository."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_api_page_has_examples() -> None:
    assert len(BLOCK.findall(API.read_text())) >= 6


def test_every_code_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "api_doc"}
    out = io.StringIO()
    for i, code in enumerate(BLOCK.findall(API.read_text()), start=1):
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, f"docs/api.md block {i}", "exec"), namespace)
            except Exception as e:
                raise AssertionError(f"docs/api.md, code block {i}: {e!r}\n{code}") from e
    printed = out.getvalue()
    assert "unknown key (did you mean 'vcpus'?)" in printed
    assert "report.html" in printed and "sweep_passes" in printed
