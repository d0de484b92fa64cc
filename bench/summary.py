"""One table of every benchmark's goals, printed at the end of `make bench`.

Each benchmark records its goals as it reports them (`record`): what is measured, the figure, its baseline
measured in the same run, the ratio and the target, and whether the target is met. The records go to the
file `BENCH_SUMMARY` names, a JSON object per line (without it, nothing is recorded); `python -m
bench.summary` prints them as one table.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

COLUMNS = ("bench", "goal", "measured", "baseline", "ratio", "target")
HEADINGS = ("benchmark", "goal", "measured", "baseline", "ratio", "target", "met")


def record(bench: str, goal: str, figures: tuple[str, str, str, str], *, met: bool | None) -> None:
    """Add one goal to the summary: its figures (measured, baseline, ratio, target, as shown) and whether
    it is met (None where the goal has no pass or fail)."""
    path = os.environ.get("BENCH_SUMMARY")
    if not path:
        return
    measured, baseline, ratio, target = figures
    line = {"bench": bench, "goal": goal, "measured": measured, "baseline": baseline, "ratio": ratio}
    line |= {"target": target, "met": met}
    with Path(path).open("a", encoding="utf-8") as summary:
        summary.write(json.dumps(line, ensure_ascii=False) + "\n")


def main() -> None:
    path = Path(os.environ.get("BENCH_SUMMARY", ""))
    if not path.is_file():
        sys.exit("bench-summary: BENCH_SUMMARY names no file of records (make bench writes one).")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nSummary of the benchmarks ({len(lines)} goals; load average now {load}):\n")
    shown = {True: "yes", False: "NO", None: "—"}
    rows = [[*(line[key] for key in COLUMNS), shown[line["met"]]] for line in lines]
    widths = [max(len(cell) for cell in column) + 2 for column in zip(HEADINGS, *rows, strict=True)]
    for row in [list(HEADINGS), *rows]:
        print("".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
