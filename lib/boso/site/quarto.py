"""The Quarto renderer: the site model as Quarto page sources, rendered incrementally.

Every page, the reports included, reaches Quarto as a ``.qmd`` in ``site_src/``: YAML front
matter, then the built-in renderer's breadcrumb trail, the synthetic-data banner (a fenced Div),
the page content and the footer. The content is a raw HTML block; for a report it is the
nbconvert body the built-in renderer shows (:func:`boso.site.html.report_content`). No
``.ipynb`` goes to Quarto: it adds require.js and jQuery from a CDN to every notebook with HTML
outputs, with no option to turn that off (docs/site-quarto.md). A re-run writes and renders
only the pages whose inputs changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boso.errors import BosoError, DataError
from boso.outputs import PLOTLY_MIME, SYNTHETIC_NOTICE
from boso.site.html import ASSETS, copy_assets, page_outputs, report_content, run_batches
from boso.site.model import (
    NAV,
    SITE_TITLE,
    SYNTHETIC_DETAIL,
    TEMPLATES,
    Page,
    ReportPage,
    SiteModel,
    jinja_env,
)

QUARTO_STATE_NAME = ".boso-quarto.json"
QUARTO_TITLE_PARTIAL = "_partials/title-block.html"
# Above this share of stale pages one `quarto render` of the whole project is cheaper than one
# call per page (each call pays Quarto's start-up and project scan).
QUARTO_INCREMENTAL_SHARE = 0.25
# Quarto's search index in the output dir (one entry per page and per section of a page).
QUARTO_SEARCH_INDEX = "search.json"
_QUARTO_STATE_VERSION = 1


def default_quarto_config() -> str:
    """A ``_quarto.yml`` equivalent to the project's, for installs without the checkout."""
    nav = "\n".join(f"      - text: {item.text}\n        href: {item.source}" for item in NAV)
    return f"""project:
  type: website
  output-dir: _site
  resources:
    - assets/
website:
  title: "{SITE_TITLE}"
  navbar:
    search: true
    left:
{nav}
  search:
    location: navbar
    type: textbox
lang: nb
execute:
  enabled: false
format:
  html:
    css: assets/boso.css
    html-math-method: plain
    toc: false
    html-table-processing: none
    template-partials:
      - {QUARTO_TITLE_PARTIAL}
    embed-resources: false
"""


_MD_MARKUP = set("\\`*_[]<>#$@^~{}|\"'&")


def _md_text(text: str) -> str:
    """``text`` as literal Markdown inline text.

    Marks that make markup are backslash-escaped, and so are runs of ``-`` and ``.`` (which
    smart punctuation would turn into dashes and ellipses); the rest stays as written, since
    Quarto may also show a title's YAML text as it is.
    """
    out = []
    for i, char in enumerate(text):
        repeated = char in "-." and char in (text[i - 1 : i] + text[i + 1 : i + 2])
        out.append(f"\\{char}" if char in _MD_MARKUP or repeated else char)
    return "".join(out)


def _yaml_string(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def _raw_html(html: str) -> str:
    """A raw HTML block whose fence no backtick run inside ``html`` can close."""
    longest = max((len(run) for run in re.findall(r"`+", html)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{html.strip(chr(10))}\n{fence}\n"


_PIECES: dict[str, Any] = {}


def _page_pieces() -> Any:
    """The macros of ``_page.html.j2`` (breadcrumbs, banner, footer) shared with the layout."""
    if "module" not in _PIECES:
        _PIECES["module"] = jinja_env().get_template("_page.html.j2").module
    return _PIECES["module"]


def quarto_page(
    *,
    title: str,
    path: str,
    kind: str,
    active: str,
    breadcrumbs: Sequence[Mapping[str, str]],
    synthetic: bool,
    content: str,
    built: str,
    plotly: bool = False,
    filter_script: bool = False,
) -> str:
    """One Quarto page source with the fallback layout's pieces around ``content``.

    Args:
        title: The page title (YAML ``title``; the visible ``<h1>`` is in ``content``).
        path: The page's path in the site, e.g. ``kommuner/3203-asker/startlan.html``.
        kind: Page kind (body class ``boso-<kind>`` as in the fallback).
        active: The navbar entry the page belongs to (body class ``boso-nav-<active>``).
        breadcrumbs: ``{"text", "href"}`` items, hrefs relative to the site root.
        synthetic: Show the synthetic-data banner.
        content: The page content (HTML).
        built: Build time shown in the footer.
        plotly: Load the shared ``assets/plotly.min.js`` in the page head.
        filter_script: Load ``assets/boso.js`` (kommune filter) at the end of the body.

    Returns:
        The ``.qmd`` text.
    """
    root = "../" * path.count("/")
    pieces = _page_pieces()
    classes = f"boso-page boso-{kind}" + (f" boso-nav-{active}" if active else "")
    meta = [f"title: {_yaml_string(_md_text(title))}", f"body-classes: {_yaml_string(classes)}"]
    if plotly:
        script = f'<script src="{root}assets/plotly.min.js"></script>'
        meta.append(f"include-in-header:\n  text: {_yaml_string(script)}")
    if filter_script:
        script = f'<script src="{root}assets/boso.js"></script>'
        meta.append(f"include-after-body:\n  text: {_yaml_string(script)}")
    blocks = []
    if breadcrumbs:
        blocks.append(_raw_html(str(pieces.breadcrumbs(breadcrumbs, root))))
    if synthetic:
        blocks.append(
            '::: {.boso-synthetic .boso-synthetic-banner role="note"}\n'
            f"**{_md_text(SYNTHETIC_NOTICE)}.** {_md_text(SYNTHETIC_DETAIL)}\n:::\n"
        )
    blocks.append(_raw_html(content))
    blocks.append(_raw_html(str(pieces.footer(SITE_TITLE, built, root))))
    return "---\n" + "\n".join(meta) + "\n---\n\n" + "\n".join(blocks)


def _qmd(page: Page, built: str = "") -> str:
    return quarto_page(
        title=page.title,
        path=page.path,
        kind=page.kind,
        active=page.active,
        breadcrumbs=page.breadcrumbs,
        synthetic=page.synthetic,
        content=page.content,
        built=built,
        filter_script=page.needs_filter,
    )


def quarto_report_page(page: ReportPage, built: str) -> str:
    """The ``.qmd`` of one report page: the fallback's report content as raw HTML.

    Raises:
        DataError: The notebook cannot be read.
    """
    return quarto_page(
        title=page.title,
        path=page.path,
        kind="report",
        active="kommuner",
        breadcrumbs=page.breadcrumbs,
        synthetic=page.synthetic,
        content=report_content(page),
        built=built,
        plotly=True,
    )


def quarto_report_notebook(page: ReportPage) -> dict[str, Any]:
    """A report notebook prepared for rendering with Quarto as ``.ipynb`` (not used by the site).

    The site hands Quarto :func:`quarto_report_page` instead: Quarto adds require.js and jQuery
    from a CDN to any notebook with HTML outputs. The added cells keep their source as a list
    of lines ending in ``\\n``; Quarto joins a plain string into one line. The plotly JSON is
    dropped, or Quarto would inline plotly.js (≈ 4.8 MB) into the page.
    """
    nb = json.loads(page.source.read_text("utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("outputs"):
            cell["outputs"] = page_outputs(cell["outputs"])
        for output in cell.get("outputs") or ():
            (output.get("data") or {}).pop(PLOTLY_MIME, None)
    root = "../" * page.path.count("/")
    script = f'<script src="{root}assets/plotly.min.js"></script>'
    front = (
        "---\n"
        f"title: {_yaml_string(_md_text(page.title))}\n"
        f"include-in-header:\n  text: {_yaml_string(script)}\n"
        "---\n"
    )
    cells = [
        {
            "cell_type": "raw",
            "id": "boso-front-matter",
            "metadata": {},
            "source": front.splitlines(keepends=True),
        }
    ]
    if page.synthetic:
        banner = (
            '::: {.boso-synthetic .boso-synthetic-banner role="note"}\n'
            f"**{_md_text(SYNTHETIC_NOTICE)}.** {_md_text(SYNTHETIC_DETAIL)}\n:::\n"
        )
        cells.append(
            {
                "cell_type": "markdown",
                "id": "boso-synthetic-notice",
                "metadata": {},
                "source": banner.splitlines(keepends=True),
            }
        )
    nb["cells"] = cells + nb.get("cells", [])
    return nb


def quarto_source_path(page_path: str) -> str:
    """The source of a site page: ``kommuner/x/startlan.html`` -> ``kommuner/x/startlan.qmd``."""
    return page_path.removesuffix(".html") + ".qmd"


def _digest(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def _page_key(page: Page) -> str:
    return _digest(json.dumps(dataclasses.asdict(page), sort_keys=True, ensure_ascii=False))


def _report_key(page: ReportPage) -> str:
    fields = json.dumps(dataclasses.asdict(page), sort_keys=True, ensure_ascii=False, default=str)
    try:
        notebook = page.source.read_bytes()
    except OSError as exc:
        raise DataError(f"{page.source}: kan ikke lese notatboken ({exc})") from exc
    return _digest(fields, notebook)


def _quarto_global_key(config: str) -> str:
    """What every page depends on: the config, the site code, templates, assets, converters."""
    import nbconvert
    import plotly

    parts: list[str | bytes] = [
        str(_QUARTO_STATE_VERSION),
        config,
        plotly.__version__,
        nbconvert.__version__,
    ]
    # The page HTML comes from every module of boso.site (model, html, quarto), not this one only.
    for folder in (Path(__file__).resolve().parent, TEMPLATES, ASSETS):
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix != ".pyc":
                parts += [path.name, path.read_bytes()]
    return _digest(*parts)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def _quarto_output_dir(src_dir: Path, config: str, where: str) -> Path:
    import yaml

    try:
        parsed = yaml.safe_load(config) or {}
        output = (parsed.get("project") or {}).get("output-dir") or "_site"
    except (yaml.YAMLError, AttributeError) as exc:
        raise BosoError(f"{where}: ikke gyldig YAML ({exc.__class__.__name__})") from exc
    output_dir = src_dir / str(output)
    # Quarto writes into output-dir as it goes; only boso's swap may touch the published site.
    if not output_dir.resolve().is_relative_to(src_dir.resolve()) or output_dir == src_dir:
        raise BosoError(f"{where}: project.output-dir ({output}) må ligge inne i {src_dir}")
    return output_dir


@dataclass
class QuartoPlan:
    """What :func:`write_quarto_sources` wrote and what Quarto must (re)render.

    Attributes:
        src_dir: The Quarto project (``site_src/``).
        output_dir: Quarto's ``output-dir`` inside it, kept between runs.
        sources: Every page source (relative path) with the hash of its inputs.
        written: Sources written in this run (inputs changed or file missing).
        removed: Sources deleted because their page is gone.
        render: Sources whose rendered page is missing or older than their inputs.
        full: Render the whole project in one call instead of page by page.
        state: The record kept in ``site_src/.boso-quarto.json``.
    """

    src_dir: Path
    output_dir: Path
    sources: dict[str, str]
    written: list[str]
    removed: list[str]
    render: list[str]
    full: bool
    state: dict[str, Any]

    def save(self) -> None:
        _write_atomic(
            self.src_dir / QUARTO_STATE_NAME, json.dumps(self.state, ensure_ascii=False, indent=1)
        )


def _write_report_sources(batch: list[tuple[ReportPage, str, str]]) -> list[str]:
    for page, target, built in batch:
        _write_atomic(Path(target), quarto_report_page(page, built))
    return [page.path for page, _, _ in batch]


def write_quarto_sources(
    model: SiteModel,
    src_dir: Path,
    quarto_config: Path | None,
    *,
    built: str = "",
    jobs: int | None = None,
) -> QuartoPlan:
    """Write the page sources Quarto renders (``site_src/``), only those whose inputs changed.

    A page's inputs are hashed (a report: its notebook and its place in the site; the build
    time is not part of it, so an unchanged page keeps the footer date of its last render).
    When the config, the site code, a template or an asset changes, every page is rewritten.
    Sources of pages that no longer exist are deleted with their rendered page.

    Args:
        model: The site (see :func:`build_model`).
        src_dir: The Quarto project directory.
        quarto_config: The project's ``_quarto.yml`` (default: :func:`default_quarto_config`).
        built: Build time for the footers of the pages written now.
        jobs: Worker processes for converting reports.

    Returns:
        The plan for :func:`render_quarto`.

    Raises:
        DataError: A report notebook cannot be read.
        BosoError: The config is not valid YAML.
    """
    src_dir = Path(src_dir)
    src_dir.mkdir(parents=True, exist_ok=True)
    if quarto_config and quarto_config.is_file():
        config, where = quarto_config.read_text("utf-8"), str(quarto_config)
    else:
        config, where = default_quarto_config(), "_quarto.yml"
    output_dir = _quarto_output_dir(src_dir, config, where)
    global_key = _quarto_global_key(config)
    state: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        state = json.loads((src_dir / QUARTO_STATE_NAME).read_text("utf-8"))
    if not isinstance(state, dict) or state.get("global") != global_key:
        state = {}
    known: dict[str, str] = state.get("sources") or {}
    rendered: dict[str, str] = state.get("rendered") or {}

    _write_atomic(src_dir / "_quarto.yml", config)
    partial = (TEMPLATES / "quarto-title-block.html").read_text("utf-8")
    _write_atomic(src_dir / QUARTO_TITLE_PARTIAL, partial)
    if not state or not (src_dir / "assets" / "plotly.min.js").is_file():
        copy_assets(src_dir / "assets")

    sources: dict[str, str] = {}
    written: list[str] = []
    for page in model.pages:
        rel = quarto_source_path(page.path)
        sources[rel] = _page_key(page)
        if known.get(rel) != sources[rel] or not (src_dir / rel).is_file():
            _write_atomic(src_dir / rel, _qmd(page, built))
            written.append(rel)
    tasks = []
    for report in model.reports:
        rel = quarto_source_path(report.path)
        sources[rel] = _report_key(report)
        if known.get(rel) != sources[rel] or not (src_dir / rel).is_file():
            tasks.append((report, str(src_dir / rel), built))
            written.append(rel)
    for _ in run_batches(_write_report_sources, tasks, jobs):
        pass

    removed = []
    for path in sorted([*src_dir.rglob("*.qmd"), *src_dir.rglob("*.ipynb")]):
        rel_parts = path.relative_to(src_dir).parts
        if path.is_relative_to(output_dir) or any(p.startswith(("_", ".")) for p in rel_parts):
            continue
        rel = "/".join(rel_parts)
        if rel not in sources:
            path.unlink()
            (output_dir / rel).with_suffix(".html").unlink(missing_ok=True)
            rendered.pop(rel, None)
            removed.append(rel)

    stale = [
        rel
        for rel, key in sources.items()
        if rendered.get(rel) != key or not (output_dir / rel).with_suffix(".html").is_file()
    ]
    full = (
        not rendered
        or not output_dir.is_dir()
        or len(stale) > QUARTO_INCREMENTAL_SHARE * max(1, len(sources))
        # Only a whole-project render rebuilds a damaged search index.
        or _read_search_index(output_dir) is False
    )
    state = {
        "version": _QUARTO_STATE_VERSION,
        "global": global_key,
        "sources": sources,
        "rendered": {rel: key for rel, key in rendered.items() if rel in sources},
        "last_render": state.get("last_render"),
    }
    plan = QuartoPlan(src_dir, output_dir, sources, written, removed, stale, full, state)
    plan.save()
    return plan


def _read_search_index(output_dir: Path) -> list[Any] | bool | None:
    """Quarto's search index: its entries, ``None`` when there is none, ``False`` when damaged."""
    path = output_dir / QUARTO_SEARCH_INDEX
    if not path.is_file():
        return None
    try:
        entries = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return entries if isinstance(entries, list) else False


def _prune_search_index(output_dir: Path, sources: Mapping[str, str]) -> list[str]:
    """Drop the search entries of pages that are no longer in the site.

    ``quarto render <file>`` updates the index for that page and keeps every other entry, those
    of deleted pages included, until the whole project is rendered again: a removed report or
    kommune would stay findable (and link to a missing page). The file is rewritten only when
    an entry goes.

    Returns:
        The pages whose entries were dropped.
    """
    entries = _read_search_index(output_dir)
    if not entries:
        return []
    pages = {rel.removesuffix(".qmd") + ".html" for rel in sources}
    kept, dropped = [], set()
    for entry in entries:
        href = entry.get("href") if isinstance(entry, dict) else None
        href = href if isinstance(href, str) else ""
        page = href.partition("#")[0].removeprefix("./").lstrip("/")
        # Entries without a page of their own (or not an .html page) are Quarto's business.
        if page.endswith(".html") and page not in pages:
            dropped.add(page)
            continue
        kept.append(entry)
    if dropped:
        _write_atomic(output_dir / QUARTO_SEARCH_INDEX, json.dumps(kept, ensure_ascii=False))
    return sorted(dropped)


def _quarto_executable() -> str:
    quarto = shutil.which("quarto")
    if not quarto:
        raise BosoError("quarto finnes ikke på PATH (bruk --renderer nbconvert)")
    return quarto


def _quarto_call(quarto: str, src_dir: Path, target: str | None) -> None:
    args = [quarto, "render"] + ([str(src_dir / target)] if target else [str(src_dir)])
    proc = subprocess.run(args, cwd=src_dir, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        where = f" ({target})" if target else ""
        raise BosoError(f"quarto render feilet{where}: {last}")


def render_quarto(
    src_dir: Path, out_dir: Path | None = None, plan: QuartoPlan | None = None
) -> None:
    """Run ``quarto render`` on the generated sources and copy the site into ``out_dir``.

    Quarto renders into the project's ``output-dir`` inside ``src_dir``, which is kept between
    runs: with a ``plan`` only the stale pages are rendered (``quarto render <file>`` each),
    unless the plan asks for the whole project. Pages rendered successfully are recorded in the
    plan's state, so a failed run re-renders only what is left.

    Raises:
        BosoError: Quarto is missing, fails, or leaves a page unrendered.
    """
    quarto = _quarto_executable()
    src_dir = Path(src_dir)
    if plan is None:
        _quarto_call(quarto, src_dir, None)
        output_dir = _quarto_output_dir(
            src_dir, (src_dir / "_quarto.yml").read_text("utf-8"), str(src_dir / "_quarto.yml")
        )
    else:
        output_dir = plan.output_dir
        rendered = plan.state["rendered"]
        start = time.perf_counter()
        # Outputs are removed before Quarto writes them again: a page that exists afterwards
        # was rendered by this call, not left over from an earlier run.
        if plan.full:
            rendered.clear()
            plan.save()
            shutil.rmtree(output_dir, ignore_errors=True)
            _quarto_call(quarto, src_dir, None)
            rendered.update(plan.sources)
            count = len(plan.sources)
        else:
            count = 0
            try:
                for rel in plan.render:
                    rendered.pop(rel, None)
                    (output_dir / rel).with_suffix(".html").unlink(missing_ok=True)
                    _quarto_call(quarto, src_dir, rel)
                    rendered[rel] = plan.sources[rel]
                    count += 1
            finally:
                plan.save()
        seconds = time.perf_counter() - start
        plan.state["last_render"] = {
            "mode": "project" if plan.full else "pages",
            "pages": count,
            "seconds": round(seconds, 2),
            "seconds_per_page": round(seconds / count, 3) if count else None,
        }
        _prune_search_index(output_dir, plan.sources)
        missing = [
            rel for rel in plan.sources if not (output_dir / rel).with_suffix(".html").is_file()
        ]
        for rel in missing:
            rendered.pop(rel, None)
        plan.save()
        if missing:
            more = f" (og {len(missing) - 1} sider til)" if len(missing) > 1 else ""
            raise BosoError(f"quarto render laget ikke siden for {missing[0]}{more}")
    if out_dir is not None:
        if not output_dir.is_dir():
            raise BosoError(f"quarto render laget ikke {output_dir}")
        shutil.copytree(output_dir, out_dir, dirs_exist_ok=True)


def build_quarto(
    model: SiteModel,
    src_dir: Path,
    out_dir: Path,
    quarto_config: Path | None = None,
    *,
    built: str = "",
    jobs: int | None = None,
) -> dict[str, int]:
    """Write the sources, render what changed with Quarto, copy the site into ``out_dir``.

    Returns:
        Bytes per HTML page of the site.
    """
    _quarto_executable()  # before converting any report
    plan = write_quarto_sources(model, src_dir, quarto_config, built=built, jobs=jobs)
    render_quarto(src_dir, out_dir, plan)
    return {str(p.relative_to(out_dir)): p.stat().st_size for p in out_dir.rglob("*.html")}
