"""Run the robustness suite and write RELIABILITY.md (``make reliability``).

Every test in ``tests/robustness`` records what happened to each broken input it tried (see
``tests/robustness/harness.py``). This script runs the suite with ``$BOSO_RELIABILITY_LOG`` set,
then counts per family: inputs tried, clear errors, correct results, tracebacks, data damaged or
lost, leaks. The last three must be 0; the script exits non-zero when they are not or when a
test failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "RELIABILITY.md"
COLUMNS = ("clear_error", "correct", "traceback", "data_lost", "leak")


def run_suite(log: Path) -> int:
    env = {**os.environ, "BOSO_RELIABILITY_LOG": str(log)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/robustness"]
    return subprocess.call(cmd, cwd=ROOT, env=env)


def summarise(records: list[dict[str, str]]) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in records:
        table[rec["family"]][rec["outcome"]] += 1
    return dict(sorted(table.items()))


def render(table: dict[str, Counter[str]], status: int) -> str:
    lines = [
        "# Reliability",
        "",
        "Written by `tools/reliability_report.py` (`make reliability`) from the robustness suite",
        "(`tests/robustness/`, one module per family). Each row counts the broken inputs and",
        "interruptions tried in that family and how they ended. *Clear error*: exit 2 with one",
        "line naming the file, row or field. *Correct*: accepted, with a right result. The last",
        "three columns must be 0.",
        "",
        "| family | inputs tried | clear errors | correct results | tracebacks "
        "| data damaged or lost | leaks |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    total: Counter[str] = Counter()
    for family, counts in table.items():
        total.update(counts)
        row = [family, str(sum(counts.values())), *(str(counts[c]) for c in COLUMNS)]
        lines.append("| " + " | ".join(row) + " |")
    row = ["**all**", f"**{sum(total.values())}**", *(f"**{total[c]}**" for c in COLUMNS)]
    lines.append("| " + " | ".join(row) + " |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = "all tests passed" if status == 0 else f"pytest exit status {status}: see its output"
    lines += ["", f"Run {stamp}: {verdict}."]
    return "\n".join(lines) + "\n"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "reliability.jsonl"
        status = run_suite(log)
        records = (
            [json.loads(line) for line in log.read_text("utf-8").splitlines()]
            if log.exists()
            else []
        )
    table = summarise(records)
    TARGET.write_text(render(table, status), "utf-8")
    print(TARGET.read_text("utf-8"))
    bad = sum(c["traceback"] + c["data_lost"] + c["leak"] for c in table.values())
    return 1 if status or bad else 0


if __name__ == "__main__":
    sys.exit(main())
