"""The batch runner on two tiny fixture notebooks, a fake registry and a throw-away project.

The fixture notebooks (tests/fixtures/notebooks):
* ``alpha`` reads ``out_boso__demo`` and ``core_register__<kommunenummer>`` (when present)
  through ``boso.processed.read_table``, declaring nothing, and raises when the demo table
  contains ``fail:<kommunenummer>``; it also defines ``secret_from_alpha`` and prints its
  kernel's pid.
* ``beta`` reads no table and prints whether ``secret_from_alpha`` is visible, plus its
  kernel's pid.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from boso import reports
from boso.errors import DataError, QueryError

REGISTRY = pd.DataFrame(
    {
        "kommunenummer": ["0301", "3218", "3203"],
        "kommunenavn": ["Oslo", "Ås", "Asker"],
        "fylkesnummer": ["03", "32", "32"],
        "fylkesnavn": ["Oslo", "Akershus", "Akershus"],
        "kostragruppe": ["EKG17", "EKG13", "EKG13"],
    }
)
KOMMUNER = ["0301", "3218"]


@pytest.fixture
def setup(project: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    # lib/boso is edited by others while tests run; pin the package digest (tested on its own).
    monkeypatch.setattr(reports.runner, "package_digest", lambda: "code-v1")
    notebooks = project / "notebooks"
    shutil.copytree(fixtures_dir / "notebooks", notebooks)
    demo = project / "data" / "processed" / "out_boso__demo.parquet"
    write_table(demo, "demo v1")
    return {
        "root": project,
        "notebooks": notebooks,
        "reports": project / "reports",
        "processed": project / "data" / "processed",
        "demo": demo,
    }


def run(setup: dict[str, Path], **kwargs) -> reports.RunSummary:
    options = {"jobs": 2, "progress": False, "registry": REGISTRY}
    options.update(kwargs)
    return reports.run_reports(
        options.pop("kommuner", KOMMUNER),
        notebooks_dir=setup["notebooks"],
        reports_dir=setup["reports"],
        processed_dir=setup["processed"],
        **options,
    )


run_in = run


def write_table(path: Path, *lines: str) -> None:
    """A processed table with one text column (the fixture notebooks look for ``fail:…``)."""
    pd.DataFrame({"tekst": list(lines)}).to_parquet(path)


def statuses(summary: reports.RunSummary) -> dict[tuple[str, str], str]:
    return {(r.kommunenummer, r.analysis): r.status for r in summary.results}


def figure_html(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(
        o.get("data", {}).get("text/html", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


def stdout_of(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


# --------------------------------------------------------------------------------------------
# Pure helpers


def test_slug_and_dirname() -> None:
    assert reports.slugify("Ås") == "as"
    assert reports.slugify("Bø (Nordland)") == "bo-nordland"
    assert reports.slugify("Nord-Fron") == "nord-fron"
    assert reports.slugify("Bærum") == "baerum"
    assert reports.report_dirname("3203", "Asker") == "3203-asker"


def test_select_kommuner_by_code_fylke_all() -> None:
    assert reports.select_kommuner(REGISTRY, kommune=["3218", "301"]) == [
        ("0301", "Oslo"),
        ("3218", "Ås"),
    ]
    assert reports.select_kommuner(REGISTRY, fylke=["32"]) == [("3203", "Asker"), ("3218", "Ås")]
    assert len(reports.select_kommuner(REGISTRY, all_kommuner=True)) == 3


def test_select_unknown_kommune_lists_close_matches() -> None:
    with pytest.raises(QueryError, match=r"ukjent kommunenummer '3208'.*3203"):
        reports.select_kommuner(REGISTRY, kommune=["3208"])
    with pytest.raises(QueryError, match="ukjent fylkesnummer '99'"):
        reports.select_kommuner(REGISTRY, fylke=["99"])


def test_notebook_fingerprint_ignores_outputs_but_not_code() -> None:
    nb = {
        "cells": [{"cell_type": "code", "source": "x = 1", "outputs": [], "metadata": {}}],
        "metadata": {"boso": {"reads": []}},
    }
    ran = json.loads(json.dumps(nb))
    ran["cells"][0]["outputs"] = [{"output_type": "stream", "text": "1"}]
    ran["cells"][0]["execution_count"] = 7
    ran["metadata"]["papermill"] = {"duration": 1.0}
    edited = json.loads(json.dumps(nb))
    edited["cells"][0]["source"] = "x = 2"
    assert reports.notebook_fingerprint(nb) == reports.notebook_fingerprint(ran)
    assert reports.notebook_fingerprint(nb) != reports.notebook_fingerprint(edited)


def test_notebook_imports_for_preloading() -> None:
    nb = {
        "cells": [
            {"cell_type": "code", "source": "%matplotlib inline\nimport pandas as pd, numpy"},
            {"cell_type": "code", "source": ["from boso import figures\n", "from . import x"]},
            {"cell_type": "markdown", "source": "import nothing"},
            {"cell_type": "code", "source": "def broken(:"},
        ]
    }
    assert reports.notebook_imports(nb) == ["pandas", "numpy", "boso", "boso.figures"]


def test_kernel_env_points_boso_home_at_the_processed_root(tmp_path: Path) -> None:
    processed = tmp_path / "data" / "processed"
    assert reports._kernel_env(processed) == {"BOSO_HOME": str(tmp_path.resolve())}
    assert reports._kernel_env(tmp_path / "elsewhere") == {}
    assert reports._kernel_env(None) == {}


def test_effective_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports.os, "cpu_count", lambda: 4)
    assert reports.effective_jobs(None, 5) == 1  # one kommune: one warm kernel is quicker
    assert reports.effective_jobs(None, 20) == 2
    assert reports.effective_jobs(None, 1785) == 4
    assert reports.effective_jobs(3, 2) == 2
    assert reports.effective_jobs(3, 100) == 3


def test_file_hasher_is_content_based_and_cached(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    target.write_bytes(b"abc")
    cache = tmp_path / "cache.json"
    first = reports.FileHasher(cache)
    digest = first.hash(target)
    assert first.hash(tmp_path / "missing.parquet") == "absent"
    first.save()
    stored = json.loads(cache.read_text())["files"]
    assert stored[str(target.resolve())]["sha256"] == digest
    # A cache entry that matches (size, mtime) is trusted without reading the file ...
    stored[str(target.resolve())]["sha256"] = "from-cache"
    cache.write_text(json.dumps({"files": stored}))
    assert reports.FileHasher(cache).hash(target) == "from-cache"
    # ... and a new mtime means re-reading: same content, same hash as before.
    os.utime(target, ns=(1, 1))
    assert reports.FileHasher(cache).hash(target) == digest


def test_package_digest_follows_report_code_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "boso"
    (package / "sources").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "figures.py").write_text("A = 1")
    (package / "sources" / "ssb.py").write_text("B = 1")
    monkeypatch.setattr(reports.boso, "__file__", str(package / "__init__.py"))
    first = reports.package_digest()
    (package / "sources" / "ssb.py").write_text("B = 2")
    assert reports.package_digest() == first
    (package / "figures.py").write_text("A = 2")
    assert reports.package_digest() != first


def test_unknown_analysis_is_a_query_error(setup: dict[str, Path]) -> None:
    with pytest.raises(QueryError, match="ukjent analyse 'alfa'.*alpha"):
        run(setup, analyses=["alfa"])


def test_missing_registry_is_a_data_error(setup: dict[str, Path]) -> None:
    with pytest.raises(DataError, match="core_klass__kommuner.parquet mangler"):
        reports.load_registry(setup["processed"] / "nowhere")


# --------------------------------------------------------------------------------------------
# Running notebooks


def test_reports_layout_parameters_and_papermill_metadata(setup: dict[str, Path]) -> None:
    summary = run(setup)
    assert summary.exit_code == 0
    assert set(statuses(summary).values()) == {"ok"}
    for code, folder in (("0301", "0301-oslo"), ("3218", "3218-as")):
        for analysis in ("alpha", "beta"):
            path = setup["reports"] / folder / f"{analysis}.ipynb"
            nb = nbformat.read(path, as_version=4)
            assert nb.metadata.papermill["parameters"] == {"kommunenummer": code}
            assert nb.metadata.papermill["output_path"] == str(path)
            injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
            assert len(injected) == 1 and f'kommunenummer = "{code}"' in injected[0].source
            stored = json.loads((path.parent / f".{analysis}.key").read_text("utf-8"))
            assert len(stored["key"]) == 64 and stored["code"] == "code-v1"
            if analysis == "alpha":
                assert set(stored["inputs"]) == {"out_boso__demo", f"core_register__{code}"}
                assert stored["inputs"][f"core_register__{code}"] == "absent"
        assert f"alpha {code} " in stdout_of(setup["reports"] / folder / "alpha.ipynb")
    manifest = json.loads((setup["reports"] / "manifest.json").read_text("utf-8"))
    titles = {e["path"]: e["title"] for e in manifest["reports"]}
    assert titles["3218-as/alpha.ipynb"] == "Alfa (test)"
    assert len(titles) == 4


def test_incremental_skip_and_rerun(
    setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process (jobs=1) keeps this long sequence quick; other tests cover the process pool.
    def run(setup: dict[str, Path], **kwargs) -> reports.RunSummary:
        return run_in(setup, **{"jobs": 1, **kwargs})

    assert set(statuses(run(setup)).values()) == {"ok"}

    second = run(setup)
    assert set(statuses(second).values()) == {"skipped"}

    # A new mtime with the same content is not a change (content hashes, not timestamps).
    os.utime(setup["demo"], ns=(10**18, 10**18))
    assert set(statuses(run(setup)).values()) == {"skipped"}

    # New content reruns every report that reads the file (alpha declares it, beta reads all).
    write_table(setup["demo"], "demo v2")
    changed = statuses(run(setup))
    assert {changed[(k, "alpha")] for k in KOMMUNER} == {"ok"}
    assert {changed[(k, "beta")] for k in KOMMUNER} == {"skipped"}

    # A per-kommune input only reruns that kommune's alpha; beta reads no table.
    write_table(setup["processed"] / "core_register__3218.parquet", "register")
    changed = statuses(run(setup))
    assert changed[("3218", "alpha")] == "ok"
    assert changed[("0301", "alpha")] == "skipped"
    assert changed[("0301", "beta")] == "skipped"

    # Editing a notebook reruns its reports only.
    beta = setup["notebooks"] / "beta.ipynb"
    nb = nbformat.read(beta, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('ny celle')"))
    nbformat.write(nb, beta)
    edited = statuses(run(setup))
    assert edited[("0301", "beta")] == "ok" and edited[("0301", "alpha")] == "skipped"
    assert "ny celle" in stdout_of(setup["reports"] / "0301-oslo" / "beta.ipynb")

    # A change in boso's own code reruns everything.
    monkeypatch.setattr(reports.runner, "package_digest", lambda: "code-v2")
    assert set(statuses(run(setup)).values()) == {"ok"}

    forced = run(setup, force=True)
    assert set(statuses(forced).values()) == {"ok"}

    # A deleted report is rebuilt even though its key file is still there.
    (setup["reports"] / "0301-oslo" / "alpha.ipynb").unlink()
    rebuilt = statuses(run(setup))
    assert rebuilt[("0301", "alpha")] == "ok" and rebuilt[("3218", "alpha")] == "skipped"


def test_cache_keys_on_the_tables_the_notebook_read(setup: dict[str, Path]) -> None:
    # alpha declares nothing: what it read while running is what its key depends on.
    def run(setup: dict[str, Path], **kwargs) -> dict[tuple[str, str], str]:
        return statuses(run_in(setup, **{"jobs": 1, "kommuner": ["0301"], **kwargs}))

    assert run(setup, analyses=["alpha"]) == {("0301", "alpha"): "ok"}
    key_file = setup["reports"] / "0301-oslo" / ".alpha.key"
    stored = json.loads(key_file.read_text("utf-8"))
    assert stored["recorded"] is True
    assert stored["inputs"] == {
        "out_boso__demo": reports.FileHasher().hash(setup["demo"]),
        "core_register__0301": "absent",
    }

    # A table the notebook never opened changes: the report stays.
    write_table(setup["processed"] / "out_boso__annet.parquet", "annet")
    write_table(setup["processed"] / "core_register__3218.parquet", "annen kommune")
    assert run(setup, analyses=["alpha"]) == {("0301", "alpha"): "skipped"}

    # A table it looked for and did not find appears: the report re-runs.
    write_table(setup["processed"] / "core_register__0301.parquet", "register")
    assert run(setup, analyses=["alpha"]) == {("0301", "alpha"): "ok"}
    stored = json.loads(key_file.read_text("utf-8"))
    assert stored["inputs"]["core_register__0301"] != "absent"

    # A key stored without recorded reads (as from declared reads) is not trusted.
    del stored["recorded"]
    key_file.write_text(json.dumps(stored), "utf-8")
    assert run(setup, analyses=["alpha"]) == {("0301", "alpha"): "ok"}
    assert run(setup, analyses=["alpha"]) == {("0301", "alpha"): "skipped"}


def test_read_table_records_reads_only_while_recording(project: Path) -> None:
    from boso import processed

    table = project / "data" / "processed" / "out_boso__demo.parquet"
    write_table(table, "demo")
    log: list[str] = []
    processed.record_reads(log)
    try:
        processed.read_table("out_boso__demo")
        with pytest.raises(DataError):
            processed.read_table("out_boso__mangler")
    finally:
        processed.record_reads(None)
    processed.read_table("out_boso__demo")
    assert log == [
        str(table.resolve()),
        str(table.with_name("out_boso__mangler.parquet").resolve()),
    ]


def test_failing_kommune_does_not_stop_others_and_keeps_good_report(
    setup: dict[str, Path],
) -> None:
    good = run(setup, analyses=["alpha"])
    assert good.exit_code == 0
    report = setup["reports"] / "0301-oslo" / "alpha.ipynb"
    before = report.read_bytes()

    write_table(setup["demo"], "demo v2", "fail:0301")
    failed = run(setup, analyses=["alpha"])
    assert failed.exit_code == 1
    assert statuses(failed) == {("0301", "alpha"): "failed", ("3218", "alpha"): "ok"}
    # The previous good report survives, with its error beside it.
    assert report.read_bytes() == before
    error_txt = report.with_name("alpha.error.txt")
    assert "ValueError: demo-feil for 0301" in error_txt.read_text("utf-8")
    partial = nbformat.read(report.with_name("alpha.error.ipynb"), as_version=4)
    assert partial.metadata.papermill["exception"] is True
    result = failed.failed[0]
    assert "ValueError: demo-feil for 0301" in result.error
    assert result.error_file == error_txt
    table = failed.table()
    assert "feilet" in table and "0301 Oslo / alpha" in table and "demo-feil" in table

    # The failure is retried next time (no key was written) and a success cleans up.
    write_table(setup["demo"], "demo v3")
    fixed = run(setup, analyses=["alpha"])
    assert statuses(fixed)[("0301", "alpha")] == "ok"
    assert not error_txt.exists() and not report.with_name("alpha.error.ipynb").exists()
    assert report.read_bytes() != before


def test_warm_kernel_isolates_notebooks_and_recovers_after_failure(
    setup: dict[str, Path],
) -> None:
    # jobs=1: every notebook runs in this process's one warm kernel, alpha before beta.
    summary = run(setup, jobs=1)
    assert summary.exit_code == 0
    outputs = [
        stdout_of(setup["reports"] / folder / f"{analysis}.ipynb")
        for folder in ("0301-oslo", "3218-as")
        for analysis in ("alpha", "beta")
    ]
    pids = {line.split("pid=")[1].split()[0] for line in outputs}
    assert len(pids) == 1, "the notebooks should share one kernel"
    assert all("leaked=False" in out for out in outputs if out.startswith("beta"))
    beta = nbformat.read(setup["reports"] / "3218-as" / "beta.ipynb", as_version=4)
    assert [c.execution_count for c in beta.cells if c.cell_type == "code"] == [1, 2, 3, 4]
    # A report's HTML does not depend on what the kernel ran before: figure ids restart.
    for folder in ("0301-oslo", "3218-as"):
        for analysis in ("alpha", "beta"):
            html = figure_html(setup["reports"] / folder / f"{analysis}.ipynb")
            assert re.search(r'id="fig-[0-9a-f]{10}-1"', html), (folder, analysis)

    # After a failure the kernel is replaced, and the next notebook still runs cleanly.
    write_table(setup["demo"], "fail:0301")
    after = run(setup, jobs=1, force=True)
    assert statuses(after)[("0301", "alpha")] == "failed"
    assert statuses(after)[("0301", "beta")] == "ok"
    beta_out = stdout_of(setup["reports"] / "0301-oslo" / "beta.ipynb")
    assert "leaked=False" in beta_out
    assert beta_out.split("pid=")[1].split()[0] not in pids


def test_run_cli_selects_fylke_and_returns_exit_code(
    setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(reports.runner, "load_registry", lambda processed_dir=None: REGISTRY)
    calls: list[dict] = []

    def fake_run(kommuner, **kwargs):
        calls.append({"kommuner": kommuner, **kwargs})
        return reports.RunSummary(
            [reports.ReportResult("3203", "Asker", "alpha", Path("x"), "failed", error="boom")]
        )

    monkeypatch.setattr(reports.runner, "run_reports", fake_run)
    args = argparse.Namespace(
        kommune=None, fylke=["32"], all=False, analysis=["alpha"], jobs=3, force=True
    )
    assert reports.run_cli(args) == 1
    assert calls[0]["kommuner"] == ["3203", "3218"]
    assert calls[0]["analyses"] == ["alpha"] and calls[0]["jobs"] == 3 and calls[0]["force"]
    assert "3203 Asker / alpha: boom" in capsys.readouterr().out
