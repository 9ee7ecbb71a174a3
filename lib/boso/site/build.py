"""Building the site: choose a renderer, build beside ``_site/``, swap it in whole.

``boso site`` runs :func:`run_cli`: the inputs are loaded (:func:`boso.site.model.load_inputs`),
the model is built once, and the chosen renderer (:mod:`boso.site.quarto` when ``quarto`` is on
PATH, else :mod:`boso.site.html`) writes into a temporary directory beside ``_site/``. Only a
complete build replaces the published site, with the statistikkvedlegg of ``boso chapter``
carried over; the leftovers of a killed build are cleaned up by the next one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from boso.config import paths
from boso.errors import BosoError
from boso.site.html import render_nbconvert
from boso.site.model import SiteInputs, build_model, load_inputs
from boso.site.quarto import build_quarto

MANIFEST_NAME = "boso-site.json"
RENDERERS = ("auto", "quarto", "nbconvert")


@dataclass(frozen=True)
class SiteResult:
    """What a build produced."""

    renderer: str
    site_dir: Path
    pages: int
    report_pages: int
    kommuner: int
    seconds: float


def _stale_prefixes(site_dir: Path) -> tuple[str, str]:
    return f".{site_dir.name}.build-", f".{site_dir.name}.old-"


def clean_leftovers(site_dir: Path) -> list[Path]:
    """Remove what a killed site build left beside ``site_dir`` (only once its owner is dead).

    Should ``site_dir`` be missing because a build was killed between the two renames of the
    fallback swap, the previous site is put back first.

    Returns:
        What was removed.
    """
    from boso.lifetime import owner, pid_alive, remove_stale

    build_prefix, old_prefix = _stale_prefixes(site_dir)
    if not site_dir.exists():
        old = [
            p
            for p in site_dir.parent.glob(f"{old_prefix}*")
            if (pid := owner(p.name, old_prefix)) is not None and not pid_alive(pid)
        ]
        if old:
            os.rename(sorted(old)[-1], site_dir)
    # Build folders of versions that did not name their owner: stale after a day.
    removed = remove_stale(site_dir.parent, build_prefix, unowned_after=86400)
    return removed + remove_stale(site_dir.parent, old_prefix)


def _swap_in(build_dir: Path, site_dir: Path) -> None:
    """Replace ``site_dir`` by ``build_dir``: one exchange where the system can, else two
    renames (same file system)."""
    from boso.lifetime import exchange

    if site_dir.exists() and exchange(build_dir, site_dir):
        shutil.rmtree(build_dir, ignore_errors=True)  # now the previous site
        return
    old = None
    if site_dir.exists():
        old = site_dir.with_name(f".{site_dir.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(site_dir, old)
    try:
        os.replace(build_dir, site_dir)
    except BaseException:
        if old is not None:
            os.replace(old, site_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def choose_renderer(requested: str = "auto") -> str:
    """``quarto`` when requested or (for ``auto``) when it is on PATH, else ``nbconvert``."""
    if requested not in RENDERERS:
        raise BosoError(f"ukjent renderer {requested!r} (velg {', '.join(RENDERERS)})")
    if requested == "auto":
        return "quarto" if shutil.which("quarto") else "nbconvert"
    return requested


def build_site(
    inputs: SiteInputs,
    site_dir: Path,
    *,
    renderer: str = "auto",
    source_dir: Path | None = None,
    jobs: int | None = None,
) -> SiteResult:
    """Build the site from ``inputs`` into ``site_dir`` (swapped in atomically).

    Args:
        inputs: What to build from (see :func:`load_inputs`).
        site_dir: The published directory, e.g. ``_site``.
        renderer: ``auto`` (Quarto when on PATH), ``quarto`` or ``nbconvert``.
        source_dir: Where Quarto page sources go (default ``site_src`` beside ``site_dir``).
        jobs: Worker processes for the nbconvert renderer (default: CPU count).

    Returns:
        What was built.

    Raises:
        DataError: The registry or a report notebook is malformed.
        BosoError: Quarto was requested but is missing or failed.
    """
    start = time.perf_counter()
    chosen = choose_renderer(renderer)
    built = dt.datetime.now().astimezone().strftime("%d.%m.%Y %H:%M")
    renderer_text = "Quarto" if chosen == "quarto" else "nbconvert og Jinja2 (uten Quarto)"
    model = build_model(inputs, renderer_text=renderer_text, built=built)

    site_dir = Path(site_dir)
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(site_dir)
    # The owner's pid in the name lets the next run tell a killed build from a running one.
    build_dir = Path(
        tempfile.mkdtemp(prefix=f".{site_dir.name}.build-{os.getpid()}-", dir=site_dir.parent)
    )
    try:
        if chosen == "quarto":
            src = source_dir or site_dir.parent / "site_src"
            sizes = build_quarto(
                model, src, build_dir, inputs.quarto_config, built=built, jobs=jobs
            )
        else:
            sizes = render_nbconvert(model, build_dir, built=built, jobs=jobs)
        seconds = time.perf_counter() - start
        manifest = {
            "renderer": chosen,
            "built": built,
            "seconds": round(seconds, 2),
            "kommuner": model.kommuner,
            "pages": len(sizes),
            "report_pages": [p.path for p in model.reports],
            "synthetic_pages": sorted(
                [p.path for p in model.pages if p.synthetic]
                + [p.path for p in model.reports if p.synthetic]
            ),
            "page_bytes": sizes,
        }
        (build_dir / MANIFEST_NAME).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8"
        )
        os.chmod(build_dir, 0o755)  # mkdtemp makes it 0700; a served site must be readable
        from boso.chapter.runner import keep_chapters  # boso chapter's files outlive a rebuild

        keep_chapters(site_dir, build_dir)
        _swap_in(build_dir, site_dir)
    except BaseException:
        shutil.rmtree(build_dir, ignore_errors=True)
        raise
    return SiteResult(
        renderer=chosen,
        site_dir=site_dir,
        pages=len(sizes),
        report_pages=len(model.reports),
        kommuner=model.kommuner,
        seconds=time.perf_counter() - start,
    )


def run_cli(args: argparse.Namespace) -> int:
    """``boso site [--renderer auto|quarto|nbconvert] [--jobs N]``."""
    p = paths()
    requested = args.renderer
    inputs = load_inputs(p.root)
    result = build_site(
        inputs,
        p.site,
        renderer=requested,
        source_dir=p.site_source,
        jobs=args.jobs,
    )
    how = (
        "Quarto"
        if result.renderer == "quarto"
        else "nbconvert-reserven (quarto finnes ikke på PATH)"
        if requested == "auto"
        else "nbconvert"
    )
    print(
        f"nettstedet er bygget med {how}: {result.pages} sider "
        f"({result.report_pages} rapporter, {result.kommuner} kommuner) i {result.site_dir} "
        f"på {result.seconds:.1f} s"
    )
    print(f"åpne {result.site_dir / 'index.html'}")
    return 0
