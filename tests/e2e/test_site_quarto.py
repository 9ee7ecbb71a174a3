"""`boso site --renderer quarto` without Quarto: the page sources read by a real pandoc.

Quarto cannot be installed here; it is pandoc plus Lua filters. Every generated ``.qmd`` is read
with pypandoc-binary's pandoc (``tests/pandoc_check.py``) and checked for what a real Quarto
showed wrong before: front matter as metadata, the banner as a ``Div``, no script from outside
the site, one ``<h1>``, links that exist in the fallback site. A stand-in ``quarto`` on PATH
(pandoc ``-s`` with a template standing in for Quarto's page frame) covers the command wiring and
the incremental re-render; tests/browser/test_site_quarto_browser.py opens its output in Chromium.
"""

from __future__ import annotations

import datetime
import json
import os
import posixpath
import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from test_site import FIXTURE_REPORTS, REPO, make_inputs

import pandoc_check as pc
from boso import site
from boso.errors import BosoError
from boso.outputs import PLOTLY_MIME, SYNTHETIC_NOTICE
from boso.site import build
from boso.site import model as site_model
from boso.site import quarto as site_quarto


@dataclass
class QuartoBuild:
    src: Path
    out: Path
    log: Path


def quarto_on_path(monkeypatch: pytest.MonkeyPatch, tmp: Path, fail: bool = False) -> Path:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp / "quarto-calls.jsonl"
    pc.write_fake_quarto(bin_dir, log, fail=fail)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


@pytest.fixture(scope="module")
def fallback(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fallback") / "_site"
    site.build_site(make_inputs(), out, renderer="nbconvert", jobs=1)
    return out


@pytest.fixture(scope="module")
def quarto(tmp_path_factory: pytest.TempPathFactory) -> QuartoBuild:
    tmp = tmp_path_factory.mktemp("quarto")
    with pytest.MonkeyPatch.context() as mp:
        log = quarto_on_path(mp, tmp)
        result = site.build_site(
            make_inputs(), tmp / "_site", renderer="auto", source_dir=tmp / "site_src", jobs=1
        )
    assert result.renderer == "quarto"
    return QuartoBuild(tmp / "site_src", tmp / "_site", log)


def model() -> site.SiteModel:
    return site.build_model(make_inputs(), renderer_text="Quarto", built="01.01.2026 12:00")


def sources(src: Path) -> dict[str, Path]:
    """Page sources by the site page they become (``kommuner/x/index.html``)."""
    found = {}
    for path in src.rglob("*.qmd"):
        rel = path.relative_to(src)
        if rel.parts[0].startswith(("_", ".")):
            continue
        found[rel.with_suffix(".html").as_posix()] = path
    return found


def config() -> dict:
    return yaml.safe_load((REPO / "_quarto.yml").read_text("utf-8"))


def site_wide_links() -> set[str]:
    """What Quarto adds to every page from _quarto.yml: stylesheet, brand and navbar links."""
    cfg = config()
    nav = {i["href"].removesuffix(".qmd") + ".html" for i in cfg["website"]["navbar"]["left"]}
    return nav | {cfg["format"]["html"]["css"], "index.html"}


def normalise(page: str, url: str) -> str:
    if re.match(r"^[a-z]+:", url):
        return url  # data: (the CSV links) and anything external, compared as written
    path, _, fragment = url.partition("#")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(page), path)) if path else page
    return joined + (f"#{fragment}" if fragment else "")


def source_links(page: str, ast: dict) -> set[str]:
    return {normalise(page, url) for _, _, url in pc.urls(pc.raw_html(ast)).urls}


class _All(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in {"href", "src"} and v is not None]


def fallback_links(root: Path, page: str) -> set[str]:
    parser = _All()
    parser.feed((root / page).read_text("utf-8"))
    # The favicon and the skip link are the fallback's own page frame, not site content.
    return {normalise(page, u) for u in parser.urls if u not in {"data:,", "#innhold"}}


# ---------------------------------------------------------------------------------------------
# The sources, read by pandoc


def test_every_source_parses_as_quarto_would_read_it(quarto: QuartoBuild, fallback: Path):
    expected = {p.path: p for p in model().pages} | {r.path: r for r in model().reports}
    found = sources(quarto.src)
    assert set(found) == set(expected)
    for page, path in found.items():
        ast = pc.read_ast(path)
        where = f"{page}: "
        want = expected[page]
        # Front matter is metadata (a real Quarto once showed it as text).
        assert pc.stringify(pc.meta_value(ast, "title")) == want.title, where
        classes = pc.stringify(pc.meta_value(ast, "body-classes")).split()
        assert "boso-page" in classes, where
        text = pc.text_outside_raw(ast["blocks"])
        for literal in (":::", "---", "include-in-header", "include-after-body", "{=html}"):
            assert literal not in text, f"{where}literal {literal!r} in the body"
        for raw in pc.raw_html(ast["blocks"]):
            assert not re.search(r"^(:::|---|```)", raw, re.M), f"{where}fence text in raw HTML"
            assert "include-in-header" not in raw, where
        # Only the banner and its text are Markdown; everything else is raw HTML.
        assert {b["t"] for b in ast["blocks"]} <= {"RawBlock", "Div"}, where
        banners = [
            el
            for el in pc.walk(ast["blocks"])
            if el["t"] == "Div" and "boso-synthetic-banner" in el["c"][0][1]
        ]
        if want.synthetic:
            (banner,) = banners
            assert banner["c"][0][1] == ["boso-synthetic", "boso-synthetic-banner"], where
            assert ["role", "note"] in banner["c"][0][2], where
            assert pc.stringify(banner["c"][1]).startswith(SYNTHETIC_NOTICE), where
        else:
            assert banners == [], where
        # One visible title: the content's <h1>; Quarto's own title block is replaced.
        assert pc.urls(pc.raw_html(ast["blocks"])).h1 == 1, where


def test_no_script_from_outside_and_plotly_once(quarto: QuartoBuild, fallback: Path):
    reports = {r.path for r in model().reports}
    for page, path in sources(quarto.src).items():
        ast = pc.read_ast(path)
        scripts = [u for tag, _, u in pc.urls(pc.raw_html(ast)).urls if tag == "script"]
        for url in scripts:
            assert not re.match(r"^[a-z]+:|^//|^/", url), f"{page}: script from {url}"
            assert (fallback / normalise(page, url)).is_file(), f"{page}: {url} not in the site"
        head = pc.raw_html(pc.meta_value(ast, "include-in-header") or [])
        plotly = [u for u in scripts if u.endswith("assets/plotly.min.js")]
        if page in reports:
            # Exactly once, in the head, and the figures draw from the text/html outputs.
            assert len(plotly) == 1 and any("plotly.min.js" in h for h in head), page
            body = "\n".join(pc.raw_html(ast["blocks"]))
            assert "Plotly.newPlot" in body or "Plotly.react" in body, page
            assert "require.js" not in body and "cdn.jsdelivr" not in body, page
        else:
            assert plotly == [], page


def test_every_link_is_a_page_of_the_fallback_site(quarto: QuartoBuild, fallback: Path):
    for page, path in sources(quarto.src).items():
        for link in source_links(page, pc.read_ast(path)):
            if link.startswith("data:text/csv"):
                continue  # a figure's data, inline
            assert not re.match(r"^[a-z]+:|^/", link), f"{page}: {link} leaves the site"
            target = link.partition("#")[0]
            assert (fallback / target).is_file(), f"{page}: {link} is not in the fallback site"


def test_page_and_link_sets_match_the_fallback(quarto: QuartoBuild, fallback: Path):
    fallback_pages = {p.relative_to(fallback).as_posix() for p in fallback.rglob("*.html")}
    found = sources(quarto.src)
    assert set(found) == fallback_pages
    for page, path in found.items():
        ours = source_links(page, pc.read_ast(path)) | site_wide_links()
        assert ours == fallback_links(fallback, page), page


def test_footer_breadcrumbs_and_analysis_links_as_in_the_fallback(quarto: QuartoBuild):
    text = (quarto.src / "kommuner/3203-asker/kommunale_boliger.qmd").read_text("utf-8")
    ast = pc.read_ast(quarto.src / "kommuner/3203-asker/kommunale_boliger.qmd")
    raw = "\n".join(pc.raw_html(ast["blocks"]))
    assert 'class="boso-breadcrumbs"' in raw and 'class="boso-footer"' in raw
    assert re.search(r"bygget \d\d\.\d\d\.\d{4} \d\d:\d\d", raw)
    assert '<span aria-current="page">Kommunale boliger</span>' in raw
    assert '<a href="befolkning.html">Befolkning</a>' in raw
    assert '<a href="index.html">Asker</a>' in raw  # the kommune link
    assert "boso-nav-kommuner" in pc.stringify(pc.meta_value(ast, "body-classes"))
    # Written by boso, not copied from the notebook: no .ipynb reaches Quarto.
    assert text.startswith("---\ntitle: ")
    assert not list(quarto.src.rglob("*.ipynb"))


def test_quarto_config_matches_fallback_navigation(quarto: QuartoBuild):
    cfg = config()
    assert cfg["project"]["type"] == "website"
    assert cfg["lang"] == "nb"
    assert cfg["execute"]["enabled"] is False
    assert cfg["website"]["navbar"]["search"] is True
    nav = [(i["text"], i["href"]) for i in cfg["website"]["navbar"]["left"]]
    assert nav == [(item.text, item.source) for item in site_model.NAV]
    html = cfg["format"]["html"]
    assert html["html-table-processing"] == "none"
    assert html["template-partials"] == [site_quarto.QUARTO_TITLE_PARTIAL]
    # The title partial shows no title (the content has the <h1>).
    partial = (quarto.src / site_quarto.QUARTO_TITLE_PARTIAL).read_text("utf-8")
    assert "$title$" not in partial and "<h1" not in partial
    # Everything the config names exists in the generated project.
    assert (quarto.src / html["css"]).is_file()
    for resource in cfg["project"]["resources"]:
        assert (quarto.src / resource).is_dir()
    assert yaml.safe_load(site_quarto.default_quarto_config()) == cfg
    assert yaml.safe_load((quarto.src / "_quarto.yml").read_text("utf-8")) == cfg


@pytest.mark.parametrize(
    "title",
    [
        "Porsanger - Porsáŋgu - Porsanki",
        "Kommunale boliger – Asker",
        'A*b_ [c] <d> `e` --- "f" ... &amp; #1 $x$ @ref',
    ],
)
def test_titles_and_banner_text_are_literal(tmp_path: Path, title: str):
    page = site.Page(
        "kommuner/9999-x/index.html", "kommune", title, "<h1>x</h1>", "kommuner", synthetic=True
    )
    path = tmp_path / "p.qmd"
    path.write_text(site_quarto._qmd(page, "01.01.2026 12:00"), "utf-8")
    ast = pc.read_ast(path)
    assert pc.stringify(pc.meta_value(ast, "title")) == title
    (banner,) = [el for el in pc.walk(ast["blocks"]) if el["t"] == "Div"]
    assert pc.stringify(banner["c"][1]) == f"{SYNTHETIC_NOTICE}. {site_model.SYNTHETIC_DETAIL}"


def test_raw_block_fence_cannot_be_closed_by_the_content(tmp_path: Path):
    content = "<h1>x</h1>\n<pre>\n```\n````\n</pre>\n<p>after</p>"
    page = site.Page("om.html", "om", "Om", content, "om")
    path = tmp_path / "p.qmd"
    path.write_text(site_quarto._qmd(page), "utf-8")
    raws = pc.raw_html(pc.read_ast(path)["blocks"])
    assert any(content in raw for raw in raws)


def test_report_notebook_cells_keep_their_lines(tmp_path: Path):
    (report,) = [r for r in model().reports if r.synthetic]
    nb = site_quarto.quarto_report_notebook(report)
    for cell in nb["cells"][:2]:
        assert isinstance(cell["source"], list) and len(cell["source"]) > 2
        assert all(line.endswith("\n") for line in cell["source"])
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            assert PLOTLY_MIME not in output.get("data", {})


# ---------------------------------------------------------------------------------------------
# The command wiring (stand-in quarto) and incremental rendering


def test_quarto_renders_the_project_once_then_nothing(quarto: QuartoBuild):
    calls = pc.log_calls(quarto.log)
    assert calls == [["render", str(quarto.src)]]
    for rel in ("index.html", "kommuner/3203-asker/kommunale_boliger.html"):
        assert (quarto.out / rel).is_file(), rel
    assert (quarto.out / "assets/plotly.min.js").is_file()
    assert json.loads((quarto.out / site.MANIFEST_NAME).read_text())["renderer"] == "quarto"


def copy_reports(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    shutil.copytree(FIXTURE_REPORTS, reports)
    return reports


class _Clock(datetime.datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: ARG003
        return datetime.datetime(2026, 1, 1, 12, 0)


def fixed_build_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The "Om" page states the build time: a minute boundary between two builds would change it.
    monkeypatch.setattr(build, "dt", SimpleNamespace(datetime=_Clock))


def test_rerun_renders_only_changed_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    log = quarto_on_path(monkeypatch, tmp_path)
    fixed_build_time(monkeypatch)
    monkeypatch.setattr(site_quarto, "QUARTO_INCREMENTAL_SHARE", 0.5)
    reports = copy_reports(tmp_path)
    src, out = tmp_path / "site_src", tmp_path / "_site"

    def build(**changes):
        site.build_site(
            make_inputs(reports, **changes), out, renderer="quarto", source_dir=src, jobs=1
        )
        calls = pc.log_calls(log)
        log.unlink(missing_ok=True)
        return calls

    assert build() == [["render", str(src)]]
    befolkning = (out / "kommuner/3203-asker/befolkning.html").read_text("utf-8")
    assert build() == []  # nothing changed, nothing rendered
    # One report changes: only its page is rendered again.
    nb_path = reports / "3203-asker/kommunale_boliger.ipynb"
    nb = json.loads(nb_path.read_text("utf-8"))
    nb["cells"].append(
        {"cell_type": "markdown", "id": "ny", "metadata": {}, "source": ["Ny tekst."]}
    )
    nb_path.write_text(json.dumps(nb), "utf-8")
    assert build() == [["render", str(src / "kommuner/3203-asker/kommunale_boliger.qmd")]]
    assert "Ny tekst." in (out / "kommuner/3203-asker/kommunale_boliger.html").read_text()
    assert (out / "kommuner/3203-asker/befolkning.html").read_text("utf-8") == befolkning
    # A report disappears: its source and page go, the pages linking to it are re-rendered.
    nb_path.unlink()
    rendered = {Path(c[1]).relative_to(src).as_posix() for c in build()}
    assert rendered == {
        "kommuner/3203-asker/befolkning.qmd",  # its row of analysis links changed
        "kommuner/3203-asker/index.qmd",
        "index.qmd",  # report counts
        "kommuner/index.qmd",
    }
    assert not (src / "kommuner/3203-asker/kommunale_boliger.qmd").exists()
    assert not (out / "kommuner/3203-asker/kommunale_boliger.html").exists()
    # A change of the site definition renders everything again.
    changed = tmp_path / "_quarto.yml"
    changed.write_text((REPO / "_quarto.yml").read_text("utf-8") + "\n# endret\n", "utf-8")
    assert build(quarto_config=changed) == [["render", str(src)]]


def test_failed_page_is_rendered_again_next_time(tmp_path: Path, monkeypatch):
    log = quarto_on_path(monkeypatch, tmp_path)
    fixed_build_time(monkeypatch)
    monkeypatch.setattr(site_quarto, "QUARTO_INCREMENTAL_SHARE", 0.5)
    reports = copy_reports(tmp_path)
    src, out = tmp_path / "site_src", tmp_path / "_site"
    site.build_site(make_inputs(reports), out, renderer="quarto", source_dir=src, jobs=1)
    nb_path = reports / "3203-asker/befolkning.ipynb"
    nb_path.write_text(nb_path.read_text("utf-8").replace("Folkemengden", "Befolkningen"))
    quarto_on_path(monkeypatch, tmp_path, fail=True)
    with pytest.raises(BosoError, match=r"quarto render feilet \(kommuner/3203-asker/bef"):
        site.build_site(make_inputs(reports), out, renderer="quarto", source_dir=src, jobs=1)
    assert "Folkemengden" in (out / "kommuner/3203-asker/befolkning.html").read_text("utf-8")
    log.unlink()
    quarto_on_path(monkeypatch, tmp_path)
    site.build_site(make_inputs(reports), out, renderer="quarto", source_dir=src, jobs=1)
    assert pc.log_calls(log) == [["render", str(src / "kommuner/3203-asker/befolkning.qmd")]]
    assert "Befolkningen" in (out / "kommuner/3203-asker/befolkning.html").read_text("utf-8")


def test_quarto_failure_is_one_line_and_keeps_site(tmp_path: Path, monkeypatch):
    quarto_on_path(monkeypatch, tmp_path, fail=True)
    out = tmp_path / "_site"
    out.mkdir()
    (out / "index.html").write_text("previous", "utf-8")
    with pytest.raises(BosoError, match="quarto render feilet: ERROR: something broke"):
        site.build_site(make_inputs(), out, renderer="quarto", source_dir=tmp_path / "src")
    assert (out / "index.html").read_text() == "previous"


def test_quarto_requested_but_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert site.choose_renderer("auto") == "nbconvert"
    with pytest.raises(BosoError, match="quarto finnes ikke"):
        site.build_site(make_inputs(), tmp_path / "_site", renderer="quarto")
    assert not (tmp_path / "site_src").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("project: [unclosed\n", "ikke gyldig YAML"),
        ("project:\n  type: website\n  output-dir: ../_site\n", "må ligge inne i"),
    ],
)
def test_bad_quarto_config_is_one_line(tmp_path: Path, monkeypatch, text: str, message: str):
    quarto_on_path(monkeypatch, tmp_path)
    config = tmp_path / "_quarto.yml"
    config.write_text(text, "utf-8")
    out = tmp_path / "_site"
    with pytest.raises(BosoError, match=message) as info:
        site.build_site(make_inputs(quarto_config=config), out, source_dir=tmp_path / "src")
    assert str(config) in str(info.value) and "\n" not in str(info.value)
    assert not out.exists()


def test_search_index_forgets_removed_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # quarto render <file> keeps the search entries of deleted pages until a full render.
    log = quarto_on_path(monkeypatch, tmp_path)
    fixed_build_time(monkeypatch)
    monkeypatch.setattr(site_quarto, "QUARTO_INCREMENTAL_SHARE", 0.9)
    reports = copy_reports(tmp_path)
    src, out = tmp_path / "site_src", tmp_path / "_site"

    def build(**changes) -> set[str]:
        site.build_site(
            make_inputs(reports, **changes), out, renderer="quarto", source_dir=src, jobs=1
        )
        entries = json.loads((out / "search.json").read_text("utf-8"))
        return {e["href"].partition("#")[0] for e in entries}

    def pages() -> set[str]:
        return {p.relative_to(out).as_posix() for p in out.rglob("*.html")}

    gone = "kommuner/3203-asker/kommunale_boliger.html"
    assert gone in build() == pages()
    (reports / "3203-asker/kommunale_boliger.ipynb").unlink()
    log.unlink()
    indexed = build()
    assert ["render", str(src)] not in pc.log_calls(log)  # page by page, not the whole project
    assert gone not in indexed and indexed == pages()
    # A kommune leaves the registry: its pages leave the index too.
    registry = make_inputs().registry
    indexed = build(registry=registry.loc[registry["kommunenummer"] != "3203"])
    assert not any(page.startswith("kommuner/3203-") for page in indexed)
    assert indexed == pages()
