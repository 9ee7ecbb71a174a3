"""`boso site`: page structure, links, offline assets, synthetic notices, renderers, atomic swap.

Built from hand-made executed reports (tests/fixtures/site/reports, regenerate with
``tests/fixtures/site/make_fixtures.py``) and a small fake registry, so these run in seconds
without the snapshot. The browser checks live in tests/browser/.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from boso import site
from boso.errors import DataError
from boso.outputs import SYNTHETIC_NOTICE
from boso.site import build

REPO = Path(__file__).resolve().parents[2]
FIXTURE_REPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "site" / "reports"

REGISTRY = pd.DataFrame(
    [
        ("0301", "Oslo", "03", "Oslo", "EKG13", "KOSTRA-gruppe 13"),
        ("3203", "Asker", "32", "Akershus", "EKG12", "KOSTRA-gruppe 12"),
        ("3903", "Holmestrand", "39", "Vestfold", "EKG11", "KOSTRA-gruppe 11"),
        ("1508", "Ålesund", "15", "Møre og Romsdal", "EKG13", "KOSTRA-gruppe 13"),
        ("5624", "Porsanger - Porsáŋgu - Porsanki", "56", "Finnmark", "EKG05", "KOSTRA-gruppe 5"),
        ("3301", "Drammen", "33", "Buskerud", "EKG13", "KOSTRA-gruppe 13"),
    ],
    columns=[
        "kommunenummer",
        "kommunenavn",
        "fylkesnummer",
        "fylkesnavn",
        "kostragruppe",
        "kostragruppenavn",
    ],
)
CATALOG = [
    {
        "id": "befolkning",
        "label": "Befolkning",
        "definition": "Folkemengde 1. januar.",
        "unit": "personer",
        "kind": "count",
        "source": "ssb",
        "table": "07459",
    },
    {
        "id": "kommunale_boliger_per_1000",
        "label": "Kommunalt disponerte boliger per 1000 innbyggere",
        "definition": "Boliger kommunen disponerer, per 1000 innbyggere.",
        "unit": "per 1000 innbyggere",
        "kind": "rate",
        "source": "ssb",
        "table": "12008",
    },
    {
        "id": "skjult",
        "label": "Hjelpeserie",
        "unit": "x",
        "kind": "count",
        "source": "ssb",
        "table": "12008",
        "hidden": True,
    },
]
PROVENANCE = [
    {
        "source": "ssb",
        "name": "07459.json",
        "fetched_at": "2024-05-02T10:11:12Z",
        "source_updated": "2024-02-21T07:00:00Z",
        "synthetic": False,
        "dataset": "SSB 07459 Befolkning",
        "table_id": "07459",
    },
    {
        "source": "ssb",
        "name": "12008.json",
        "fetched_at": "2024-05-03T09:00:00Z",
        "source_updated": None,
        "synthetic": True,
        "dataset": "SSB 12008 Kommunalt disponerte boliger (KOSTRA)",
        "table_id": "12008",
    },
]


def indicator_rows(indicator: str, unit: str, rows: list[tuple], synthetic: bool) -> pd.DataFrame:
    """rows: (nivaa, region, aar, verdi, status)."""
    return pd.DataFrame(
        [
            {
                "indikator": indicator,
                "nivaa": nivaa,
                "region": region,
                "kommunenummer": region if nivaa == "kommune" else None,
                "aar": aar,
                "verdi": verdi,
                "status": status,
                "enhet": unit,
                "syntetisk": synthetic,
            }
            for nivaa, region, aar, verdi, status in rows
        ]
    )


TABLES = {
    "befolkning": indicator_rows(
        "befolkning",
        "personer",
        [
            ("kommune", "3203", 2023, 97000.0, ""),
            ("kommune", "3203", 2024, 98123.0, ""),
            ("kommune", "0301", 2024, float("nan"), ".."),
            ("landet", "0", 2024, 5550203.0, ""),
        ],
        False,
    ),
    "kommunale_boliger_per_1000": indicator_rows(
        "kommunale_boliger_per_1000",
        "per 1000 innbyggere",
        [
            ("kommune", "3203", 2022, 20.5, ""),
            # The latest year is suppressed: the card shows the last published value instead.
            ("kommune", "3203", 2023, float("nan"), ":"),
            ("landet", "0", 2022, 21.04, ""),
        ],
        True,
    ),
}


def make_inputs(reports_dir: Path = FIXTURE_REPORTS, **changes) -> site.SiteInputs:
    values = {
        "registry": REGISTRY,
        "reports_dir": reports_dir,
        "catalog": CATALOG,
        "provenance": PROVENANCE,
        "indicator_tables": TABLES,
        "quarto_config": REPO / "_quarto.yml",
    }
    values.update(changes)
    return site.SiteInputs(**values)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "_site"
    result = site.build_site(make_inputs(), out, renderer="nbconvert", jobs=1)
    assert result.renderer == "nbconvert"
    assert result.kommuner == len(REGISTRY)
    assert result.report_pages == 2
    return out


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"href", "src"} and value is not None:
                self.urls.append((tag, value))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text("utf-8"))
    return parser


def read(built: Path, rel: str) -> str:
    return (built / rel).read_text("utf-8")


def test_page_structure(built: Path):
    expected = [
        "index.html",
        "kommuner/index.html",
        "data-og-metode.html",
        "om.html",
        "assets/plotly.min.js",
        "assets/boso.css",
        "assets/boso.js",
        "kommuner/3203-asker/index.html",
        "kommuner/3203-asker/befolkning.html",
        "kommuner/3203-asker/kommunale_boliger.html",
        "kommuner/1508-alesund/index.html",
        # Same folder naming as reports/ (boso.kommune.slug), whatever it does with Sámi letters.
        f"kommuner/{site.kommune_dir('5624', 'Porsanger - Porsáŋgu - Porsanki')}/index.html",
    ]
    for rel in expected:
        assert (built / rel).is_file(), rel
    manifest = json.loads(read(built, site.MANIFEST_NAME))
    assert manifest["renderer"] == "nbconvert"
    assert sorted(manifest["report_pages"]) == [
        "kommuner/3203-asker/befolkning.html",
        "kommuner/3203-asker/kommunale_boliger.html",
    ]
    # A served site must be world-readable (mkdtemp creates 0700 directories).
    assert stat.S_IMODE(built.stat().st_mode) & 0o005 == 0o005


def test_every_link_resolves_and_nothing_leaves_the_site(built: Path):
    pages = sorted(built.rglob("*.html"))
    assert len(pages) == 4 + len(REGISTRY) + 2
    for page in pages:
        for tag, url in parse(page).urls:
            if url.startswith(("data:", "#")):
                continue
            assert not re.match(r"^[a-z]+:|^//", url), f"{page}: external {tag} {url}"
            assert not url.startswith("/"), f"{page}: absolute {url} breaks file://"
            target = (page.parent / url.split("#")[0]).resolve()
            assert target.is_file(), f"{page.relative_to(built)}: broken link {url}"
    css = read(built, "assets/boso.css")
    assert "http" not in css and "@import" not in css


def test_front_page_lists_every_kommune_grouped_by_fylke(built: Path):
    html = read(built, "index.html")
    listed = re.findall(r'data-kommunenummer="(\d{4})"', html)
    assert sorted(listed) == sorted(REGISTRY["kommunenummer"])
    hrefs = re.findall(r'<a href="(kommuner/[^"]+/index\.html)">([^<]+)</a>', html)
    assert ("kommuner/3203-asker/index.html", "Asker") in hrefs
    fylker = re.findall(r"<h2>([^<]+) <span", html)
    assert fylker == ["Oslo", "Møre og Romsdal", "Akershus", "Buskerud", "Vestfold", "Finnmark"]
    assert 'src="assets/boso.js"' in html  # the filter script, local
    assert "plotly.min.js" not in html  # listing pages do not pay for plotly
    assert "syntetiske demotall" in html  # the site-wide hint


def test_kommune_index_says_which_reports_are_missing(built: Path):
    html = read(built, "kommuner/index.html")
    oslo = re.search(r'data-kommunenummer="0301".*?</li>', html, re.S).group(0)
    assert "rapporter ikke laget ennå" in oslo
    asker = re.search(r'data-kommunenummer="3203".*?</li>', html, re.S).group(0)
    assert "2 analyser" in asker and "KOSTRA-gruppe 12" in asker
    landing = read(built, "kommuner/0301-oslo/index.html")
    assert "Rapporter ikke laget ennå" in landing
    assert "boso-synthetic-banner" not in landing


def test_landing_page_headlines_and_analyses(built: Path):
    html = read(built, "kommuner/3203-asker/index.html")
    # Latest published value, Norwegian number format, landet for the same year.
    assert "98\u00a0123" in html and "Landet: 5\u00a0550\u00a0203" in html
    # A suppressed latest year falls back to the last published one, never to zero.
    card = re.search(r'data-indikator="kommunale_boliger_per_1000".*?</div>', html, re.S)
    assert "(2022)" in card.group(0) and "20,5" in card.group(0) and "21,0" in card.group(0)
    assert "boso-synthetic-banner" in html  # a synthetic headline number is on the page
    assert 'href="befolkning.html"' in html and 'href="kommunale_boliger.html"' in html
    assert "Levekår – ikke laget ennå" in html
    # Oslo's only value is suppressed: the SSB symbol is shown, not 0.
    oslo = read(built, "kommuner/0301-oslo/index.html")
    value = re.search(r'<span class="boso-value">([^<]*)</span>', oslo).group(1)
    assert value == ".."


def test_report_pages_hide_inputs_and_load_plotly_once(built: Path):
    for name in ("befolkning", "kommunale_boliger"):
        html = read(built, f"kommuner/3203-asker/{name}.html")
        assert html.count('<script src="../../assets/plotly.min.js"></script>') == 1
        assert "Plotly.newPlot" in html
        assert len(html.encode()) < 60_000  # plotly.js (4.8 MB) is not inlined
        assert "figures.show_figure" not in html  # inputs hidden
        assert 'kommunenummer = "3203"' not in html
        assert "FutureWarning" not in html  # stderr dropped
        assert "require.js" not in html and "mathjax" not in html.lower()
        assert 'lang="nb"' in html
        nav = parse(built / f"kommuner/3203-asker/{name}.html").urls
        assert ("a", "../../data-og-metode.html") in nav and ("a", "../../index.html") in nav
    befolkning = read(built, "kommuner/3203-asker/befolkning.html")
    assert "Folkemengden har <strong>økt</strong>" in befolkning
    # Printed text is published; bare return values of a cell (`False`) are not, and a cell
    # with nothing published leaves no empty box.
    assert "Merknad fra analysen" in befolkning
    assert ">False<" not in befolkning and "False\n</pre>" not in befolkning
    assert "STRAY-REPR" not in befolkning
    assert befolkning.count('class="jp-Cell jp-CodeCell') == 3


def test_synthetic_notice_where_synthetic_data_are_shown(built: Path):
    synthetic = read(built, "kommuner/3203-asker/kommunale_boliger.html")
    real = read(built, "kommuner/3203-asker/befolkning.html")
    assert "boso-synthetic-banner" in synthetic and SYNTHETIC_NOTICE in synthetic
    assert "boso-synthetic-banner" not in real
    method = read(built, "data-og-metode.html")
    assert "boso-synthetic-banner" in method
    manifest = json.loads(read(built, site.MANIFEST_NAME))
    assert "kommuner/3203-asker/kommunale_boliger.html" in manifest["synthetic_pages"]
    assert "kommuner/3203-asker/befolkning.html" not in manifest["synthetic_pages"]


def test_method_page_from_catalog_and_provenance(built: Path):
    html = read(built, "data-og-metode.html")
    befolkning = re.search(r'<tr id="indikator-befolkning".*?</tr>', html, re.S).group(0)
    assert "Folkemengde 1. januar." in befolkning and "SSB tabell 07459" in befolkning
    assert "2024-05-02" in befolkning and "2024-02-21" in befolkning
    assert "syntetiske demotall" not in befolkning
    rate = re.search(r'<tr id="indikator-kommunale_boliger_per_1000".*?</tr>', html, re.S)
    assert "syntetiske demotall" in rate.group(0) and "rate" in rate.group(0)
    assert "indikator-skjult" not in html  # hidden helper series are not listed
    assert "dagens kommuneinndeling" in html
    syn = re.search(r'<section id="syntetiske-data">.*?</section>', html, re.S).group(0)
    assert "12008.json" in syn and "07459.json" not in syn


def test_failed_build_keeps_previous_site(tmp_path: Path, built: Path):
    out = tmp_path / "_site"
    shutil.copytree(built, out)
    before = (out / "index.html").read_bytes()
    reports = tmp_path / "reports"
    shutil.copytree(FIXTURE_REPORTS, reports)
    (reports / "3203-asker" / "befolkning.ipynb").write_text('{"cells": [', "utf-8")
    with pytest.raises(DataError, match=r"befolkning\.ipynb"):
        site.build_site(make_inputs(reports), out, renderer="nbconvert", jobs=1)
    assert (out / "index.html").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_site", "reports"]  # no leftovers


def test_rebuild_replaces_site(tmp_path: Path):
    out = tmp_path / "_site"
    out.mkdir()
    (out / "stale.html").write_text("old", "utf-8")
    site.build_site(make_inputs(), out, renderer="nbconvert", jobs=1)
    assert not (out / "stale.html").exists()
    assert (out / "index.html").is_file()


def test_parallel_conversion_matches_serial(tmp_path: Path):
    reports = tmp_path / "reports"
    for knr, name in (("3203", "asker"), ("3903", "holmestrand"), ("3301", "drammen")):
        shutil.copytree(FIXTURE_REPORTS / "3203-asker", reports / f"{knr}-{name}")
    for i in range(15):  # enough pages to use the process pool
        shutil.copy(
            FIXTURE_REPORTS / "3203-asker" / "befolkning.ipynb",
            reports / "3301-drammen" / f"ekstra_{i:02}.ipynb",
        )
    result = site.build_site(make_inputs(reports), tmp_path / "_site", jobs=2)
    assert result.report_pages == 21
    html = (tmp_path / "_site" / "kommuner/3301-drammen/ekstra_07.html").read_text("utf-8")
    assert "Plotly.newPlot" in html and "Drammen" in html


def test_bad_registry_is_one_clear_error(tmp_path: Path):
    with pytest.raises(DataError, match="fylkesnavn"):
        site.build_site(make_inputs(registry=REGISTRY.drop(columns=["fylkesnavn"])), tmp_path / "s")
    bad = REGISTRY.copy()
    bad.loc[2, "kommunenummer"] = "301"
    with pytest.raises(DataError, match=r"rad 2: kommunenummer '301'"):
        site.build_site(make_inputs(registry=bad), tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_format_and_slug():
    assert site.format_number(1234567.0, "personer") == "1\u00a0234\u00a0567"
    assert site.format_number(21.04, "per 1000 innbyggere") == "21,0"
    assert site.format_number(float("nan"), "prosent") == ".."
    assert (
        site.kommune_dir("5436", "Porsanger - Porsáŋgu - Porsanki")
        == "5436-porsanger-porsangu-porsanki"
    )
    assert site.kommune_dir("1508", "Ålesund") == "1508-alesund"


# ---------------------------------------------------------------------------------------------
# Quarto: tests/e2e/test_site_quarto.py


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_builds_project_site(project: Path, capsys, monkeypatch: pytest.MonkeyPatch):
    from boso.cli import main

    monkeypatch.setattr(shutil, "which", lambda name: None)  # no quarto here
    REGISTRY.to_parquet(project / "data/processed/core_klass__kommuner.parquet")
    TABLES["befolkning"].to_parquet(project / "data/processed/out_boso__befolkning.parquet")
    shutil.copytree(FIXTURE_REPORTS / "3203-asker", project / "reports/3203-asker")
    assert main(["site"]) == 0
    out = capsys.readouterr().out
    assert "nbconvert-reserven (quarto finnes ikke på PATH)" in out
    assert str(project / "_site") in out
    assert (project / "_site/kommuner/3203-asker/befolkning.html").is_file()
    assert "98\u00a0123" in (project / "_site/kommuner/3203-asker/index.html").read_text()


def test_cli_without_registry_is_one_line(project: Path, capsys):
    from boso.cli import main

    assert main(["site", "--renderer", "nbconvert"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "boso build" in err
    assert not (project / "_site").exists()


def test_run_cli_reports_renderer(monkeypatch, tmp_path: Path, capsys):
    monkeypatch.setattr(build, "load_inputs", lambda root=None: make_inputs())
    monkeypatch.setattr(
        build,
        "paths",
        lambda: SimpleNamespace(
            root=tmp_path, site=tmp_path / "_site", site_source=tmp_path / "site_src"
        ),
    )
    assert site.run_cli(SimpleNamespace(renderer="nbconvert", jobs=None)) == 0
    assert "bygget med nbconvert:" in capsys.readouterr().out


def test_missing_kostra_group_is_blank_not_nan(tmp_path: Path):
    registry = REGISTRY.copy()
    registry.loc[0, ["kostragruppe", "kostragruppenavn"]] = None
    site.build_site(make_inputs(registry=registry), tmp_path / "_site", jobs=1)
    html = (tmp_path / "_site/kommuner/index.html").read_text("utf-8")
    oslo = re.search(r'data-kommunenummer="0301".*?</li>', html, re.S).group(0)
    assert "nan" not in oslo.lower() and "KOSTRA" not in oslo


def test_headlines_skip_indicators_with_extra_dimensions():
    rows = [
        ("kommune", "3203", 2023, 50000.0, ""),
        ("kommune", "3203", 2023, 60000.0, ""),  # a second boligtype in the same year
        ("kommune", "3903", 2023, 40000.0, ""),
        ("landet", "0", 2023, 55000.0, ""),
    ]
    latest = site.latest_values({"befolkning": indicator_rows("befolkning", "kr", rows, False)})
    assert set(latest["befolkning"]) == {"3903"}
    (card,) = site.headline_numbers(latest, "3903", {"befolkning": "Pris"})
    assert (card.label, card.value, card.landet, card.year) == ("Pris", 40000.0, 55000.0, 2023)
    assert site.headline_numbers(latest, "3203") == []


def test_failed_report_kept_for_inspection_is_never_published(tmp_path: Path):
    # The report runner keeps a failed run as <analysis>.error.ipynb: its numbers may be half
    # computed, so it must not become a page, a listed analysis or a synthetic flag.
    reports = tmp_path / "reports"
    shutil.copytree(FIXTURE_REPORTS, reports)
    asker = reports / "3203-asker"
    shutil.copy2(asker / "befolkning.ipynb", asker / "startlan.error.ipynb")
    found = site.discover_reports(reports)
    assert [r.path.name for r in found["3203"]] == ["befolkning.ipynb", "kommunale_boliger.ipynb"]
    out = tmp_path / "_site"
    site.build_site(make_inputs(reports), out, renderer="nbconvert", jobs=1)
    assert not [p for p in out.rglob("*") if "error" in p.name]
    kommune = (out / "kommuner/3203-asker/index.html").read_text("utf-8")
    assert "startlan.error" not in kommune and 'href="startlan.html"' not in kommune


def test_chapter_files_outlive_a_rebuild_but_their_keys_are_not_published(tmp_path: Path):
    out = tmp_path / "_site"
    site.build_site(make_inputs(), out, renderer="nbconvert", jobs=1)
    asker = out / "kommuner/3203-asker"
    (asker / "statistikkvedlegg.pdf").write_bytes(b"%PDF")
    (asker / ".statistikkvedlegg.pdf.key").write_text('{"key": "k"}', "utf-8")
    site.build_site(make_inputs(chapters={"3203": ["pdf"]}), out, renderer="nbconvert", jobs=1)
    assert (asker / "statistikkvedlegg.pdf").read_bytes() == b"%PDF"
    assert 'href="statistikkvedlegg.pdf"' in (asker / "index.html").read_text("utf-8")
    assert not list(out.rglob("*.key"))
