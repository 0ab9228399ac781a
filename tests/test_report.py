"""report.html and ``mglru-sim plot`` on the committed fixture results (no re-simulation).

The page must embed every figure the folder gets and every table the report builds, carry the
effective configuration, and reference nothing outside itself.
"""

from __future__ import annotations

import base64
import contextlib
import io
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.cli import main
from simulator.metrics import SUMMARY_COLUMNS
from simulator.plots import load_results, results_figures
from simulator.report import (
    REPORT_FILE,
    Report,
    ReportFiles,
    build_report,
    format_value,
    write_report,
)

FIXTURES = Path(__file__).parent / "fixtures" / "results"


class Page(HTMLParser):
    """Counts the elements a test cares about and collects attributes and text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.imgs: list[dict[str, str | None]] = []
        self.refs: list[str] = []
        self.pre: list[str] = []
        self._in_pre = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        for key in ("src", "href"):
            if a.get(key) and tag != "img":
                self.refs.append(str(a[key]))
        self._in_pre = tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data: str) -> None:
        if self._in_pre:
            self.pre.append(data)


Written = tuple[str, ReportFiles, Report]


def _expected(name: str, files: ReportFiles) -> Written:
    # the same report without figures, to know which tables the page should hold
    return name, files, build_report(load_results(FIXTURES / name), figures=[])


@pytest.fixture(scope="module")
def run_report(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The run fixture's report, by ``write_report`` into (a copy of) the run folder itself."""
    run = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(FIXTURES / "run", run)
    page = write_report(run)
    return _expected("run", ReportFiles(page, sorted((run / "figures").glob("*.png"))))


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The sweep fixture's report, by ``mglru-sim plot --out``; its stdout is kept beside."""
    tmp = tmp_path_factory.mktemp("report")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["plot", str(FIXTURES / "sweep"), "--out", str(tmp / "out")]) == 0
    (tmp / "stdout.txt").write_text(stdout.getvalue())
    files = ReportFiles(tmp / "out" / REPORT_FILE, sorted((tmp / "out" / "figures").glob("*.png")))
    return _expected("sweep", files)


@pytest.fixture(params=["run", "sweep"])
def written(request: pytest.FixtureRequest) -> Written:
    result: Written = request.getfixturevalue(f"{request.param}_report")
    return result


def test_every_figure_and_table_embedded(written: Written) -> None:
    name, files, expected = written
    page = Page(files.html.read_text(encoding="utf-8"))
    figure_names = [f.name for f in results_figures(load_results(FIXTURES / name))]
    assert sorted(p.stem for p in files.figures) == sorted(figure_names)
    assert page.tags.get("img", 0) + page.tags.get("svg", 0) == len(figure_names)
    assert page.tags["figure"] == len(figure_names)
    assert page.tags["table"] == len(expected.tables) >= 2
    for img in page.imgs:
        src = str(img["src"])
        assert src.startswith("data:image/png;base64,") and img["alt"]
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
    for stem in figure_names:
        assert (files.html.parent / "figures" / f"{stem}.svg").is_file()
        assert f'id="{stem}"' in files.html.read_text(encoding="utf-8")


def test_self_contained(written: Written) -> None:
    _, files, _ = written
    text = files.html.read_text(encoding="utf-8")
    page = Page(text)
    assert all(ref.startswith("#") for ref in page.refs), page.refs
    assert "<script" not in text and "<link" not in text and "url(" not in text
    assert files.html.name == REPORT_FILE


def test_configuration_embedded(written: Written) -> None:
    name, files, _ = written
    page = Page(files.html.read_text(encoding="utf-8"))
    configs = [p for p in page.pre if "[vm]" in p]
    if name == "run":
        assert len(configs) == 1 and configs[0] == (FIXTURES / "run" / "config.toml").read_text()
        assert any(p.startswith("# t_ns=") and "memcg" in p for p in page.pre)
    else:
        assert len(configs) == page.tags["details"] == 8


def test_run_tables() -> None:
    report = build_report(load_results(FIXTURES / "run"), figures=[])
    titles = [t.title for t in report.tables]
    assert titles == ["Summary", "Young-bit accuracy by decision source", "Aging passes",
                      "Miss-ratio curve"]
    summary = report.tables[0].frame
    assert summary["column"].tolist()[:len(SUMMARY_COLUMNS)] == list(SUMMARY_COLUMNS)
    sources = report.tables[1].frame["decided by"].tolist()
    assert sources[0] == "all" and {"walk", "rmap", "look_around"} <= set(sources)


def test_sweep_tables() -> None:
    report = build_report(load_results(FIXTURES / "sweep"), figures=[])
    runs, cal = report.tables  # no seeds: nothing to average, so no table of means
    assert runs.title == "Runs" and len(runs.frame) == 8
    assert runs.frame.columns[:4].tolist() == [
        "run_id", "mglru.notifier", "vm.aging_lock", "vm.vcpus"]
    assert runs.frame["vm.vcpus"].tolist() == ["1", "2"] * 4  # as written in the sweep
    assert cal.title == "Calibration" and "simulated / published" in cal.frame.columns
    assert "Swept (values as written in the sweep): mglru.notifier = blind, per_page; " \
        "vm.aging_lock = write, none; vm.vcpus = 1, 2." in report.facts


def test_means_over_seeds_only(tmp_path: Path) -> None:
    table = pd.read_csv(FIXTURES / "sweep" / "sweep.csv")
    seeds = pd.concat([table.assign(**{"sim.seed": 1}), table.assign(**{"sim.seed": 2})])
    folder = tmp_path / "seeds"
    folder.mkdir()
    seeds.to_csv(folder / "sweep.csv", index=False)
    report = build_report(load_results(folder), figures=[])
    means = next(t for t in report.tables if t.title.startswith("Mean over seeds"))
    assert len(means.frame) == 8 and (means.frame["seeds"] == 2).all()
    assert means.frame.columns[:4].tolist() == [
        "mglru.notifier", "vm.aging_lock", "vm.vcpus", "seeds"]


@pytest.mark.parametrize(("value", "text"), [
    (None, "–"), (float("nan"), "–"), (np.int64(1234567), "1,234,567"), (12.0, "12"),
    (0.59234, "0.5923"), (44073.625, "44,074"), (True, "true"), ("x86_tdp", "x86_tdp"),
])
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_write_report_default_location(run_report: Written) -> None:
    _, files, _ = run_report
    run = files.html.parent
    assert files.html == run / REPORT_FILE and (run / "summary.csv").is_file()
    assert sorted(p.name for p in (run / "figures").iterdir()) == sorted(
        f"{n}.{ext}" for n in ("run_generations", "run_aging_passes", "run_vcpu_time",
                               "run_young_confusion", "run_refaults_evictions", "mrc")
        for ext in ("png", "svg"))


def test_cli_plot_prints_where(sweep_report: Written) -> None:
    _, files, _ = sweep_report
    printed = (files.html.parent.parent / "stdout.txt").read_text()
    assert f"report: {files.html}" in printed
    assert f"figures: {files.html.parent / 'figures'} (6 as PNG and SVG)" in printed


@pytest.mark.parametrize("make", ["missing", "empty", "bad_csv"])
def test_cli_plot_bad_input(make: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "results"
    if make != "missing":
        target.mkdir()
    if make == "bad_csv":
        (target / "summary.csv").write_text("only,junk\n1,2\n")
    assert main(["plot", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err and "Traceback" not in err
