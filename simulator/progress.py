"""Progress bars for long commands: on stderr, only on a terminal, never with ``--quiet``.

Every command that can take more than a second (a run's simulated time, a sweep's runs, the
``mrc`` replays, the bench cases, the figures of ``plot``) draws its bar through :func:`bar`.
A bar is drawn only when stderr is a terminal and the user did not pass ``-q/--quiet``
(:func:`set_quiet`), so a pipe or a log file never receives carriage-return redraws, and stdout,
which carries the data (tables, summaries, paths), never receives a byte of progress.

Progress is observation only: nothing a bar does may change a result. Runs check this
(``tests/test_progress.py``: the same run with and without a bar gives the same summary).
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

_quiet = False


def set_quiet(quiet: bool) -> None:
    """``-q/--quiet``: no progress bar and no progress lines for the rest of the process."""
    global _quiet
    _quiet = quiet


def quiet() -> bool:
    """Whether ``-q/--quiet`` was given."""
    return _quiet


def enabled() -> bool:
    """Whether a bar would be drawn: stderr is a terminal and ``--quiet`` was not given."""
    try:
        return not _quiet and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


FEW = 10_000


def bar(total: float | None, desc: str, unit: str = "it", *, show: bool = True,
        **kwargs: Any) -> tqdm[Any]:
    """A tqdm bar on stderr, disabled unless :func:`enabled` (and ``show``).

    A disabled bar accepts every call (``update``, ``set_postfix``, ``close``) and draws
    nothing, so callers need no branches. A bar of at most ``FEW`` items (runs, sizes,
    cases) draws every update: tqdm otherwise coalesces updates closer than 0.1 s, and the
    bar is cleared when it closes, so its last state ("4/4") would never be seen.
    """
    if total is not None and total <= FEW:
        kwargs.setdefault("mininterval", 0.0)
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr,
                disable=not (show and enabled()), dynamic_ncols=True, leave=False, **kwargs)


def note(line: str) -> None:
    """A progress line on stderr (what a bar cannot say: a finished case's timings), unless
    ``--quiet``; written through tqdm so it does not tear a bar that is being drawn."""
    if not _quiet:
        tqdm.write(line, file=sys.stderr)


__all__ = ["bar", "enabled", "note", "quiet", "set_quiet"]
