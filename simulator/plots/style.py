"""One look for every figure: fixed colours per backend, fixed marks per notifier design.

A kernel developer compares figures side by side (and pastes them into a cover letter), so a
backend keeps its colour and a notifier design keeps its marker and line style in every figure,
whatever subset of them a sweep contains. Colours come from the Okabe-Ito palette (safe for the
common colour-vision deficiencies); generation shades are one ColorBrewer hue, which stays
readable in grey. Figures are plain :class:`matplotlib.figure.Figure` objects on an explicit Agg
canvas: no pyplot, so no global figure registry and no GUI backend is ever touched.
"""

from __future__ import annotations

import functools
import io
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec

import matplotlib as mpl
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.typing import FillStyleType, RcKeyType

from simulator.output import atomic_write

OKABE_ITO: dict[str, str] = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9",
    "bluish_green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
    "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
}

BACKEND_COLOURS: dict[str, str] = {
    "x86_tdp": OKABE_ITO["blue"],
    # the A/D-disabled TDP MMU is the same MMU: a lighter shade of the same hue family
    "x86_tdp_noad": OKABE_ITO["sky_blue"],
    "x86_shadow": OKABE_ITO["vermillion"],
    "arm64": OKABE_ITO["bluish_green"],
    "generic": OKABE_ITO["reddish_purple"],
}
"""The colour of each KVM backend in every figure (DESIGN §2)."""

_SPARE_COLOURS = (OKABE_ITO["orange"], OKABE_ITO["black"], OKABE_ITO["yellow"], "#999999")


@dataclass(frozen=True, slots=True)
class Mark:
    """How one notifier design is drawn: the point marker and the line style."""

    marker: str
    linestyle: str | tuple[int, tuple[int, ...]]


NOTIFIER_MARKS: dict[str, Mark] = {
    "blind": Mark("o", ":"),
    "per_page": Mark("s", "-"),
    "bitmap": Mark("^", "--"),
    "fast_only": Mark("D", "-."),
}
"""The marker and line style of each notifier design in every figure (DESIGN §2)."""

NOTIFIER_ORDER: tuple[str, ...] = tuple(NOTIFIER_MARKS)
"""Chronological order of the designs (before 6.12, 6.12+, v3, v5-v7): the x order of panels."""

BACKEND_ORDER: tuple[str, ...] = tuple(BACKEND_COLOURS)

_SPARE_MARKS = (Mark("X", (0, (1, 1))), Mark("P", (0, (5, 1))), Mark("v", (0, (3, 1, 1, 1))))

LOCK_FILL: dict[str, FillStyleType] = {"write": "full", "none": "none", "read": "left",
                             "rmap": "bottom"}
"""Marker fill per aging-lock mode, so lock variants of one backend and design stay apart."""

GEN_COLOURS: tuple[str, ...] = ("#08306B", "#2171B5", "#6BAED6", "#C6DBEF")
"""Generations max_seq (darkest, youngest) to max_seq-3 (lightest, oldest)."""

VCPU_COLOURS: dict[str, str] = {
    "running": OKABE_ITO["bluish_green"], "faulting": OKABE_ITO["orange"],
    "mmu_lock wait": OKABE_ITO["vermillion"], "stalled (reclaim)": "#999999",
}
CONFUSION_COLOURS: dict[str, str] = {
    "TP": OKABE_ITO["bluish_green"], "FP": OKABE_ITO["orange"],
    "FN": OKABE_ITO["vermillion"], "TN": "#BBBBBB",
}

FIGSIZE = (10.0, 5.6)
"""16:9 at 150 dpi: 1500 x 840 pixels, readable on a slide without scaling."""

RC: dict[RcKeyType, Any] = {
    "font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "legend.fontsize": 10,
    "xtick.labelsize": 11, "ytick.labelsize": 11, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 150,
    "axes.prop_cycle": cycler(color=[OKABE_ITO[k] for k in
                                     ("blue", "orange", "bluish_green", "vermillion",
                                      "reddish_purple", "sky_blue", "black")]),
    # a fixed salt makes SVG element ids, and so the SVG files, identical run to run
    "svg.hashsalt": "mglru-sim",
}


def _spare(name: str, n: int) -> int:
    # crc32, not hash(): str hashes are salted per process, and colours must not change
    return zlib.crc32(name.encode()) % n


def backend_colour(backend: str) -> str:
    """The fixed colour of ``backend``; a backend not yet known gets a stable spare colour."""
    return BACKEND_COLOURS.get(backend) or _SPARE_COLOURS[_spare(backend, len(_SPARE_COLOURS))]


def notifier_mark(notifier: str) -> Mark:
    """The fixed marker and line style of a notifier design (stable spare if unknown)."""
    return NOTIFIER_MARKS.get(notifier) or _SPARE_MARKS[_spare(notifier, len(_SPARE_MARKS))]


NOTIFIER_COLOURS: dict[str, str] = {
    "blind": OKABE_ITO["vermillion"], "per_page": OKABE_ITO["blue"],
    "bitmap": OKABE_ITO["bluish_green"], "fast_only": OKABE_ITO["reddish_purple"],
}
"""The colour of each notifier design when a figure is about the designs."""

PALETTE: tuple[str, ...] = (
    OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"], OKABE_ITO["orange"], OKABE_ITO["sky_blue"], OKABE_ITO["black"],
    "#999999", "#8C564B", "#BCBD22", "#17BECF", "#7F7F7F",
)
"""Colours of the levels of any other key, in level order (Okabe-Ito first)."""

MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")


@dataclass(frozen=True, slots=True)
class Look:
    """How one level of the key a figure is about is drawn: its colour and marker."""

    colour: str
    marker: str


def level_look(keys: tuple[str, ...] | None, value: str | None, i: int) -> Look:
    """The look of level ``i`` (value ``value``) of the hue key ``keys``: a backend keeps its
    colour and a notifier design its colour and marker in every figure; any other key's levels
    take the palette in order. Distinct for every level of one key (up to 12 levels)."""
    if keys == ("vm.backend",) and value in BACKEND_COLOURS:
        return Look(BACKEND_COLOURS[value], MARKERS[BACKEND_ORDER.index(value)])
    if keys == ("mglru.notifier",) and value in NOTIFIER_COLOURS:
        return Look(NOTIFIER_COLOURS[value], NOTIFIER_MARKS[value].marker)
    if keys is None:
        return Look(OKABE_ITO["black"], "o")
    return Look(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)])


def ordered(values: Any, order: tuple[str, ...]) -> list[str]:
    """Distinct non-null values as strings: those in ``order`` first, then the rest, sorted."""
    present = {str(v) for v in values if v == v and v is not None}  # v == v drops NaN
    return [v for v in order if v in present] + sorted(present - set(order))


P = ParamSpec("P")


@contextmanager
def style() -> Iterator[None]:
    """Apply the figure style (rcParams) for the duration of a block."""
    with mpl.rc_context(RC):
        yield


def styled(build: Callable[P, Figure]) -> Callable[P, Figure]:
    """Decorate a figure builder so its artists are created under :func:`style`."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with style():
            return build(*args, **kwargs)

    return wrapper


def new_figure(size: tuple[float, float] = FIGSIZE) -> Figure:
    """A figure on an Agg canvas, laid out by the constrained layout engine."""
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def render(fig: Figure, fmt: str) -> bytes:
    """The figure encoded as ``png`` or ``svg``, with no timestamp so the bytes are stable."""
    buf = io.BytesIO()
    # SVG carries a Date by default; PNG carries none. Both name the matplotlib version only.
    metadata = {"Date": None} if fmt == "svg" else None
    with style():
        fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()


def save(fig: Figure, out_dir: Path, name: str) -> dict[str, Path]:
    """Write ``name.png`` and ``name.svg`` under ``out_dir`` (each atomically); returns
    {format: path}."""
    return {fmt: atomic_write(out_dir / f"{name}.{fmt}", render(fig, fmt))
            for fmt in ("png", "svg")}
