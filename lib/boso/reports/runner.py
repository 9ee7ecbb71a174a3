"""The report runner: choose kommuner and analyses, plan the tasks, run them, summarise.

``boso reports --kommune 3203 3903`` (or ``--fylke 32`` / ``--all``) writes
``reports/<kommunenummer>-<slug>/<analysis>.ipynb`` for every notebook in ``notebooks/``.
A report whose stored key still matches (:mod:`boso.reports.cache`) is skipped; the others run in
``--jobs`` worker processes (spawn context), each with one warm kernel
(:mod:`boso.reports.worker`, :mod:`boso.reports.kernel`). After each successful report the
runner keys it on the tables its notebook read and updates ``reports/manifest.json``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from boso.config import paths
from boso.errors import DataError, QueryError
from boso.reports.cache import (
    CACHE_FILE,
    FileHasher,
    _update_manifest,
    input_name,
    input_path,
    notebook_fingerprint,
    package_digest,
    report_key,
    stored_record,
    write_stored_record,
)
from boso.reports.kernel import notebook_imports, remove_stale_kernel_dirs
from boso.reports.results import ANALYSES, FAILED, OK, SKIPPED, ReportResult, RunSummary
from boso.reports.worker import _execute_task, _Task, _worker_close, _worker_init


def slugify(name: str) -> str:
    """Directory slug of a kommune name: lower-case, æ→ae ø→o å→a, other characters → ``-``.

    Delegates to :func:`boso.kommune.slug` so that the runner, the site and the notebooks agree
    on one spelling of every folder name.

    Args:
        name: Kommune name, e.g. ``"Bø (Nordland)"``.

    Returns:
        The slug, e.g. ``"bo-nordland"``.
    """
    from boso.kommune import slug

    return slug(name)


def report_dirname(kommunenummer: str, kommunenavn: str) -> str:
    """``<kommunenummer>-<slug>``, the folder of one kommune's reports."""
    from boso.kommune import folder_name

    return folder_name(kommunenummer, kommunenavn)


def _close_matches(value: str, candidates: Iterable[str], n: int = 5) -> str:
    candidates = sorted(set(candidates))
    near = difflib.get_close_matches(value, candidates, n=n, cutoff=0.5)
    if not near and len(value) >= 2:
        near = [c for c in candidates if c[:2] == value[:2]][:n]
    return f" (mente du {', '.join(near)}?)" if near else ""


def _parsed(parse: Callable[[Any], str], raw: Any) -> str:
    """The code as :mod:`boso.kommune` parses it; a malformed one as typed, to be named unknown."""
    try:
        return parse(raw)
    except DataError:
        return str(raw).strip()


def select_kommuner(
    registry: Any,
    kommune: Sequence[str] | None = None,
    fylke: Sequence[str] | None = None,
    all_kommuner: bool = False,
) -> list[tuple[str, str]]:
    """Choose kommuner from the registry.

    Args:
        registry: DataFrame with at least ``kommunenummer``, ``kommunenavn``, ``fylkesnummer``.
        kommune: Kommune codes (validated against the registry).
        fylke: Fylke codes; every kommune whose ``fylkesnummer`` matches is chosen.
        all_kommuner: Choose every kommune in the registry.

    Returns:
        ``(kommunenummer, kommunenavn)`` pairs, sorted by code, without duplicates.

    Raises:
        QueryError: An unknown kommune or fylke code (close matches in the message), or no
            selection at all.
    """
    from boso.kommune import parse_fylkesnummer, parse_kommunenummer

    for column in ("kommunenummer", "kommunenavn", "fylkesnummer"):
        if column not in registry.columns:
            raise DataError(f"kommuneregisteret mangler kolonnen {column!r}")
    codes = registry["kommunenummer"].astype(str).tolist()
    names = dict(zip(codes, registry["kommunenavn"].astype(str), strict=True))
    fylker = dict(zip(codes, registry["fylkesnummer"].astype(str), strict=True))
    chosen: list[str] = []
    if all_kommuner:
        chosen = codes
    elif kommune:
        for raw in kommune:
            code = _parsed(parse_kommunenummer, raw)
            if code not in names:
                raise QueryError(f"ukjent kommunenummer {raw!r}{_close_matches(code, codes)}")
            chosen.append(code)
    elif fylke:
        known = set(fylker.values())
        for raw in fylke:
            code = _parsed(parse_fylkesnummer, raw)
            if code not in known:
                raise QueryError(f"ukjent fylkesnummer {raw!r}{_close_matches(code, known)}")
            chosen.extend(k for k, f in fylker.items() if f == code)
    else:
        raise QueryError("velg kommuner med --kommune, --fylke eller --all")
    return [(code, names[code]) for code in sorted(set(chosen))]


def discover_analyses(notebooks_dir: Path) -> dict[str, Path]:
    """Analysis name → notebook path for every ``*.ipynb`` in ``notebooks_dir``.

    Raises:
        DataError: The folder has no notebooks.
    """
    found = {p.stem: p for p in sorted(notebooks_dir.glob("*.ipynb")) if not p.stem.startswith(".")}
    if not found:
        raise DataError(f"{notebooks_dir}: ingen notatbøker (*.ipynb) å kjøre")
    order = [a for a in ANALYSES if a in found] + sorted(set(found) - set(ANALYSES))
    return {name: found[name] for name in order}


def load_registry(processed_dir: Path | None = None) -> Any:
    """The kommune registry: :func:`boso.processed.load_registry` (the project's by default).

    Raises:
        DataError: The registry has not been built yet.
    """
    from boso.processed import load_registry as load

    return load(processed_dir)


def _read_notebook(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: ikke en gyldig notatbok ({exc})") from exc


def _kernel_env(processed_dir: Path | None) -> dict[str, str]:
    """Environment for the kernels: BOSO_HOME pointing at the root that owns ``processed_dir``."""
    if processed_dir is None:
        return {}
    processed_dir = Path(processed_dir).resolve()
    if processed_dir.name == "processed" and processed_dir.parent.name == "data":
        return {"BOSO_HOME": str(processed_dir.parent.parent)}
    return {}


def run_reports(
    kommuner: list[str],
    analyses: list[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    notebooks_dir: str | Path | None = None,
    reports_dir: str | Path | None = None,
    processed_dir: str | Path | None = None,
    progress: bool = True,
    registry: Any = None,
) -> RunSummary:
    """Execute the analysis notebooks for ``kommuner`` (incremental, parallel, isolated).

    Workers are started with the ``spawn`` method, which re-imports the caller's main module:
    from a script, call this under ``if __name__ == "__main__":``.

    Args:
        kommuner: Kommune codes (validated against the registry).
        analyses: Notebook stems to run (default: every notebook in ``notebooks_dir``).
        jobs: Worker processes (default: the number of cores, but fewer for small runs, see
            :func:`effective_jobs`; 1 runs in this process).
        force: Run even reports whose inputs did not change.
        notebooks_dir: Source notebooks (default ``notebooks/``).
        reports_dir: Output root (default ``reports/``).
        processed_dir: Processed tables the notebooks read (default ``data/processed``); its
            files' content hashes decide what is up to date.
        progress: Show a tqdm progress bar on stderr.
        registry: Kommune registry DataFrame (default :func:`load_registry`), injectable for
            tests and callers that already have it.

    Returns:
        A :class:`RunSummary`; ``summary.exit_code`` is non-zero when any report failed.

    Raises:
        QueryError: Unknown kommune or analysis.
        DataError: Missing notebooks or registry, or a malformed notebook.
    """
    started = time.perf_counter()
    project = paths()
    notebooks_dir = Path(notebooks_dir or project.notebooks).resolve()
    reports_dir = Path(reports_dir or project.reports).resolve()
    processed_root = Path(processed_dir or project.processed).resolve()
    remove_stale_kernel_dirs()  # what killed runs left in $TMPDIR
    if registry is None:
        registry = load_registry(processed_root)
    selected = select_kommuner(registry, kommune=kommuner)

    available = discover_analyses(notebooks_dir)
    if analyses:
        for name in analyses:
            if name not in available:
                raise QueryError(f"ukjent analyse {name!r}{_close_matches(name, available)}")
        chosen = {name: available[name] for name in dict.fromkeys(analyses)}
    else:
        chosen = available

    hasher = FileHasher(reports_dir / CACHE_FILE)
    code = package_digest()
    # Hash every processed table now: a report is keyed on its inputs as they were when the run
    # began, so a table rewritten while the report runs makes the next run redo it.
    for table in sorted(processed_root.glob("*")):
        if table.is_file():
            hasher.hash(table)
    notebooks = {name: _read_notebook(path) for name, path in chosen.items()}
    fingerprints = {name: notebook_fingerprint(nb) for name, nb in notebooks.items()}

    summary = RunSummary()
    tasks: list[_Task] = []
    for kommunenummer, kommunenavn in selected:
        folder = reports_dir / report_dirname(kommunenummer, kommunenavn)
        for name, path in chosen.items():
            parameters = {"kommunenummer": kommunenummer}
            output = folder / f"{name}.ipynb"
            if not force and output.is_file():
                stored = stored_record(folder, name) or {}
                inputs = _stored_inputs(stored, processed_root, hasher)
                if (
                    inputs is not None
                    and report_key(fingerprints[name], parameters, inputs, code) == stored["key"]
                ):
                    summary.results.append(
                        ReportResult(kommunenummer, kommunenavn, name, output, SKIPPED)
                    )
                    continue
            tasks.append(
                _Task(
                    kommunenummer,
                    kommunenavn,
                    name,
                    str(path),
                    str(output),
                    fingerprints[name],
                    parameters,
                )
            )
    hasher.save()

    if tasks:
        preload = ["boso"]
        for nb in notebooks.values():
            preload.extend(notebook_imports(nb))
        preload = list(dict.fromkeys(preload))
        kernel_names = {
            ((nb.get("metadata") or {}).get("kernelspec") or {}).get("name") or "python3"
            for nb in notebooks.values()
        }

        def store_key(task: _Task, reads: list[str]) -> None:
            inputs = {input_name(p, processed_root): hasher.hash(Path(p)) for p in reads}
            key = report_key(task.fingerprint, task.parameters, inputs, code)
            record = {
                "key": key,
                "notebook": task.fingerprint,
                "inputs": inputs,
                "code": code,
                "recorded": True,
            }
            write_stored_record(Path(task.output).parent, task.analysis, record)

        summary.results.extend(
            _execute(
                tasks,
                jobs,
                (str(notebooks_dir), preload, _kernel_env(processed_dir), min(kernel_names)),
                progress,
                store_key,
            )
        )
    hasher.save()
    summary.seconds = time.perf_counter() - started
    _update_manifest(reports_dir, summary, notebooks)
    return summary


def _stored_inputs(
    stored: dict[str, Any] | None, processed_root: Path, hasher: FileHasher
) -> dict[str, str] | None:
    """Today's hashes of the tables a report read when it last ran (None: reads unknown)."""
    if not stored or stored.get("recorded") is not True or not isinstance(stored.get("key"), str):
        return None  # no record, or one from before reads were recorded: run the report
    inputs = stored.get("inputs")
    if not isinstance(inputs, dict) or not all(isinstance(k, str) for k in inputs):
        return None
    return {name: hasher.hash(input_path(name, processed_root)) for name in inputs}


#: reports a single in-process worker is faster than two.
TASKS_PER_WORKER = 8


def effective_jobs(requested: int | None, tasks: int) -> int:
    """Worker count: ``requested`` (capped at ``tasks``), else cores, but few for small runs."""
    if requested:
        return max(1, min(requested, tasks))
    return max(1, min(os.cpu_count() or 1, tasks // TASKS_PER_WORKER))


def _execute(
    tasks: list[_Task],
    jobs: int | None,
    init: tuple[str, list[str], dict[str, str], str],
    progress: bool,
    on_success: Callable[[_Task, list[str]], None] | None = None,
) -> list[ReportResult]:
    """Run ``tasks`` in ``jobs`` worker processes (in this process when jobs == 1).

    ``init`` holds the arguments of :func:`_worker_init`; ``on_success`` gets each good report's
    task and the paths of the tables its notebook read.
    """
    from tqdm import tqdm

    jobs = effective_jobs(jobs, len(tasks))
    results: list[ReportResult] = []
    bar = tqdm(total=len(tasks), unit="rapport", desc="rapporter", disable=not progress)

    def record(task: _Task, outcome: dict[str, Any]) -> None:
        if outcome["status"] == OK and on_success is not None:
            try:
                on_success(task, outcome.get("reads", []))
            except Exception as exc:  # an unkeyed report is only re-run next time
                outcome = {**outcome, "error": f"nøkkelen ble ikke lagret: {exc}"}
        results.append(
            ReportResult(
                task.kommunenummer,
                task.kommunenavn,
                task.analysis,
                Path(task.output),
                outcome["status"],
                outcome.get("seconds", 0.0),
                outcome.get("error", ""),
                Path(outcome["error_file"]) if outcome.get("error_file") else None,
            )
        )
        bar.update(1)

    try:
        if jobs == 1:
            saved_env = dict(os.environ)
            try:
                _worker_init(*init)
                for task in tasks:
                    record(task, _execute_task(task))
            finally:
                _worker_close()
                os.environ.clear()
                os.environ.update(saved_env)
        else:
            _execute_pool(tasks, jobs, init, record)
    finally:
        bar.close()
    return results


def _execute_pool(
    tasks: list[_Task],
    jobs: int,
    init: tuple[str, list[str], dict[str, str], str],
    record: Callable[[_Task, dict[str, Any]], None],
) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # spawn: a forked copy of a parent holding pandas/zmq state is not safe for kernels.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_worker_init, initargs=init
    ) as pool:
        futures = {pool.submit(_execute_task, task): task for task in tasks}
        try:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    outcome = {"status": FAILED, "error": f"arbeidsprosessen døde: {exc}"}
                except Exception as exc:
                    outcome = {"status": FAILED, "error": f"{type(exc).__name__}: {exc}"}
                record(task, outcome)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def run_cli(args: argparse.Namespace) -> int:
    """``boso reports``: choose kommuner, run, print the summary; 1 when any report failed."""
    registry = load_registry()
    selected = select_kommuner(
        registry, kommune=args.kommune, fylke=args.fylke, all_kommuner=bool(args.all)
    )
    summary = run_reports(
        [code for code, _ in selected],
        analyses=args.analysis,
        jobs=args.jobs,
        force=args.force,
        progress=True,
        registry=registry,
    )
    print(summary.table())
    return summary.exit_code
