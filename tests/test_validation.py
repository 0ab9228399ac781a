"""Values that used to pass the checks: every one is refused with one line, before any work.

NaN and the infinities in every float key, integers wider than the arrays they feed, names
that are paths, scenario "files" that are FIFOs or devices, a ``[sweep]`` that only ``sweep``
expanded, blank descriptions, and a ``questions`` run whose every run failed (docs/errors.md
has a row, executed by tests/test_errors.py, for each command-line case).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from simulator.config import (
    ConfigError,
    describe_keys,
    key_at,
    load_scenario,
    scenario_from_dict,
)
from simulator.config.parse import MAX_SCENARIO_BYTES
from simulator.mm.pagetable import MAX_MMS
from simulator.params import INT_RANGE

ROOT = Path(__file__).resolve().parents[1]


def _doc(dotted: str, value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    node = doc
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return doc


KEYS = [k.replace("<name>", "extra") for k, _, _ in describe_keys()]
FLOAT_KEYS = [k for k in KEYS if key_at(k).type is float]


def test_there_are_float_keys_to_check() -> None:
    assert "sim.duration_ms" in FLOAT_KEYS and "costs.pte_scan_ns" in FLOAT_KEYS
    assert len(FLOAT_KEYS) > 30


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("key", FLOAT_KEYS)
def test_every_float_key_refuses_nan_and_infinities(key: str, value: float) -> None:
    with pytest.raises(ConfigError) as info:
        scenario_from_dict(_doc(key, value), "f.toml")
    assert info.value.key == key
    assert "finite" in str(info.value)


INT_KEYS = [k for k in KEYS if key_at(k).type is int or key_at(k).meta.get("size")]


@pytest.mark.parametrize("key", INT_KEYS)
def test_every_integer_key_stays_inside_int64(key: str) -> None:
    with pytest.raises(ConfigError) as info:
        scenario_from_dict(_doc(key, INT_RANGE[1] + 1), "f.toml")
    assert info.value.key == key


def test_a_huge_integer_for_a_float_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="finite"):
        scenario_from_dict({"workload": {"theta": 10**400}}, "f.toml")


def test_as_many_mms_as_an_mm_id_holds_is_fine_one_more_is_not() -> None:
    vms = {f"v{i}": {"memory": "2MiB", "vcpus": 1} for i in range(MAX_MMS - 1)}
    doc = {"vm": {"memory": "2MiB", "vcpus": 1}, "host": {"memory": "64MiB"}, "vms": vms}
    assert len(scenario_from_dict(doc).all_vms()) == MAX_MMS
    with pytest.raises(ConfigError, match="at most 128 mms"):
        scenario_from_dict({**doc, "task": {"memory": "4MiB"}})


def test_a_deep_document_from_code_is_refused_without_recursion() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ConfigError, match="nested deeper"):
        scenario_from_dict(deep, "f.toml")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "s.toml"
    os.mkfifo(fifo)
    # a subprocess, so that a regression hangs only until the timeout
    proc = subprocess.run([sys.executable, "-m", "simulator", "validate", str(fifo)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("s.toml: not a regular file")
    assert proc.stderr.count("\n") == 1


def test_an_oversized_scenario_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * MAX_SCENARIO_BYTES + "\n")
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        load_scenario(big)


def test_validate_expands_the_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "scenarios/backends.toml")]) == 0
    assert "20 sweep runs" in capsys.readouterr().out


@pytest.mark.parametrize("description", ["", " ", "\n", "\n\n  \t\n", "\u2028", "\x1c"])
def test_list_scenarios_with_a_blank_description(description: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import simulator.config.bundled as bundled
    from simulator.config.toml import toml_string

    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "blank.toml").write_text(
        f'name = "blank"\ndescription = {toml_string(description)}\n')
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path / "scenarios")
    assert main(["list", "scenarios"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "blank"


def test_questions_exit_1_when_runs_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import simulator.sweep.tasks as tasks

    def broken(sc: object) -> None:
        raise RuntimeError("the model broke")

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(tasks, "simulate", broken)
    rc = main(["questions", "--quick", "--only", "q5_fast_only", "--jobs", "1",
               "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and "runs failed" in err and "findings.md not written" in err
    assert not (tmp_path / "findings.md").exists()
