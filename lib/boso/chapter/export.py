"""PDF and Word files from the chapter HTML (disk, browser, pandoc).

* **PDF**: the print layout is loaded into headless Chromium (Playwright driving Debian's
  ``chromium``, the same browser kaleido uses for ``boso.static_export``); plotly.js draws every
  figure from the report's figure JSON as SVG, and ``page.pdf`` prints A4 with a running header
  (the synthetic-data notice) and page numbers. Figures stay vector graphics.
* **Word**: the same page, still open, exports each drawn figure as PNG with plotly.js's own
  ``Plotly.toImage`` at :data:`SCALE` × (≥ 200 dpi as placed); pandoc turns the Word variant
  of the HTML (``<img>`` instead of plot divs) into docx with real headings, captions and
  tables, and python-docx sets A4, margins, page breaks and the notice in the page header.

One browser per worker process serves every kommune it builds (:class:`Browser`).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from boso.chapter.model import Chapter
from boso.chapter.render import CSS, FIGURE_WIDTH, print_figures, render_html
from boso.errors import BosoError
from boso.outputs import SYNTHETIC_NOTICE
from boso.static_export import StaticExportUnavailableError, browser_path, unavailable_reason

#: Scale of the Word images: 640 CSS px × 2 = 1280 px; Word places them at the text width
#: (≤ 16.9 cm), so ≥ 192 dpi at the natural size and ≈ 220 dpi as placed.
SCALE = 2.0
DPI = round(96 * SCALE)
FORMATS = ("pdf", "docx")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: A figure that plotly.js has not drawn within this time is an error, not a blank figure.
DRAW_TIMEOUT_MS = 60_000

#: Replaces the primed page's body and stylesheet (plotly.js stays loaded) and draws.
#: Plotly's own static export (what kaleido runs too) of every drawn figure, all at once.
_IMAGES_JS = """
async (scale) => {
  const plots = Array.from(document.querySelectorAll(".plot"));
  const urls = await Promise.all(plots.map((el) => Plotly.toImage(el, {
    format: "png", scale, width: el._fullLayout.width, height: el._fullLayout.height,
  })));
  return Object.fromEntries(plots.map((el, i) => [el.dataset.figure, urls[i]]));
}
"""

_DRAW_JS = """
async ([css, body, figures]) => {
  // The head keeps plotly.js's own stylesheet (it stacks the figure's SVG layers).
  let style = document.getElementById("boso-chapter-css");
  if (!style) {
    style = document.createElement("style");
    style.id = "boso-chapter-css";
    document.head.appendChild(style);
  }
  style.textContent = css;
  document.body.innerHTML = body;
  let drawn = 0;
  for (const [anchor, f] of Object.entries(figures)) {
    const el = document.getElementById("plot-" + anchor);
    await Plotly.newPlot(el, f.data, f.layout, f.config);
    drawn += 1;
  }
  return drawn;
}
"""


class ChapterError(BosoError):
    """A chapter could not be written (one line naming the kommune and the cause)."""


def plotly_js() -> Path:
    """The plotly.js bundle shipped with the plotly package (the site ships the same file)."""
    from boso.site import plotly_js_path

    return plotly_js_path()


def header_template(chapter: Chapter) -> str:
    """Chromium's running header: the synthetic notice on every page when any number is."""
    text = SYNTHETIC_NOTICE if chapter.synthetic else ""
    return (
        '<div style="font-size:8pt;width:100%;text-align:center;color:#b00020;'
        f'font-family:sans-serif;margin-top:6mm">{text}</div>'
    )


def footer_template(chapter: Chapter) -> str:
    """Chromium's running footer: document name and page numbers."""
    return (
        '<div style="font-size:7.5pt;width:100%;text-align:center;color:#555;'
        'font-family:sans-serif;margin-bottom:6mm">'
        f"Statistikkvedlegg {chapter.kommunenavn} ({chapter.kommunenummer}) · side "
        '<span class="pageNumber"></span> av <span class="totalPages"></span></div>'
    )


class Browser:
    """One headless Chromium (through Playwright) kept open for many chapters.

    Raises:
        StaticExportUnavailableError: No Chromium on this machine.
    """

    def __init__(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise StaticExportUnavailableError(reason)
        from playwright.sync_api import sync_playwright  # a hard dependency (pyproject.toml)

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=browser_path(), args=CHROMIUM_ARGS
            )
            self._context = self._browser.new_context(viewport={"width": 900, "height": 1200})
        except Exception:
            self._pw.stop()
            raise
        self._plotly = str(plotly_js())
        self._page: Any = None

    def _primed_page(self) -> Any:
        """A page with plotly.js loaded once (≈ 3 s) and reused for every chapter."""
        if self._page is None or self._page.is_closed():
            page = self._context.new_page()
            page.set_content("<!DOCTYPE html><html><head></head><body></body></html>")
            page.add_script_tag(path=self._plotly)
            self._page = page
        return self._page

    def render(self, chapter: Chapter, formats: tuple[str, ...]) -> dict[str, bytes]:
        """The chapter as ``{"pdf": bytes, "docx": bytes}`` (only the formats asked for)."""
        page = self._primed_page()
        try:
            html = render_html(chapter, "pdf")
            body = html.split("<body>", 1)[1].rsplit("</body>", 1)[0]
            css = CSS.read_text("utf-8")
            drawn = page.evaluate(_DRAW_JS, [css, body, print_figures(chapter)])
            if drawn != len(chapter.figures):
                raise ChapterError(
                    f"{chapter.kommunenummer}: plotly.js tegnet {drawn} av "
                    f"{len(chapter.figures)} figurer"
                )
            out: dict[str, bytes] = {}
            if "pdf" in formats:
                page.emulate_media(media="print")
                out["pdf"] = page.pdf(
                    format="A4",
                    prefer_css_page_size=True,
                    print_background=True,
                    display_header_footer=True,
                    header_template=header_template(chapter),
                    footer_template=footer_template(chapter),
                )
            if "docx" in formats:
                urls = page.evaluate(_IMAGES_JS, SCALE) if chapter.figures else {}
                images = {a: base64.b64decode(u.split(",", 1)[1]) for a, u in urls.items()}
                out["docx"] = to_docx(chapter, images)
            return out
        except BaseException:
            # A page left in an unknown state must not serve the next kommune.
            page.close()
            raise

    def close(self) -> None:
        """Close the browser and Playwright (safe to call twice)."""
        for closer in (self._browser.close, self._pw.stop):
            # Closing a dead browser must not hide the error that killed it.
            with contextlib.suppress(Exception):
                closer()


def to_docx(chapter: Chapter, images: dict[str, bytes]) -> bytes:
    """The Word file: pandoc from the Word variant of the HTML, then page set-up in python-docx."""
    import pypandoc

    work = Path(tempfile.mkdtemp(prefix="boso-docx-"))
    try:
        for anchor, png in images.items():
            (work / f"{anchor}.png").write_bytes(png)
        source = work / "chapter.html"
        source.write_text(render_html(chapter, "docx"), "utf-8")
        target = work / "chapter.docx"
        pypandoc.convert_file(
            str(source),
            "docx",
            format="html",
            outputfile=str(target),
            extra_args=[f"--dpi={DPI}", f"--resource-path={work}"],
        )
        finish_docx(target, chapter)
        return target.read_bytes()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def finish_docx(path: Path, chapter: Chapter) -> None:
    """A4 with 18 mm margins, each chapter on a new page, notice and page number in the header."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt, RGBColor

    doc = Document(str(path))
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.left_margin = section.right_margin = Mm(18)
        section.top_margin, section.bottom_margin = Mm(22), Mm(20)
        header = section.header.paragraphs[0]
        header.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if chapter.synthetic:
            run = header.add_run(SYNTHETIC_NOTICE)
            run.font.size = Pt(8)
            run.font.color.rgb = RGBColor(0xB0, 0x00, 0x20)
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        footer.add_run(
            f"Statistikkvedlegg {chapter.kommunenavn} ({chapter.kommunenummer}) · side "
        ).font.size = Pt(8)
        field = OxmlElement("w:fldSimple")
        field.set(qn("w:instr"), "PAGE")
        footer._p.append(field)
    heading = doc.styles["Heading 1"]
    heading.paragraph_format.page_break_before = True
    for style_name in ("Table", "Compact"):
        if style_name in [s.name for s in doc.styles]:
            doc.styles[style_name].font.size = Pt(8.5)
    doc.save(str(path))


def image_width_px() -> int:
    """Pixel width of a Word figure image (for the dpi check in tests)."""
    return round(FIGURE_WIDTH * SCALE)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_files(chapter: Chapter, formats: tuple[str, ...], browser: Any) -> dict[str, bytes]:
    """Render with ``browser`` (a :class:`Browser`), checking the formats."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ChapterError(f"ukjent format {unknown[0]!r} (velg pdf eller docx)")
    return browser.render(chapter, formats)
