"""Every figure of a run and of a 2 x 2 sweep fits its canvas and tells its series apart, and the
report names every swept key with its value as written (issue 18, "Done when").

The run and the sweep are real (tiny, through the command line); each figure is drawn with the
Agg renderer and every legend, title and axis label is measured in display pixels against the
figure's own bounding box, so a legend pushed off the canvas or a title wider than the figure
fails here, naming the figure and the text.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.artist import Artist
from matplotlib.backend_bases import RendererBase
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from simulator.cli import main
from simulator.plots import (
    FAMILIES,
    NamedFigure,
    family_figure,
    load_results,
    results_figures,
    tradeoff_figure,
)
from simulator.report import build_report, render_html

FIXTURES = Path(__file__).parent / "fixtures" / "results"
SMALL = ["sim.duration_ms=60", "vm.memory=32MiB", "vm.vcpus=2", "sim.sample_interval_ms=5"]
SWEPT = {"host.memory": ["24MiB", "16MiB"], "mglru.notifier": ["blind", "per_page"]}
SLACK = 1.0  # pixels: antialiasing may reach half a pixel past an edge


def _sets(values: list[str]) -> list[str]:
    return [arg for v in values for arg in ("--set", v)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("layout")
    # the figures and report are made once, below (the commands' own report is the same)
    assert main(["run", "default", *_sets([*SMALL, "host.memory=24MiB"]), "--out",
                 str(out / "run"), "--no-report", "-q"]) == 0
    lists = [f"{k}=[{','.join(v)}]" for k, v in SWEPT.items()]
    assert main(["sweep", "default", *_sets([*SMALL, *lists]), "--out", str(out / "sweep"),
                 "--jobs", "1", "--no-report", "-q"]) == 0
    (run,) = (out / "run" / "default").iterdir()
    return {"run": run, "sweep": out / "sweep" / "default"}


Drawn = list[tuple[str, NamedFigure]]


def _many_keys() -> pd.DataFrame:
    """A synthetic sweep of five swept keys and seeds: columns, rows and line styles in use."""
    levels = {"mglru.notifier": ["blind", "per_page", "bitmap"], "vm.vcpus": [1, 2],
              "vm.aging_lock": ["write", "none"], "host.memory": ["192MiB", "128MiB"],
              "workload.kind": ["zipf", "uniform"], "sim.seed": [1, 2]}
    rows = [dict(zip(levels, combo, strict=True))
            for combo in itertools.product(*levels.values())]
    table = pd.DataFrame(rows)
    n = len(table)
    return table.assign(run_index=range(n), run_id=[f"{i:012x}" for i in range(n)],
                        status="ok", backend="x86_tdp", aging_passes=4,
                        aging_pass_mean_ns=[1e5 * (i % 7 + 1) for i in range(n)],
                        aging_cpu_ns=[1e6 * (i % 5 + 1) for i in range(n)],
                        vcpu_lock_wait_ns=1e6, vcpu_direct_reclaim_ns=2e6, vcpu_wall_ns=1e8,
                        young_precision=0.9, young_recall=[0.5 + (i % 4) / 10 for i in range(n)],
                        young_f1=0.7, refaults=[1000 * (i % 3) for i in range(n)],
                        miss_ratio=0.05)


@pytest.fixture(scope="module")
def figures(folders: dict[str, Path]) -> Drawn:
    """Every figure of the run, the sweep and the committed fixtures, drawn once; the run's
    and the sweep's report.html rendered from them."""
    found = []
    for where in (folders["run"], folders["sweep"], FIXTURES / "run", FIXTURES / "sweep"):
        results = load_results(where)
        drawn = results_figures(results)
        found += [(where.name, f) for f in drawn]
        if where in folders.values():
            (where / "report.html").write_text(render_html(build_report(results, drawn)))
    table = _many_keys()
    found += [("many_keys", NamedFigure(f.name, f.caption, family_figure(table, f)))
              for f in FAMILIES]
    found.append(("many_keys", NamedFigure("tradeoff", "", tradeoff_figure(table))))
    for _, named in found:
        named.figure.canvas.draw()
    return found


def _renderer(fig: Figure) -> RendererBase:
    return fig.canvas.get_renderer()  # type: ignore[attr-defined,no-any-return]


def _named_artists(fig: Figure) -> list[tuple[str, Artist]]:
    """Legends, the figure title, axes titles and axis labels: what must stay on the canvas."""
    out: list[tuple[str, Artist]] = [("legend", lg) for lg in fig.legends]
    if fig._suptitle is not None:
        out.append(("suptitle", fig._suptitle))
    for ax in fig.axes:
        if ax.get_legend() is not None:
            out.append(("legend", ax.get_legend()))
        out += [("title", ax.title), ("xlabel", ax.xaxis.label), ("ylabel", ax.yaxis.label)]
    return [(kind, a) for kind, a in out
            if a.get_visible() and not (isinstance(a, Text) and not a.get_text())]


def _describe(kind: str, artist: Artist) -> str:
    if isinstance(artist, Legend):
        return f"legend {[t.get_text() for t in artist.get_texts()][:3]}"
    return f"{kind} {artist.get_text()!r}" if isinstance(artist, Text) else kind


def _inside(inner: Bbox, outer: Bbox) -> bool:
    return (inner.x0 >= outer.x0 - SLACK and inner.y0 >= outer.y0 - SLACK
            and inner.x1 <= outer.x1 + SLACK and inner.y1 <= outer.y1 + SLACK)


def _signature(handle: Artist) -> tuple[object, ...]:
    if isinstance(handle, Line2D):
        return ("line", to_hex(handle.get_color()), handle.get_marker(),
                str(handle.get_linestyle()), handle.get_fillstyle(), handle.get_markersize())
    if isinstance(handle, Patch):
        return ("patch", to_hex(handle.get_facecolor()), handle.get_hatch())
    face = getattr(handle, "get_facecolor", None)
    colours = face() if face is not None else []
    return ("other", tuple(to_hex(c) for c in colours))


def test_every_figure_fits_its_canvas(figures: Drawn) -> None:
    assert len(figures) >= 5 + 5 + 6 + 6 + 5
    for where, named in figures:
        fig = named.figure
        renderer = _renderer(fig)
        tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
        assert _inside(tight, fig.bbox), f"{where}/{named.name}: drawn outside the canvas"
        for kind, artist in _named_artists(fig):
            box = artist.get_window_extent(renderer)
            assert _inside(box, fig.bbox), \
                f"{where}/{named.name}: {_describe(kind, artist)} outside the figure"


def test_legends_sit_outside_the_axes_and_the_titles(figures: Drawn) -> None:
    for where, named in figures:
        fig = named.figure
        renderer = _renderer(fig)
        artists = _named_artists(fig)
        titles = [a.get_window_extent(renderer) for kind, a in artists
                  if kind in ("suptitle", "title")]
        for _, legend in (x for x in artists if x[0] == "legend"):
            box = legend.get_window_extent(renderer)
            for ax in fig.axes:
                assert not box.overlaps(ax.bbox), f"{where}/{named.name}: legend on the axes"
            for title in titles:
                assert not box.overlaps(title), f"{where}/{named.name}: legend on a title"


def test_every_legend_tells_its_entries_apart(figures: Drawn) -> None:
    for where, named in figures:
        fig = named.figure
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
        for legend in legends:
            signatures = [_signature(h) for h in legend.legend_handles]
            labels = [t.get_text() for t in legend.get_texts()]
            assert len(set(signatures)) == len(signatures), f"{where}/{named.name}: {labels}"


def test_sweep_panels_draw_each_level_distinctly(figures: Drawn) -> None:
    sweep = [f for where, f in figures if where == "default"
             and f.name.startswith("sweep_") and f.name != "sweep_accuracy_cost"]
    assert len(sweep) == 4
    for named in sweep:
        for ax in named.figure.axes:
            series = [ln for ln in ax.lines if ln.get_marker() not in ("None", "x", "")]
            looks = {(to_hex(ln.get_color()), ln.get_marker()) for ln in series}
            assert len(looks) == len(series) == len(SWEPT["mglru.notifier"]), named.name
            ticks = [t.get_text() for t in ax.get_xticklabels()]
            assert ticks == SWEPT["host.memory"]  # the x axis: the values as written


def test_the_report_names_every_swept_key_as_written(folders: dict[str, Path],
                                                     figures: Drawn) -> None:
    html = (folders["sweep"] / "report.html").read_text()
    for key, values in SWEPT.items():
        for value in values:
            assert f"{key}={value}" in html, (key, value)
        assert f"{key} = {', '.join(values)}" in html
    run_html = (folders["run"] / "report.html").read_text()
    # the header is made from the effective configuration (after --set), not the description
    assert "A 32 MiB, 2-vCPU x86_tdp VM" in run_html and "24 MiB memcg" in run_html


def test_the_checks_find_a_clipped_legend_and_title() -> None:
    from simulator.plots.style import new_figure

    fig = new_figure((4.0, 3.0))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="a")
    ax.plot([0, 1], [1, 0], label="b")
    ax.legend(loc="upper left", bbox_to_anchor=(1.6, 1.0))  # off the right edge
    ax.set_title("a title much wider than this small figure can ever hold on one line")
    fig.canvas.draw()
    renderer = _renderer(fig)
    outside = [kind for kind, a in _named_artists(fig)
               if not _inside(a.get_window_extent(renderer), fig.bbox)]
    assert outside == ["legend", "title"]
    same = new_figure()
    same.add_subplot().plot([0], [0], "o", color="red", label="x")
    same.axes[0].plot([1], [1], "o", color="red", label="y")
    legend = same.legend()
    assert len({_signature(h) for h in legend.legend_handles}) == 1  # would fail the check


def test_five_swept_keys_each_take_a_part(figures: Drawn) -> None:
    fig = next(f for where, f in figures if where == "many_keys").figure
    # hue: the notifier; x: vCPUs; columns: the aging lock; rows: memory (x 2 metrics);
    # line styles: the workload; seeds are averaged
    assert len(fig.axes) == 2 * 2 * 2
    assert fig.axes[0].get_title() == "vm.aging_lock=write\nhost.memory=192MiB"
    labels = {t.get_text() for lg in fig.legends for t in lg.get_texts()}
    assert {"mglru.notifier=bitmap", "workload.kind=uniform",
            "mean over seeds; bar: min-max"} <= labels
    styles = {str(ln.get_linestyle()) for ax in fig.axes for ln in ax.lines}
    assert {"-", "--"} <= styles
