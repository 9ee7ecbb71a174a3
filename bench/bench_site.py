"""Benchmark: `boso site` build time and page weights (nbconvert renderer), and Quarto.

Two builds, each into a temporary directory (the project's ``_site/`` is not touched):

* **full scale**: every kommune in the registry × the five analyses (357 × 5 = 1 785 report
  pages), each a copy of one real kommune's executed reports from the project (or, before
  any exist, of the hand-made ones in ``tests/fixtures/site/reports``);
* **project**: the project's own ``reports/`` (what ``make site`` publishes), when there are any.

Page weight is the HTML of a report page without the shared assets (``assets/``:
plotly.min.js, CSS, JS), which the browser loads once for the whole site. Target: median report
page ≤ 500 kB.

The Quarto renderer gets its own section (``site-quarto``, written by :func:`run` too): the time
to write the ``.qmd`` sources at full scale, and to find nothing to rewrite on a second run
(both without Quarto); with ``quarto`` on PATH also the render time per page for a two-kommune
site rendered whole, after one report changed, and with nothing changed. Without Quarto the
section says "Quarto not on PATH".

Run: ``.venv/bin/python bench/bench_site.py`` (or ``make bench``).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from bench.common import machine, update_section  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "site" / "reports" / "3203-asker"
# Which fixture notebook stands in for each analysis (one real-data, one synthetic + map).
STAND_IN = {
    "befolkning": "befolkning.ipynb",
    "levekar": "befolkning.ipynb",
    "boligpriser": "kommunale_boliger.ipynb",
    "startlan": "kommunale_boliger.ipynb",
    "kommunale_boliger": "kommunale_boliger.ipynb",
}
TARGET_MEDIAN = 500_000


def _registry() -> pd.DataFrame:
    from boso import processed
    from boso.config import paths

    try:
        return processed.load_registry(paths().processed)
    except Exception:  # no processed data yet: a registry-shaped stand-in of 357 kommuner
        return pd.DataFrame(
            {
                "kommunenummer": [f"{1000 + i:04d}" for i in range(357)],
                "kommunenavn": [f"Kommune {i}" for i in range(357)],
                "fylkesnummer": [f"{10 + i % 15:02d}" for i in range(357)],
                "fylkesnavn": [f"Fylke {10 + i % 15}" for i in range(357)],
            }
        )


def _measure(inputs, workdir: Path) -> dict:
    from boso import site

    out = workdir / "_site"
    start = time.perf_counter()
    result = site.build_site(inputs, out, renderer="nbconvert")
    seconds = time.perf_counter() - start
    manifest = json.loads((out / site.MANIFEST_NAME).read_text("utf-8"))
    sizes = [manifest["page_bytes"][p] for p in manifest["report_pages"]]
    assets = {p.name: p.stat().st_size for p in (out / "assets").iterdir()}
    return {
        "seconds": seconds,
        "pages": result.pages,
        "report_pages": result.report_pages,
        "kommuner": result.kommuner,
        "median": statistics.median(sizes) if sizes else 0,
        "max": max(sizes) if sizes else 0,
        "assets": sum(assets.values()),
        "plotly": assets.get("plotly.min.js", 0),
        "total": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()),
    }


def _stand_ins() -> tuple[dict[str, Path], str]:
    """One executed notebook per analysis: a real kommune's from the project when it has all
    five (representative page weights), else the small hand-made fixtures."""
    from boso.config import paths

    reports = paths().reports
    for folder in sorted(reports.glob("[0-9][0-9][0-9][0-9]-*")):
        found = {a: folder / f"{a}.ipynb" for a in STAND_IN}
        if all(p.is_file() for p in found.values()):
            return found, f"real reports of `{folder.name}` × 357"
    return {a: FIXTURES / name for a, name in STAND_IN.items()}, "fixture reports × 357"


def _scaled_inputs(workdir: Path):
    """Every kommune of the registry × the five analyses (copies of the stand-in notebooks)."""
    from boso import processed, site
    from boso.site import model

    registry = _registry()
    reports = workdir / "reports"
    stand_ins, label = _stand_ins()
    for row in processed.check_registry(registry).itertuples(index=False):
        folder = reports / site.kommune_dir(row.kommunenummer, row.kommunenavn)
        folder.mkdir(parents=True)
        for analysis, source in stand_ins.items():
            shutil.copyfile(source, folder / f"{analysis}.ipynb")
    inputs = site.SiteInputs(registry=registry, reports_dir=reports, catalog=model._load_catalog())
    return inputs, label


def full_scale(workdir: Path) -> tuple[dict, str]:
    inputs, label = _scaled_inputs(workdir)
    return _measure(inputs, workdir), label


def quarto(workdir: Path) -> str:
    """The Quarto renderer: page sources (no Quarto needed) and, with Quarto, render times."""
    from boso import site
    from boso.site import quarto as site_quarto

    inputs, label = _scaled_inputs(workdir / "scaled")
    model = site.build_model(inputs, renderer_text="Quarto", built="bench")
    src = workdir / "site_src"
    start = time.perf_counter()
    first = site_quarto.write_quarto_sources(model, src, None, built="bench")
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    again = site_quarto.write_quarto_sources(model, src, None, built="bench")
    again_s = time.perf_counter() - start
    lines = [
        "## Site build with Quarto (`boso site --renderer quarto`)",
        "",
        f"Machine: {machine()} · load average {os.getloadavg()[0]:.1f} (shared machine) · "
        f"{time.strftime('%Y-%m-%d')}",
        "",
        "| step | pages | time |",
        "|---|---:|---:|",
        f"| write the `.qmd` sources, {label} (every page) | {len(first.written)} | "
        f"{first_s:.1f} s |",
        f"| write them again, nothing changed (hash check only) | {len(again.written)} | "
        f"{again_s:.1f} s |",
    ]
    quarto_exe = shutil.which("quarto")
    if not quarto_exe:
        lines += [
            "",
            "Quarto not on PATH: render time per page not measured. (Measured by hand with "
            "Quarto 1.10.18 before incremental rendering: ≈ 0.6 s a page, see "
            "../shared/docs/toolchain-notes.md.)",
        ]
        return "\n".join(lines)
    # Two kommuner × five analyses, rendered by Quarto: whole project, then one changed page.
    small = workdir / "small"
    folders = sorted(inputs.reports_dir.iterdir())[:2]
    registry = inputs.registry[inputs.registry["kommunenummer"].isin([f.name[:4] for f in folders])]
    small_inputs = site.SiteInputs(
        registry=registry, reports_dir=inputs.reports_dir, catalog=inputs.catalog
    )
    runs = []
    for step in ("whole project", "one report changed", "nothing changed"):
        if step == "one report changed":
            notebook = next(folders[0].glob("*.ipynb"))
            notebook.write_text(notebook.read_text("utf-8").replace("}", "} ", 1), "utf-8")
        start = time.perf_counter()
        site.build_site(small_inputs, small / "_site", renderer="quarto", source_dir=small / "src")
        total = time.perf_counter() - start
        state = json.loads((small / "src" / site_quarto.QUARTO_STATE_NAME).read_text("utf-8"))
        runs.append((step, state.get("last_render") or {}, total))
    for step, last, total in runs:
        per_page = last.get("seconds_per_page")
        per_page_text = f"{per_page:.2f} s a page" if per_page else "–"
        lines.append(
            f"| `boso site` with {quarto_exe}: {step} ({last.get('mode', '–')}) | "
            f"{last.get('pages', 0)} rendered | {total:.1f} s ({per_page_text}) |"
        )
    return "\n".join(lines)


def project(workdir: Path) -> dict | None:
    from boso import site

    try:
        inputs = site.load_inputs()
    except Exception:
        return None
    if not any(inputs.reports_dir.glob("*/*.ipynb")):
        return None
    return _measure(inputs, workdir)


def _kb(n: float) -> str:
    return f"{n / 1000:,.0f} kB".replace(",", " ")


def run() -> str:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        scaled, label = full_scale(Path(tmp) / "scaled")
        rows.append((f"full scale: 5 analyses, {label}", scaled))
        real = project(Path(tmp) / "project")
        if real is not None:
            with_reports = real["report_pages"]
            rows.append((f"project `reports/` ({with_reports} executed notebooks)", real))
    load = os.getloadavg()[0]
    lines = [
        "## Site build (`boso site`, nbconvert renderer)",
        "",
        f"Machine: {machine()} · {os.cpu_count()} worker processes · load average {load:.1f} "
        f"at the end (shared machine) · {time.strftime('%Y-%m-%d')}",
        "",
        "| build | kommuner | pages | report pages | build time | median report page | "
        "max report page | shared assets (once) | whole site |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['kommuner']} | {r['pages']} | {r['report_pages']} | "
            f"{r['seconds']:.1f} s | {_kb(r['median'])} | {_kb(r['max'])} | "
            f"{_kb(r['assets'])} (plotly.min.js {_kb(r['plotly'])}) | {_kb(r['total'])} |"
        )
    ok = all(r["median"] <= TARGET_MEDIAN for _, r in rows)
    lines += [
        "",
        f"Target: median report page ≤ {_kb(TARGET_MEDIAN)} excluding shared assets: "
        f"{'met' if ok else 'NOT met'}. Report pages embed only figure JSON and load the one "
        "shared `assets/plotly.min.js`; inlining plotly.js (nbconvert/Quarto default) would add "
        "≈ 4.8 MB to every page.",
    ]
    if len(rows) == 1:
        lines.append("No executed reports in the project's `reports/` yet: full-scale build only.")
    # run_all writes the section this returns; the Quarto section is written here.
    update_section("site-quarto", run_quarto())
    return "\n".join(lines)


def run_quarto() -> str:
    with tempfile.TemporaryDirectory(prefix="bench-site-quarto-") as tmp:
        return quarto(Path(tmp))


if __name__ == "__main__":
    section = run()
    update_section("site", section)
    print(section)
