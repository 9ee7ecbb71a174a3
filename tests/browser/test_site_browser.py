"""The built site in real headless Chromium: listings, navigation, drawn figures, offline.

Three sites are checked with the same assertions:

* ``fixture``: built here from the snapshot's kommune list (all 357, read in place through
  :mod:`boso.kommune`) and the hand-made executed reports in ``tests/fixtures/site/reports``;
* ``pipeline``: the real chain in an isolated project: ``boso snapshot import`` of the
  snapshot, ``boso build``, ``boso reports --kommune 3203`` with the repository's notebooks,
  ``boso site`` (≈ 40 s);
* ``checkout``: the checkout's own ``_site/`` when ``make site`` has built it (skipped otherwise).

Screenshots of every checked page go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from boso import site
from boso.config import paths

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
FIXTURE_REPORTS = REPO / "tests" / "fixtures" / "site" / "reports"
SOURCE_FOLDERS = {"ssb": "ssb", "klass": "klass", "imdi": "imdi", "geo": "geo"}


def snapshot_registry(snapshot: Path) -> pd.DataFrame:
    from boso import kommune

    klass = snapshot / "klass"
    codes = kommune.parse_codes(json.loads((klass / "131_codesAt_2024-01-01.json").read_text()))
    groups = kommune.parse_kostra_groups(
        json.loads((klass / "131_correspondsAt_112_2024-01-01.json").read_text())
    )
    return kommune.registry(codes, groups)


def snapshot_provenance(snapshot: Path) -> list[dict]:
    manifest = json.loads((snapshot / "MANIFEST.json").read_text("utf-8"))
    rows = []
    for entry in manifest["files"]:
        folder, _, name = entry["path"].partition("/")
        if folder not in SOURCE_FOLDERS:
            continue
        rows.append(
            {
                "source": SOURCE_FOLDERS[folder],
                "name": name,
                # The manifest has no fetch time; RawStore records the import time instead.
                "fetched_at": entry.get("fetched_at") or "2026-11-01T12:00:00Z",
                "source_updated": entry.get("source_updated"),
                "synthetic": not entry.get("real", False),
                "dataset": entry.get("dataset"),
                "table_id": entry.get("table_id"),
            }
        )
    return rows


def headline_tables() -> dict[str, pd.DataFrame]:
    def rows(indicator: str, unit: str, values: dict[int, float], synthetic: bool) -> list:
        out = []
        for year, value in values.items():
            for nivaa, region, knr in (("kommune", "3203", "3203"), ("landet", "0", None)):
                out.append(
                    {
                        "indikator": indicator,
                        "nivaa": nivaa,
                        "region": region,
                        "kommunenummer": knr,
                        "aar": year,
                        "verdi": value if nivaa == "kommune" else value * 0.9,
                        "status": "",
                        "enhet": unit,
                        "syntetisk": synthetic,
                    }
                )
        return out

    return {
        "befolkning": pd.DataFrame(rows("befolkning", "personer", {2024: 98000.0}, False)),
        "kommunale_boliger_per_1000": pd.DataFrame(
            rows("kommunale_boliger_per_1000", "per 1000 innbyggere", {2023: 21.4}, True)
        ),
    }


@dataclass
class BuiltSite:
    root: Path
    kommuner: list[str]
    kommune_folder: str
    analyses: list[str]
    synthetic_pages: set[str]
    expect_synthetic_metode: bool
    shots: str


@pytest.fixture(scope="module", params=["fixture", "pipeline", "checkout"])
def built_site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, snapshot_dir: Path
) -> BuiltSite:
    registry = snapshot_registry(snapshot_dir)
    if request.param == "fixture":
        from boso.catalog import load_catalog

        out = tmp_path_factory.mktemp("browser-site") / "_site"
        inputs = site.SiteInputs(
            registry=registry,
            reports_dir=FIXTURE_REPORTS,
            catalog=list(load_catalog().values()),
            provenance=snapshot_provenance(snapshot_dir),
            indicator_tables=headline_tables(),
        )
        site.build_site(inputs, out, renderer="nbconvert", jobs=1)
        root = out
    elif request.param == "pipeline":
        root = request.getfixturevalue("pipeline_project") / "_site"
    else:
        root = paths().site
        if not (root / site.MANIFEST_NAME).is_file():
            pytest.skip(f"no built project site at {root} (run `make site` first)")
    manifest = json.loads((root / site.MANIFEST_NAME).read_text("utf-8"))
    reports = sorted(manifest["report_pages"])
    if not reports:
        pytest.fail(f"{root}: the site has no report pages")
    # Check the first kommune that has reports: all of its analyses.
    folder = reports[0].split("/")[1]
    analyses = [Path(p).stem for p in reports if p.split("/")[1] == folder]
    return BuiltSite(
        root=root,
        kommuner=list(registry["kommunenummer"]),
        kommune_folder=folder,
        analyses=analyses,
        synthetic_pages=set(manifest["synthetic_pages"]),
        expect_synthetic_metode=True,
        shots=request.param,
    )


@dataclass
class Watch:
    """Everything a page did that the site must not do: errors and requests off-site."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on(
            "console",
            lambda msg: (
                self.console_errors.append(f"{msg.type}: {msg.text}")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))
        page.on("request", self._request)

    def _request(self, request) -> None:
        url = request.url
        if url.startswith("data:"):
            return
        parsed = urlparse(url)
        if f"{parsed.scheme}://{parsed.netloc}" != self.origin:
            self.foreign_requests.append(url)


@pytest.fixture
def page_and_watch(browser) -> Iterator[tuple[object, Watch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO")
    page = context.new_page()
    holder = Watch(origin="")
    holder.attach(page)
    yield page, holder
    context.close()


def assert_figures_drawn(page, where: str) -> int:
    """Every plotly figure has an SVG with at least one drawn data trace; returns the count."""
    plots = page.locator(".boso-plot")
    count = plots.count()
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.boso-plot')).every(
               el => el.querySelector('svg.main-svg') && el._fullData && el._fullData.length)""",
        timeout=20000,
    )
    for i in range(count):
        drawn = plots.nth(i).evaluate(
            """el => el.querySelectorAll(
                   '.scatterlayer .trace path.js-line, .scatterlayer .trace path.js-fill,'
                   + ' .scatterlayer .trace .point, .barlayer .trace .point path,'
                   + ' .barlayer .point').length"""
        )
        assert drawn > 0, f"{where}: figure #{i} has an SVG but no drawn data"
    return count


def shot(page, screenshot_dir: Path, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=full_page)


def synthetic_banner_visible(page) -> bool:
    banner = page.locator("main .boso-synthetic-banner")
    return banner.count() > 0 and banner.first.is_visible()


def test_site_over_http(built_site: BuiltSite, serve, page_and_watch, screenshot_dir: Path):
    page, watch = page_and_watch
    base = serve(built_site.root)
    watch.origin = base.rstrip("/")
    tag = built_site.shots

    # Front page: every kommune in the snapshot is listed and linked.
    page.goto(base + "index.html")
    listed = page.locator("li.boso-kommune").evaluate_all(
        "els => els.map(e => e.dataset.kommunenummer)"
    )
    assert sorted(listed) == sorted(built_site.kommuner)
    assert len(listed) == 357
    shot(page, screenshot_dir, f"{tag}-forside")

    # The filter narrows the list without a server round trip.
    page.fill("[data-boso-filter]", "asker")
    visible = page.locator("li.boso-kommune:visible").evaluate_all(
        "els => els.map(e => e.dataset.kommunenummer)"
    )
    assert "3203" in visible and len(visible) < 5
    assert "av 357 kommuner" in page.locator("[data-boso-count]").inner_text()
    page.fill("[data-boso-filter]", "")

    # Follow links: front page -> kommune -> each analysis.
    folder = built_site.kommune_folder
    page.locator(f"li.boso-kommune a[href='kommuner/{folder}/index.html']").click()
    page.wait_for_url(re.compile(rf"kommuner/{re.escape(folder)}/index\.html$"))
    assert page.locator("h1").first.is_visible()
    shot(page, screenshot_dir, f"{tag}-kommune")
    landing = page.url
    kommune_synthetic = f"kommuner/{folder}/index.html" in built_site.synthetic_pages
    assert synthetic_banner_visible(page) == kommune_synthetic

    for analysis in built_site.analyses:
        page.goto(landing)
        page.locator(f".boso-analysis-list a[href='{analysis}.html']").click()
        page.wait_for_url(re.compile(rf"/{re.escape(analysis)}\.html$"))
        n = assert_figures_drawn(page, f"{folder}/{analysis}")
        assert n >= 0
        rel = f"kommuner/{folder}/{analysis}.html"
        assert synthetic_banner_visible(page) == (rel in built_site.synthetic_pages), rel
        if rel in built_site.synthetic_pages:
            # Each synthetic figure carries its own notice too.
            notices = page.locator("figure.boso-figure[data-synthetic='true'] .boso-synthetic")
            assert all(notices.nth(i).is_visible() for i in range(notices.count()))
        shot(page, screenshot_dir, f"{tag}-{folder}-{analysis}", full_page=True)

    page.goto(base + "data-og-metode.html")
    assert synthetic_banner_visible(page)
    assert page.locator("table.boso-catalog tbody tr").count() > 5
    shot(page, screenshot_dir, f"{tag}-data-og-metode")

    assert watch.console_errors == []
    assert watch.foreign_requests == []


def test_fixture_site_figures_and_map(built_site: BuiltSite, serve, page_and_watch):
    if built_site.shots != "fixture":
        pytest.skip("fixture-specific expectations")
    page, watch = page_and_watch
    base = serve(built_site.root)
    watch.origin = base.rstrip("/")
    page.goto(base + "kommuner/3203-asker/kommunale_boliger.html")
    assert assert_figures_drawn(page, "kommunale_boliger") == 2
    # The map: filled polygons (EPSG:25833 metres) drawn as SVG fills, locked aspect ratio.
    fills = page.locator("#fig-kb-map .scatterlayer path.js-fill").count()
    assert fills == 3
    # The real-data page shows no synthetic banner, the synthetic one does.
    assert synthetic_banner_visible(page)
    page.goto(base + "kommuner/3203-asker/befolkning.html")
    assert not synthetic_banner_visible(page)
    assert page.locator("text=FutureWarning").count() == 0
    # A kommune without reports says so.
    page.goto(base + "kommuner/0301-oslo/index.html")
    assert page.locator("text=Rapporter ikke laget ennå").is_visible()
    assert watch.console_errors == []
    assert watch.foreign_requests == []


def test_site_from_disk(built_site: BuiltSite, page_and_watch, screenshot_dir: Path):
    """Opened as files (USB stick): figures draw and nothing is fetched from anywhere else."""
    page, watch = page_and_watch
    watch.origin = "file://"
    folder, analysis = built_site.kommune_folder, built_site.analyses[0]
    page.goto((built_site.root / "index.html").as_uri())
    page.locator(f"li.boso-kommune a[href='kommuner/{folder}/index.html']").click()
    page.locator(f".boso-analysis-list a[href='{analysis}.html']").click()
    page.wait_for_url(re.compile(rf"/{re.escape(analysis)}\.html$"))
    assert_figures_drawn(page, f"file:// {folder}/{analysis}")
    shot(page, screenshot_dir, f"{built_site.shots}-file-{folder}-{analysis}")
    assert watch.console_errors == []
    assert watch.foreign_requests == []
