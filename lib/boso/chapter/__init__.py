"""The statistical chapter of a foranalyse ("statistikkvedlegg") per kommune, as PDF and Word.

Built from the executed reports (``reports/<knr>-<slug>/<analysis>.ipynb``) and their figure
objects, the same inputs as the site: :mod:`boso.chapter.model` reads them (pure),
:mod:`boso.chapter.render` lays them out as HTML, :mod:`boso.chapter.export` prints the PDF in
headless Chromium and writes the Word file with pandoc, :mod:`boso.chapter.runner` is
``boso chapter`` (parallel, incremental, failures isolated). See ``docs/chapter.md``.
"""

from __future__ import annotations

from boso.chapter.model import Chapter, build_chapter
from boso.chapter.runner import (
    BASENAME,
    keep_chapters,
    published_chapters,
    run_chapters,
    run_cli,
)

__all__ = [
    "BASENAME",
    "Chapter",
    "build_chapter",
    "keep_chapters",
    "published_chapters",
    "run_chapters",
    "run_cli",
]
