"""Regenerate README's performance table from a ``mglru-sim bench --suite perf --markdown``
report: the machine line and the targets table between the ``perf-table`` markers.

    mglru-sim bench --suite perf --markdown perf.md
    python scripts/perf_table.py perf.md            # rewrites README.md in place

Exit 2 (one line) when the report has no targets table or README has no markers.
"""

from __future__ import annotations

import sys
from pathlib import Path

BEGIN, END = "<!-- perf-table: begin -->", "<!-- perf-table: end -->"


def table_from_report(report: str) -> str:
    """The report's 'Ran ...' line and its Targets table, as README shows them."""
    lines = report.splitlines()
    ran = next((ln for ln in lines if ln.startswith("Ran ")), None)
    try:
        start = lines.index("## Targets") + 2
    except ValueError as e:
        raise ValueError("no '## Targets' section (was it a perf suite report?)") from e
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    head = f"Measured by `mglru-sim bench --suite perf`. {ran}" if ran else ""
    return "\n".join([head, "", *lines[start:end]])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: perf_table.py REPORT.md", file=sys.stderr)
        return 2
    readme = Path(__file__).resolve().parent.parent / "README.md"
    try:
        table = table_from_report(Path(argv[0]).read_text(encoding="utf-8"))
        text = readme.read_text(encoding="utf-8")
        if BEGIN not in text or END not in text:
            raise ValueError(f"{readme} has no {BEGIN} ... {END} markers")
        before, rest = text.split(BEGIN, 1)
        _, after = rest.split(END, 1)
    except (OSError, ValueError) as e:
        print(f"perf_table: {argv[0]}: {e}", file=sys.stderr)
        return 2
    readme.write_text(f"{before}{BEGIN}\n{table}\n{END}{after}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
