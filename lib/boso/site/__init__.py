"""The published site: kommune pages and listings from ``reports/``, rendered to ``_site/``.

Two renderers build the same page structure::

    index.html                               Forside: every kommune, grouped by fylke, with a filter
    kommuner/index.html                      Kommuner: the same list with KOSTRA group and status
    kommuner/<knr>-<slug>/index.html         one landing page per kommune: headlines + analyses
    kommuner/<knr>-<slug>/<analysis>.html    the executed report notebooks (inputs hidden)
    data-og-metode.html                      generated from the indicator catalog and raw provenance
    om.html
    assets/plotly.min.js, boso.css, boso.js  shipped once, referenced by relative URL

One job per module:

* :mod:`boso.site.model` — the inputs (:class:`SiteInputs`, :func:`load_inputs`) and the site
  model: every page's content, shared by both renderers (:func:`build_model`).
* :mod:`boso.site.html` — the built-in renderer (nbconvert + Jinja2, every environment).
* :mod:`boso.site.quarto` — the Quarto renderer (canonical when ``quarto`` is on PATH):
  ``.qmd`` sources in ``site_src/`` and incremental ``quarto render`` (docs/site-quarto.md).
* :mod:`boso.site.build` — choosing the renderer, the build beside ``_site/`` and its atomic
  swap, leftovers of killed builds, ``boso site`` (:func:`build_site`, :func:`run_cli`).

Nothing on a page points outside the site, so it reads from a USB stick or a closed network.

This package re-exports the names used outside it (``boso.chapter``, ``boso.cli``, tests and
benchmarks); renderer internals are imported from their module.
"""

from boso.site.build import MANIFEST_NAME, SiteResult, build_site, choose_renderer, run_cli
from boso.site.html import plotly_js_path
from boso.site.model import (
    Headline,
    Page,
    Report,
    ReportPage,
    SiteInputs,
    SiteModel,
    build_model,
    discover_reports,
    format_number,
    headline_numbers,
    indicator_info,
    is_report_notebook,
    kommune_dir,
    latest_values,
    load_inputs,
    method_context,
    read_report_meta,
)

__all__ = [
    "MANIFEST_NAME",
    "Headline",
    "Page",
    "Report",
    "ReportPage",
    "SiteInputs",
    "SiteModel",
    "SiteResult",
    "build_model",
    "build_site",
    "choose_renderer",
    "discover_reports",
    "format_number",
    "headline_numbers",
    "indicator_info",
    "is_report_notebook",
    "kommune_dir",
    "latest_values",
    "load_inputs",
    "method_context",
    "plotly_js_path",
    "read_report_meta",
    "run_cli",
]
