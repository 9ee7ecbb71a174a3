"""``boso chapter``: statistikkvedlegg for many kommuner, parallel and incremental.

Each kommune's files go to ``_site/kommuner/<knr>-<slug>/statistikkvedlegg.{pdf,docx}``. A file
is rebuilt only when its key changes: the SHA-256 over the content hashes of the kommune's
executed reports (``boso.reports.FileHasher``, cached in ``reports/.boso-cache.json``), the
headline numbers and data sources it shows, the catalog definitions, the chapter code and the
format. The key is stored outside the published site (``.boso-chapter-keys/_site/<knr>-<slug>/``
beside ``_site/``) only after the file was written (atomically). A failure is reported for that
kommune and the others carry on.
``boso site`` keeps these files when it rebuilds the site (:func:`keep_chapters`) and links them
from the kommune page (:func:`published_chapters`).
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boso
from boso.chapter.export import FORMATS, Browser, write_atomic
from boso.chapter.model import build_chapter
from boso.config import paths
from boso.errors import BosoError, QueryError
from boso.processed import check_registry
from boso.reports import (
    CACHE_FILE,
    FAILED,
    OK,
    SKIPPED,
    FileHasher,
    ReportResult,
    RunSummary,
    _close_matches,
    _sha256_json,
    select_kommuner,
)
from boso.static_export import StaticExportUnavailableError, unavailable_reason

BASENAME = "statistikkvedlegg"
#: Each worker pays for a browser and plotly.js (≈ 3–5 s); give it at least this many kommuner.
KOMMUNER_PER_WORKER = 3
_CODE_FILES = ("chapter", "static_export.py")


def chapter_digest() -> str:
    """Digest of the code and templates that shape a chapter (a fix rebuilds the files)."""
    root = Path(boso.__file__).resolve().parent
    digest = hashlib.sha256(boso.__version__.encode())
    for name in _CODE_FILES:
        target = root / name
        files = sorted(target.rglob("*")) if target.is_dir() else [target]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode())
    return digest.hexdigest()


def output_path(folder: Path, fmt: str) -> Path:
    """``<folder>/statistikkvedlegg.<fmt>``."""
    return folder / f"{BASENAME}.{fmt}"


def _key_path(folder: Path, fmt: str) -> Path:
    # Beside the site, not in it: a cache key is internal, everything in _site/ is published, and
    # a site rebuild (a new _site/ swapped in) leaves it where it is.
    # (Not named ._site.*: that is what a killed site build leaves behind.)
    site_dir = folder.parent.parent
    keys = site_dir.parent / ".boso-chapter-keys" / site_dir.name
    return keys / folder.name / f"{BASENAME}.{fmt}.key"


def stored_key(folder: Path, fmt: str) -> str | None:
    """The key stored for a chapter file (see :func:`_key_path`), or ``None``."""
    try:
        return json.loads(_key_path(folder, fmt).read_text("utf-8")).get("key")
    except (OSError, ValueError, AttributeError):
        return None


def published_chapters(site_dir: Path) -> dict[str, list[str]]:
    """Kommunenummer → formats whose chapter file exists in ``site_dir`` (for the page links)."""
    found: dict[str, list[str]] = {}
    base = Path(site_dir) / "kommuner"
    if not base.is_dir():
        return found
    for folder in sorted(base.iterdir()):
        knr = folder.name[:4]
        if not (folder.is_dir() and knr.isdigit() and folder.name[4:5] == "-"):
            continue
        formats = [f for f in FORMATS if output_path(folder, f).is_file()]
        if formats:
            found[knr] = formats
    return found


def keep_chapters(old_site: Path, new_site: Path) -> int:
    """Carry chapter files from the old site into a new build of it (their keys stay outside).

    Only kommune folders the new site has are kept. Files are hard-linked where possible.

    Returns:
        The number of chapter files kept.
    """
    kept = 0
    base = Path(old_site) / "kommuner"
    if not base.is_dir():
        return 0
    for folder in base.iterdir():
        target = Path(new_site) / "kommuner" / folder.name
        if not folder.is_dir() or not target.is_dir():
            continue
        for fmt in FORMATS:
            src = output_path(folder, fmt)
            if not src.is_file() or (target / src.name).exists():
                continue
            try:
                os.link(src, target / src.name)
            except OSError:
                shutil.copy2(src, target / src.name)
            kept += 1
    return kept


# --------------------------------------------------------------------------------------------
# Jobs


@dataclass
class ChapterJob:
    """Everything a worker needs to build one kommune's chapter files."""

    info: dict[str, str]
    notebooks: list[tuple[str, str]]
    folder: str
    formats: tuple[str, ...]
    keys: dict[str, str]
    headlines: list[Any]
    provenance: list[dict[str, Any]]
    indicators: list[dict[str, Any]]
    date: str


_WORKER: dict[str, Any] = {}


def _browser() -> Browser:
    if "browser" not in _WORKER:
        _WORKER["browser"] = Browser()
        atexit.register(_close_browser)
    return _WORKER["browser"]


def _close_browser() -> None:
    browser = _WORKER.pop("browser", None)
    if browser is not None:
        browser.close()


def build_job(job: ChapterJob) -> dict[str, Any]:
    """Build and write one kommune's files (runs in a worker); never raises."""
    started = time.perf_counter()
    try:
        notebooks = []
        for analysis, path in job.notebooks:
            try:
                notebooks.append((analysis, json.loads(Path(path).read_text("utf-8"))))
            except (OSError, ValueError) as exc:
                raise BosoError(f"{path}: ikke en lesbar notatbok ({exc})") from exc
        chapter = build_chapter(
            job.info,
            notebooks,
            date=job.date,
            headlines=job.headlines,
            provenance=job.provenance,
            indicators=job.indicators,
        )
        files = _browser().render(chapter, job.formats)
        folder = Path(job.folder)
        for fmt in job.formats:
            write_atomic(output_path(folder, fmt), files[fmt])
            key = json.dumps({"key": job.keys[fmt], "format": fmt}, indent=1)
            write_atomic(_key_path(folder, fmt), key.encode("utf-8"))
        return {"status": OK, "seconds": time.perf_counter() - started}
    except Exception as exc:  # noqa: BLE001 - one kommune's failure must not stop the others
        if not isinstance(exc, BosoError):
            _close_browser()  # a browser in an unknown state must not serve the next kommune
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {
            "status": FAILED,
            "error": message[:300],
            "seconds": time.perf_counter() - started,
        }


def effective_jobs(requested: int | None, kommuner: int) -> int:
    """Worker count: ``requested`` (capped), else the cores, but one for a few kommuner."""
    if requested:
        return max(1, min(requested, kommuner))
    return max(1, min(os.cpu_count() or 1, kommuner // KOMMUNER_PER_WORKER))


def _run_jobs(
    jobs: list[ChapterJob], workers: int, record: Callable[[ChapterJob, dict[str, Any]], None]
) -> None:
    if workers == 1:
        # In a thread of its own: Playwright's sync API refuses to start in a thread that runs
        # an asyncio loop (a Jupyter kernel, or another Playwright session such as a test's).
        from concurrent.futures import ThreadPoolExecutor

        def serial() -> None:
            try:
                for job in jobs:
                    record(job, build_job(job))
            finally:
                _close_browser()

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="boso-chapter") as pool:
            pool.submit(serial).result()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(build_job, job): job for job in jobs}
        try:
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    outcome = {"status": FAILED, "error": f"arbeidsprosessen døde: {exc}"}
                record(futures[future], outcome)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


# --------------------------------------------------------------------------------------------
# Summary


class ChapterSummary(RunSummary):
    """Results per (kommune, format); ``analysis`` holds the file name."""

    ITEM_LABEL = "fil"
    COUNT_COLUMNS = (("laget", 7), ("uendret", 9), ("feilet", 8))


# --------------------------------------------------------------------------------------------
# Orchestration


def discover(reports_dir: Path) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """Executed reports per kommune in the site's order, and kommuner with an unreadable one.

    Like ``boso.site.discover_reports``, but a broken notebook fails only its own kommune
    (error notebooks ``<analysis>.error.ipynb`` from a failed run are left out).
    """
    from boso import site

    found: dict[str, list[Any]] = {}
    broken: dict[str, str] = {}
    if not reports_dir.is_dir():
        return found, broken
    for folder in sorted(reports_dir.iterdir()):
        knr = folder.name[:4]
        if not (folder.is_dir() and knr.isdigit() and folder.name[4:5] == "-"):
            continue
        for path in sorted(folder.glob("*.ipynb")):
            if not site.is_report_notebook(path):
                continue
            try:
                found.setdefault(knr, []).append(site.read_report_meta(path, knr))
            except BosoError as exc:
                broken.setdefault(knr, str(exc))
    for reports in found.values():
        reports.sort(key=lambda r: r.order)
    return found, broken


def run_chapters(
    kommuner: Sequence[str],
    *,
    formats: Sequence[str] = FORMATS,
    jobs: int | None = None,
    force: bool = False,
    root: Path | None = None,
    progress: bool = True,
    require_reports: bool = True,
    inputs: Any = None,
) -> ChapterSummary:
    """Build the statistikkvedlegg of ``kommuner`` into the site's kommune folders.

    Args:
        kommuner: Kommune codes (validated against the registry).
        formats: ``pdf`` and/or ``docx``.
        jobs: Worker processes (default: cores, but one for a few kommuner).
        force: Rebuild files whose key did not change.
        root: Project root (default: ``boso.config.paths()``).
        progress: Show a tqdm progress bar on stderr.
        require_reports: A kommune without executed reports is a failure (else it is left out).
        inputs: ``boso.site.SiteInputs`` already loaded (default: ``site.load_inputs``).

    Raises:
        QueryError: Unknown kommune or format.
        StaticExportUnavailableError: No Chromium on this machine.
    """
    from boso import site

    started = time.perf_counter()
    formats = tuple(dict.fromkeys(formats))
    for fmt in formats:
        if fmt not in FORMATS:
            raise QueryError(f"ukjent format {fmt!r}{_close_matches(fmt, FORMATS)}")
    # playwright and kaleido are hard dependencies (pyproject.toml): only the browser can be
    # missing on a machine where boso is installed.
    reason = unavailable_reason()
    if reason:
        raise StaticExportUnavailableError(f"{reason}: statistikkvedleggene ble ikke laget")

    p = paths(root) if root else paths()
    inputs = inputs or site.load_inputs(p.root)
    registry = check_registry(inputs.registry)
    selected = select_kommuner(registry, kommune=list(kommuner))
    rows = {r["kommunenummer"]: r for r in registry.to_dict("records")}
    reports, broken = discover(Path(inputs.reports_dir))
    latest = site.latest_values(inputs.indicator_tables)
    catalog = [site.indicator_info(c) for c in inputs.catalog]
    labels = {c.id: c.label for c in catalog}
    indicators = site.method_context(catalog, inputs.provenance)["indicators"]
    provenance = [dict(prov) for prov in inputs.provenance]
    code = chapter_digest()
    hasher = FileHasher(inputs.reports_dir / CACHE_FILE)
    date = dt.date.today().strftime("%d.%m.%Y")

    summary = ChapterSummary()
    todo: list[ChapterJob] = []
    for knr, navn in selected:
        folder = p.site / "kommuner" / site.kommune_dir(knr, navn)
        own = reports.get(knr, [])
        if knr in broken or (not own and require_reports):
            error = (
                broken.get(knr) or f"ingen kjørte rapporter: kjør `boso reports --kommune {knr}`"
            )
            for fmt in formats:
                summary.results.append(
                    ReportResult(
                        knr,
                        navn,
                        f"{BASENAME}.{fmt}",
                        output_path(folder, fmt),
                        FAILED,
                        error=error,
                    )
                )
            continue
        if not own:
            continue  # --all / --fylke: a kommune without reports gets no chapter
        headlines = site.headline_numbers(latest, knr, labels)
        row = rows[knr]
        info = {
            "kommunenummer": knr,
            "kommunenavn": navn,
            "fylkesnavn": str(row.get("fylkesnavn") or ""),
            "kostragruppe": row["kostragruppenavn"],  # the display label (check_registry)
        }
        parts = {
            "reports": {r.analysis: hasher.hash(r.path) for r in own},
            "info": info,
            "headlines": [dataclasses.asdict(h) for h in headlines],
            "provenance": provenance,
            "indicators": indicators,
            "code": code,
        }
        keys = {fmt: _sha256_json({**parts, "format": fmt}) for fmt in formats}
        wanted = tuple(
            fmt
            for fmt in formats
            if force
            or not output_path(folder, fmt).is_file()
            or stored_key(folder, fmt) != keys[fmt]
        )
        for fmt in formats:
            if fmt not in wanted:
                summary.results.append(
                    ReportResult(knr, navn, f"{BASENAME}.{fmt}", output_path(folder, fmt), SKIPPED)
                )
        if wanted:
            todo.append(
                ChapterJob(
                    info,
                    [(r.analysis, str(r.path)) for r in own],
                    str(folder),
                    wanted,
                    {fmt: keys[fmt] for fmt in wanted},
                    headlines,
                    provenance,
                    indicators,
                    date,
                )
            )
    hasher.save()

    if todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="kommune", desc="statistikkvedlegg", disable=not progress)

        def record(job: ChapterJob, outcome: dict[str, Any]) -> None:
            for fmt in job.formats:
                summary.results.append(
                    ReportResult(
                        job.info["kommunenummer"],
                        job.info["kommunenavn"],
                        f"{BASENAME}.{fmt}",
                        output_path(Path(job.folder), fmt),
                        outcome["status"],
                        outcome.get("seconds", 0.0) / len(job.formats),
                        outcome.get("error", ""),
                    )
                )
            bar.update(1)

        try:
            _run_jobs(todo, effective_jobs(jobs, len(todo)), record)
        finally:
            bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def run_cli(args: argparse.Namespace) -> int:
    """``boso chapter``: choose kommuner, build, print the summary; 1 when any file failed."""
    from boso import site

    p = paths()
    inputs = site.load_inputs(p.root)
    registry = check_registry(inputs.registry)
    selected = select_kommuner(
        registry, kommune=args.kommune, fylke=args.fylke, all_kommuner=bool(args.all)
    )
    try:
        summary = run_chapters(
            [code for code, _ in selected],
            formats=tuple(args.format or FORMATS),
            jobs=args.jobs,
            force=args.force,
            progress=True,
            require_reports=bool(args.kommune),
            inputs=inputs,
        )
    except StaticExportUnavailableError as exc:
        if args.skip_if_no_browser:
            print(f"boso chapter: {exc}", file=sys.stderr)
            return 0
        raise
    print(summary.table())
    if summary.ok:
        print(f"skrevet til {p.site / 'kommuner'}/<kommune>/{BASENAME}.*")
    return summary.exit_code
