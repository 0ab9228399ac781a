"""Every row of docs/errors.md: exit code 2, one line on stderr, the documented text."""

import re
import shlex
from pathlib import Path

import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| (?P<what>[^|]+) \| `(?P<cmd>[^`]+)` \| `(?P<text>.+)` \|$")


def _rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in (ROOT / "docs" / "errors.md").read_text().splitlines():
        m = ROW.match(line)
        if m:
            rows.append((m["what"].strip(), m["cmd"], m["text"]))
    return rows


def test_the_table_is_not_empty() -> None:
    assert len(_rows()) >= 20


@pytest.mark.parametrize(("what", "cmd", "text"), _rows(), ids=[r[0] for r in _rows()])
def test_bad_input_gets_one_clear_line(what: str, cmd: str, text: str,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    args = shlex.split(cmd)
    if args[0] in ("run", "sweep") and "--out" not in args:
        args += ["--out", str(tmp_path)]
    try:
        rc = main(args)
    except SystemExit as e:  # argparse usage errors
        rc = int(e.code or 0)
    err = capsys.readouterr().err
    assert rc == 2, what
    assert err.count("\n") == 1, err
    assert text in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_broken_invariant_stops_with_exit_1(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    from simulator.mm import lruvec

    real = lruvec.Lruvec.inc_max_seq

    def corrupt(self: lruvec.Lruvec, now_ns: int) -> None:
        real(self, now_ns)
        self.nr_pages[0] += 1  # break the per-generation counts on purpose

    monkeypatch.setattr(lruvec.Lruvec, "inc_max_seq", corrupt)
    rc = main(["run", "--check-invariants", "--no-report", "--out", str(tmp_path),
               "--set", "sim.duration_ms=300", "--set", "vm.memory=64MiB",
               "--set", "host.memory=48MiB"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and "invariant violated: t=" in err and "nr_pages" in err
