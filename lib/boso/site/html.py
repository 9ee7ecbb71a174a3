"""The built-in renderer: the site model laid out as HTML with Jinja2 and nbconvert.

Every page is wrapped in the Jinja2 layout (``templates/layout.html.j2``); a report page's body
is its executed notebook converted by one in-process ``HTMLExporter`` per worker (inputs
excluded). The report content (:func:`report_content`), the assets and the worker pool are
shared with the Quarto renderer, which hands the same HTML to Quarto.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from boso.errors import BosoError, DataError
from boso.outputs import CAPTION_KIND, PLOTLY_MIME, SYNTHETIC_NOTICE, output_kind
from boso.site.model import (
    NAV,
    PACKAGE_DIR,
    SITE_TITLE,
    SYNTHETIC_DETAIL,
    TEMPLATES,
    Page,
    ReportPage,
    SiteModel,
    jinja_env,
)

ASSETS = PACKAGE_DIR / "assets"
# Below this many report pages (or with one job) the pages are converted in this process:
# starting workers costs more than it saves.
POOL_MIN_TASKS = 40

_WORKER: dict[str, Any] = {}
_Task = TypeVar("_Task")
_Result = TypeVar("_Result")


def _worker_pool(jobs: int) -> ProcessPoolExecutor:
    """Page-rendering workers that exit when this process dies (``kill -9`` included)."""
    from boso.lifetime import exit_with_parent

    return ProcessPoolExecutor(max_workers=jobs, initializer=exit_with_parent)


def run_batches(
    func: Callable[[list[_Task]], list[_Result]], tasks: list[_Task], jobs: int | None
) -> Iterator[list[_Result]]:
    """``func(batch)`` over ``tasks``, yielding each batch's results as it finishes.

    Few tasks (or one job) run here, one task per batch; otherwise batches go to a pool of
    :func:`_worker_pool` workers. Batches amortise pickling and keep the cores busy; each
    worker builds its exporter once.
    """
    jobs = max(1, jobs or os.cpu_count() or 1)
    if jobs == 1 or len(tasks) < POOL_MIN_TASKS:
        for task in tasks:
            yield func([task])
        return
    size = max(10, math.ceil(len(tasks) / (jobs * 8)))
    batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    with _worker_pool(jobs) as pool:
        yield from pool.map(func, batches)


def _exporter_class() -> type:
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter

    class ReportExporter(HTMLExporter):
        """HTMLExporter without its per-page BeautifulSoup pass.

        After rendering, HTMLExporter re-parses and re-serialises every page with BeautifulSoup
        to add alt text to ``<img>`` without one and ``tabindex`` to JupyterLab wrappers. Our
        fragment has neither wrapper, and boso figures are plotly divs; the pass cost ≈ 40 %
        of the conversion time on real reports. The first call goes through HTMLExporter so
        that its Jinja filters are registered; later calls render the template directly.
        """

        _filters_ready = False

        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
            if not self._filters_ready:
                self._filters_ready = True
                return super().from_notebook_node(nb, resources, **kw)
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportExporter


def _exporter() -> Any:
    """One HTMLExporter per process (building it costs ≈ 0.3 s; converting ≈ 10-50 ms)."""
    if "exporter" not in _WORKER:
        from traitlets.config import Config

        config = Config()
        # Pygments CSS is only for code inputs, which the site never shows.
        config.CSSHTMLHeaderPreprocessor.enabled = False
        config.HTMLExporter.exclude_input = True
        config.HTMLExporter.exclude_input_prompt = True
        config.HTMLExporter.exclude_output_prompt = True
        # The default preprocessors (attachments, widget state, stream coalescing...) have
        # nothing to do on published reports, yet each re-validates the notebook.
        config.HTMLExporter.default_preprocessors = []
        _WORKER["exporter"] = _exporter_class()(
            config=config,
            template_name="lab",
            # An absolute path: nbconvert adds its folder to the template search path.
            template_file=str(TEMPLATES / "nbconvert_report.html.j2"),
        )
        _WORKER["env"] = jinja_env()
    return _WORKER["exporter"]


def _layout_html(env: Any, page: Page | ReportPage, content: str, built: str, **extra: Any) -> str:
    root = "../" * page.path.count("/")
    if isinstance(page, Page):
        active, kind, needs_filter = page.active, page.kind, page.needs_filter
    else:  # a report page belongs to Kommuner and never needs the kommune filter
        active, kind, needs_filter = "kommuner", "report", False
    return env.get_template("layout.html.j2").render(
        title=page.title,
        site_title=SITE_TITLE,
        root=root,
        nav=NAV,
        active=active,
        page_kind=kind,
        breadcrumbs=page.breadcrumbs,
        synthetic=page.synthetic,
        synthetic_notice=SYNTHETIC_NOTICE,
        synthetic_detail=SYNTHETIC_DETAIL,
        content=content,
        built=built,
        needs_plotly=extra.get("needs_plotly", False),
        needs_filter=needs_filter,
    )


def page_outputs(outputs: list[Any]) -> list[Any]:
    """A cell's outputs as a page shows them: without the caption outputs that repeat a
    figure's caption for notebook front ends (the figure's own HTML carries it here)."""
    return [o for o in outputs if output_kind(o) != CAPTION_KIND]


def report_content(page: ReportPage) -> str:
    """The content of one report page: analysis links and the nbconvert body (both renderers).

    Raises:
        DataError: The notebook cannot be read.
    """
    import nbformat
    from nbformat.v4.rwbase import rejoin_lines

    exporter = _exporter()
    env = _WORKER["env"]
    try:
        # papermill wrote and validated these; skipping nbformat's schema validation here
        # saves a quarter of the conversion time.
        nb = rejoin_lines(nbformat.from_dict(json.loads(page.source.read_text("utf-8"))))
        if nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
            raise ValueError("ikke en notatbok i nbformat 4")
        # The page draws each figure from its text/html output; the duplicate plotly JSON is
        # never shown, and deep-copying it was most of nbconvert's time per page.
        for cell in nb.cells:
            if cell.get("outputs"):
                cell["outputs"] = page_outputs(cell["outputs"])
            for output in cell.get("outputs") or ():
                (output.get("data") or {}).pop(PLOTLY_MIME, None)
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, TypeError) as exc:
        raise DataError(f"{page.source}: kan ikke lese notatboken ({exc})") from exc
    body, _ = exporter.from_notebook_node(nb)
    return env.get_template("content_report.html.j2").render(
        kommune={"kommunenavn": page.kommunenavn, "fylkesnavn": page.fylkesnavn},
        report={"analysis": page.analysis},
        siblings=page.siblings,
        body=body,
    )


def render_report(page: ReportPage, built: str) -> str:
    """The full HTML of one report page (nbconvert body inside the shared layout)."""
    content = report_content(page)
    return _layout_html(_WORKER["env"], page, content, built, needs_plotly=True)


def _convert_batch(batch: list[tuple[ReportPage, str, str]]) -> list[tuple[str, int]]:
    out = []
    for page, target, built in batch:
        html = render_report(page, built)
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        data = html.encode("utf-8")
        Path(target).write_bytes(data)
        out.append((page.path, len(data)))
    return out


def copy_assets(target: Path) -> None:
    """Copy the site's assets (CSS, JS, plotly.min.js) into ``target`` (both renderers)."""
    target.mkdir(parents=True, exist_ok=True)
    for asset in ASSETS.iterdir():
        if asset.is_file() and not asset.name.startswith("."):
            shutil.copy2(asset, target / asset.name)
    plotly_js = plotly_js_path()
    shutil.copy2(plotly_js, target / "plotly.min.js")


def plotly_js_path() -> Path:
    """plotly.min.js from the installed plotly package (shipped once per site, never inlined)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise BosoError(f"finner ikke plotly.min.js i plotly-pakken ({path})")
    return path


def render_nbconvert(
    model: SiteModel, out_dir: Path, *, built: str, jobs: int | None = None
) -> dict[str, int]:
    """Write the whole site with nbconvert + Jinja2 into ``out_dir``; returns page sizes."""
    env = jinja_env()
    sizes: dict[str, int] = {}
    for page in model.pages:
        target = out_dir / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = _layout_html(env, page, page.content, built).encode("utf-8")
        target.write_bytes(data)
        sizes[page.path] = len(data)
    copy_assets(out_dir / "assets")

    from tqdm import tqdm

    tasks = [(page, str(out_dir / page.path), built) for page in model.reports]
    # disable=None: a progress bar on a terminal only, not in logs or CI output.
    progress = tqdm(total=len(tasks), unit="side", desc="rapportsider", disable=None)
    with progress:
        for result in run_batches(_convert_batch, tasks, jobs):
            sizes.update(result)
            progress.update(len(result))
    return sizes
