"""Static images of plotly figures (PNG, SVG, PDF) through kaleido and a local Chromium.

The one static-export path of boso: ``figures.save`` (a researcher taking a figure into a report)
and the chapter documents (PDF/Word) both call :func:`to_image`. kaleido drives a headless
Chromium; on Debian that is the ``chromium`` package, found on ``PATH`` or through
``$BROWSER_PATH``. Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from boso.errors import BosoError

FORMATS = ("png", "svg", "pdf")
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


class StaticExportUnavailableError(BosoError):
    """No browser for static export on this machine (one line says how to get one)."""


def browser_path() -> str | None:
    """The Chromium kaleido will use, or ``None`` when there is none on this machine."""
    env = os.environ.get("BROWSER_PATH")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable_reason() -> str | None:
    """One bokmål line saying why static export cannot run here, or ``None`` when it can."""
    if browser_path() is None:
        return (
            "fant ingen Chromium for statiske figurer (installer Debian-pakken «chromium» "
            "eller sett BROWSER_PATH)"
        )
    # kaleido is a hard dependency (pyproject.toml); only the browser can be missing.
    return None


def to_image(
    figure: Any,
    fmt: str = "png",
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float = 1.0,
) -> bytes:
    """Render a plotly figure (``go.Figure`` or its dict) as PNG, SVG or PDF bytes.

    Raises:
        StaticExportUnavailableError: no Chromium on this machine.
        ValueError: an unknown format.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"ukjent bildeformat {fmt!r}: bruk {', '.join(FORMATS)}")
    reason = unavailable_reason()
    if reason:
        raise StaticExportUnavailableError(reason)
    browser = browser_path()
    if browser and not os.environ.get("BROWSER_PATH"):
        os.environ["BROWSER_PATH"] = browser  # kaleido/choreographer read it
    import plotly.io as pio

    return pio.to_image(figure, format=fmt, width=width, height=height, scale=scale)


def write_image(
    figure: Any,
    path: str | os.PathLike[str],
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float = 1.0,
) -> Path:
    """Write a plotly figure as an image file; the format comes from the suffix.

    The file appears only when complete (written to a temporary file, then renamed).

    Raises:
        StaticExportUnavailableError: no Chromium on this machine.
        QueryError: the suffix is not .png, .svg or .pdf.
    """
    from boso.errors import QueryError
    from boso.raw import atomic_write_bytes

    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise QueryError(
            f"ukjent bildeformat {target.suffix!r} i {target}: bruk .png, .svg eller .pdf"
        )
    data = to_image(figure, fmt, width=width, height=height, scale=scale)
    atomic_write_bytes(target, data)
    return target
