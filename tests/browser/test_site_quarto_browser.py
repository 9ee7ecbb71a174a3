"""The Quarto page sources rendered by pandoc (a stand-in for Quarto) and opened in Chromium.

``boso site --renderer quarto`` with the stand-in ``quarto`` of ``tests/pandoc_check.py``:
pandoc ``-s`` renders each ``.qmd`` into a page frame like Quarto's (site CSS, the page's
``include-in-header``, the navbar from ``_quarto.yml``, ``body-classes``). Opened from disk, the
pages must draw their figures with the one shared plotly.min.js, show the banner, breadcrumbs,
footer, one title, the current-section highlight and four headline cards a row, and request
nothing from outside the site. Quarto's own page frame (site_libs) is not covered here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from test_site_browser import (
    FIXTURE_REPORTS,
    Watch,
    assert_figures_drawn,
    headline_tables,
    synthetic_banner_visible,
)

from boso import site
from pandoc_check import write_fake_quarto

pytestmark = pytest.mark.browser

REGISTRY = pd.DataFrame(
    [("3203", "Asker", "32", "Akershus"), ("0301", "Oslo", "03", "Oslo")],
    columns=["kommunenummer", "kommunenavn", "fylkesnummer", "fylkesnavn"],
)


@pytest.fixture(scope="module")
def standin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("quarto-standin")
    (tmp / "bin").mkdir()
    write_fake_quarto(tmp / "bin", tmp / "calls.jsonl")
    inputs = site.SiteInputs(
        registry=REGISTRY, reports_dir=FIXTURE_REPORTS, indicator_tables=headline_tables()
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}")
        result = site.build_site(
            inputs, tmp / "_site", renderer="quarto", source_dir=tmp / "site_src", jobs=1
        )
    assert result.renderer == "quarto"
    return tmp / "_site"


@pytest.fixture
def watched(browser) -> Iterator[tuple[object, Watch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO")
    page = context.new_page()
    watch = Watch(origin="file://")
    watch.attach(page)
    yield page, watch
    context.close()


def nav_link_marked(page, text: str) -> bool:
    return page.locator(f"#quarto-header .nav-link:text-is('{text}')").evaluate(
        "el => getComputedStyle(el).borderBottomStyle === 'solid'"
    )


def test_standin_pages_from_disk(standin_site: Path, watched):
    page, watch = watched
    report = standin_site / "kommuner/3203-asker/kommunale_boliger.html"
    page.goto(report.as_uri())
    assert assert_figures_drawn(page, "kommunale_boliger") == 2
    assert synthetic_banner_visible(page)
    assert page.locator("h1:visible").count() == 1
    assert page.locator(".boso-breadcrumbs a").count() == 3
    assert "bygget" in page.locator("footer.boso-footer").inner_text()
    assert page.locator(".boso-report-nav [aria-current='page']").inner_text() == (
        "Kommunale boliger"
    )
    assert nav_link_marked(page, "Kommuner") and not nav_link_marked(page, "Forside")
    page.goto((standin_site / "kommuner/3203-asker/befolkning.html").as_uri())
    assert_figures_drawn(page, "befolkning")
    assert not synthetic_banner_visible(page)

    page.goto((standin_site / "kommuner/3203-asker/index.html").as_uri())
    columns = page.locator("dl.boso-cards").evaluate(
        "el => getComputedStyle(el).gridTemplateColumns.split(' ').length"
    )
    assert columns == 4
    assert nav_link_marked(page, "Kommuner")

    page.goto((standin_site / "index.html").as_uri())
    page.fill("[data-boso-filter]", "oslo")
    assert page.locator("li.boso-kommune:visible").count() == 1  # boso.js ran
    assert watch.console_errors == []
    assert watch.foreign_requests == []
