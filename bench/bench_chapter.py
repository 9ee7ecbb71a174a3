"""Benchmark ``boso chapter``: seconds per kommune for the PDF and Word statistikkvedlegg.

Measured in fresh processes, in a temporary project (``data/`` linked, a copy of the executed
reports of a few kommuner), so the project's ``_site/`` is not touched:

(a) one kommune, both formats, ``--jobs 1``, cold (interpreter, browser and plotly.js start);
(b) ``N`` kommuner (default 4), both formats, one worker per core (as ``--all`` runs): seconds
    per kommune, extrapolated linearly to all kommuner in the registry (said so in the table:
    only N are built);
(c) a no-op rerun of (b) (every file up to date).

The reports batch (`boso reports`) is shown beside it, read from its own section of
BENCHMARKS.md. Kommuner without executed reports in ``reports/`` get a copy of one kommune's
reports as a stand-in (the chapter's cost depends on the figures, not on the names).

Environment: ``BOSO_BENCH_CHAPTER_KOMMUNER=N`` (b)'s sample size; ``BOSO_BENCH_JOBS`` its jobs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import BENCHMARKS, machine, update_section  # noqa: E402

_RUNNER = """
import json, sys, time
t0 = time.perf_counter()
from boso.chapter import run_chapters
args = json.loads(sys.argv[1])
summary = run_chapters(args["kommuner"], force=args["force"], jobs=args["jobs"], progress=False)
print(json.dumps({
    "seconds": time.perf_counter() - t0,
    "ok": len(summary.ok), "skipped": len(summary.skipped), "failed": len(summary.failed),
    "errors": [r.error for r in summary.failed][:3],
}))
"""


def _run(home: Path, kommuner: list[str], force: bool, jobs: int | None) -> dict:
    env = {**os.environ, "BOSO_HOME": str(home), "PYTHONPATH": str(ROOT / "lib")}
    args = json.dumps({"kommuner": kommuner, "force": force, "jobs": jobs})
    out = subprocess.run(
        [sys.executable, "-c", _RUNNER, args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reports_per_kommune() -> tuple[float, str] | None:
    """Seconds per kommune of ``boso reports --all`` from BENCHMARKS.md (or None)."""
    if not BENCHMARKS.is_file():
        return None
    text = BENCHMARKS.read_text("utf-8")
    row = re.search(r"\| `boso reports`, all (\d+) kommuner, --force \| \d+ \| ([\d.]+) \|", text)
    if not row:
        return None
    n, seconds = int(row.group(1)), float(row.group(2))
    return seconds / n, f"{seconds:.0f} s for {n} kommuner"


def run() -> str:
    """Run the benchmark; returns the Markdown section for BENCHMARKS.md."""
    from boso import processed, site
    from boso.config import paths

    project = paths()
    registry = processed.load_registry(project.processed)
    names = dict(zip(registry["kommunenummer"], registry["kommunenavn"], strict=True))
    have = site.discover_reports(project.reports)
    if not have:
        raise SystemExit("bench_chapter: no executed reports (run `boso reports --kommune 3203`)")
    n = int(os.environ.get("BOSO_BENCH_CHAPTER_KOMMUNER", "4"))
    # As many workers as `--all` would use (a sample of 4 would otherwise get one).
    jobs = int(os.environ.get("BOSO_BENCH_JOBS", "0") or 0) or os.cpu_count() or 1
    template = "3203" if "3203" in have else sorted(have)[0]
    # The template is built on its own first (cold start), so it must be in the sample too.
    sample = sorted([template, *[k for k in sorted(have) if k != template][: n - 1]])
    stand_ins = [k for k in sorted(names) if k not in have][: max(0, n - len(sample))]

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="boso-bench-chapter-") as tmp:
        home = Path(tmp)
        (home / "data").symlink_to(project.root / "data")
        reports = home / "reports"
        for knr in [*sample, *stand_ins]:
            src = have.get(knr, have[template])
            target = reports / site.kommune_dir(knr, names[knr])
            target.mkdir(parents=True)
            for report in src:
                shutil.copy2(report.path, target / report.path.name)
        one = _run(home, [template], force=True, jobs=1)
        started = time.perf_counter()
        batch = _run(home, [*sample, *stand_ins], force=True, jobs=jobs)
        wall = time.perf_counter() - started
        noop = _run(home, [*sample, *stand_ins], force=False, jobs=jobs)
        pdf = home / "_site" / "kommuner" / site.kommune_dir(template, names[template])
        sizes = {p.suffix: p.stat().st_size for p in pdf.glob("statistikkvedlegg.*")}
    load_after = os.getloadavg()[0]

    count = len(sample) + len(stand_ins)
    per = wall / count
    total = len(names) * per
    reports_row = _reports_per_kommune()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "## Statistikkvedlegg (`boso chapter`)",
        "",
        f"Machine: {machine()} · {when} · jobs={jobs or 'default'} · load average "
        f"{load_before:.1f} at start, {load_after:.1f} at end (other people's work shares the "
        "2 cores: on a loaded machine every number here grows with the load)",
        f"Kommuner built: {', '.join(sample)}"
        + (
            f" + stand-ins {', '.join(stand_ins)} (copies of {template}'s reports)"
            if stand_ins
            else ""
        )
        + f". Files for {template}: PDF {sizes.get('.pdf', 0) / 1e6:.2f} MB, "
        f"Word {sizes.get('.docx', 0) / 1e6:.2f} MB.",
        "",
        "| run | kommuner | seconds | s / kommune | note |",
        "|---|---:|---:|---:|---|",
        f"| one kommune ({template}), PDF + Word, --jobs 1, cold start | 1 | "
        f"{one['seconds']:.1f} | {one['seconds']:.1f} | browser + plotly.js start included |",
        f"| {count} kommuner, PDF + Word, --force | {count} | {wall:.1f} | {per:.1f} | "
        f"failed: {batch['failed'] // 2} |",
        f"| **all {len(names)} kommuner, extrapolated** from the {count} above (not built) | "
        f"{len(names)} | {total:.0f} | {per:.1f} | ≈ {total / 60:.0f} min |",
        f"| no-op rerun of the {count} (all up to date) | {count} | {noop['seconds']:.1f} | | "
        f"{noop['skipped']} files skipped |",
    ]
    if reports_row:
        lines.append(
            f"| beside it: `boso reports` (BENCHMARKS.md, reports section) | {len(names)} | "
            f"| {reports_row[0]:.2f} | {reports_row[1]} |"
        )
    lines += [
        "",
        "Seconds are wall-clock for a fresh `python` process (imports, inputs, hashing "
        "included). Most of a kommune's time is Chromium: plotly.js drawing ≈ 20 figures, "
        "printing the PDF, and the ≥ 200 dpi figure images for Word. The sample run pays one "
        "browser start per worker for only a few kommuner each; over all kommuner that start is "
        "spread thinner, so the extrapolation is an upper bound at this load.",
    ]
    if batch["failed"] or one["failed"]:
        lines.append(f"Errors: {batch['errors'] or one['errors']}")
    return "\n".join(lines)


if __name__ == "__main__":
    section = run()
    update_section("chapter", section)
    print(section)
