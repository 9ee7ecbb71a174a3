"""Family "interruptions": ``kill -9`` of a real ``boso build``/``site``/``reports`` at several
points leaves the old state or the new one, never a mix, and the next run removes the leftovers."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from robustness.harness import run_boso, tree_digest

FAMILY = "interruptions"
REPO = Path(__file__).resolve().parents[2]
BUILD = ["build", "--indicator", "befolkning", "--indicator", "startlan"]


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOSO_TEST_")}
    env["BOSO_HOME"] = str(root)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "lib"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _boso(root: Path, argv: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "boso.cli", *argv],
        env=_env(root, **extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "data").iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def states(snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """An 'old' project (processed tables that differ from what a build writes, registers) and
    the digest of data/processed after an uninterrupted build of it (the 'new' state)."""
    base = tmp_path_factory.mktemp("interrupt") / "old"
    for sub in ("data/raw", "data/processed", "reports"):
        (base / sub).mkdir(parents=True)
    assert _boso(base, ["snapshot", "import", str(snapshot_dir)]).returncode == 0
    assert _boso(base, BUILD).returncode == 0
    processed = base / "data" / "processed"
    # The old state must differ from the new one, or a mix could not be seen.
    for name in ("out_boso__befolkning", "out_boso__startlan"):
        frame = pd.read_parquet(processed / f"{name}.parquet")
        frame["verdi"] = frame["verdi"] + 1
        frame.to_parquet(processed / f"{name}.parquet", index=False)
    (processed / "core_klass__kommuner.parquet").unlink()  # the new state adds a table
    assert any(p.name.startswith("core_register__") for p in processed.iterdir())
    old = tree_digest(processed)
    fresh = base.parent / "fresh"
    shutil.copytree(base, fresh)
    assert _boso(fresh, BUILD).returncode == 0
    new = tree_digest(fresh / "data" / "processed")
    assert new != old and {k for k in old if k.startswith("core_register__")} <= set(new)
    return {"base": base, "old": old, "new": new}


def _check_after_kill(case, root, states, reliability, killed_with) -> None:
    processed = root / "data" / "processed"
    if not processed.exists():
        # Only the fallback swap (no RENAME_EXCHANGE) has this moment; every reader of the
        # processed store puts the old directory back first.
        from boso.processed import clean_leftovers

        clean_leftovers(processed)
    state = tree_digest(processed)
    if state not in (states["old"], states["new"]):
        reliability.record(FAMILY, case, "data_lost", f"mixed state after {killed_with}")
        raise AssertionError(f"{case}: data/processed is neither the old nor the new state")
    result = run_boso(BUILD, root=root)  # the next run
    clean = result.code == 0 and _leftovers(root) == []
    if not clean or tree_digest(processed) != states["new"]:
        reliability.record(FAMILY, case, "data_lost", result.stderr or str(_leftovers(root)))
        raise AssertionError(f"{case}: next build did not end clean: {_leftovers(root)}")
    reliability.record(FAMILY, case, "correct")


@pytest.mark.parametrize(
    ("point", "exchange"),
    [
        ("build:written-1", True),
        ("build:before-swap", True),
        ("build:after-swap", True),
        ("build:between-renames", False),
    ],
)
def test_kill_build_at_a_write_point(point, exchange, states, tmp_path, reliability):
    root = tmp_path / "p"
    shutil.copytree(states["base"], root)
    extra = {"BOSO_TEST_KILL_AT": point}
    if not exchange:
        extra["BOSO_TEST_NO_EXCHANGE"] = "1"
    proc = _boso(root, BUILD, **extra)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _leftovers(root), "the kill point was not reached inside the write phase"
    _check_after_kill(f"kill -9 of build at {point}", root, states, reliability, point)


def test_kill_build_from_outside_while_it_writes(states, tmp_path, reliability):
    root = tmp_path / "p"
    shutil.copytree(states["base"], root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "boso.cli", *BUILD],
        env=_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        stages = list((root / "data").glob(".processed.new-*"))
        if stages and any(stages[0].glob("*.parquet")):
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _check_after_kill("kill -9 of build from outside", root, states, reliability, "SIGKILL")


def test_a_failing_build_changes_nothing_and_leaves_nothing(states, tmp_path, reliability):
    root = tmp_path / "p"
    shutil.copytree(states["base"], root)
    result = run_boso(["build", "--indicator", "finnes_ikke"], root=root)
    reliability.cli_error(FAMILY, "build of an unknown indicator", result, "finnes_ikke")
    reliability.unchanged(
        FAMILY, "build of an unknown indicator", states["old"], root / "data" / "processed"
    )
    assert _leftovers(root) == []


# -------------------------------------------------------------------------- site and reports


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait for a reaper that never comes)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _wait_gone(pids: set[int], seconds: float = 20) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = {p for p in pids if _running(p)}
        if not alive:
            return alive
        time.sleep(0.2)
    return {p for p in pids if _running(p)}


def _wait_for(predicate, seconds: float = 240) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_site_workers_exit_when_the_parent_is_killed(tmp_path, reliability):
    script = (
        "import os, sys, time\n"
        "from boso.site import html\n"
        "pool = html._worker_pool(2)\n"
        "pids = {pool.submit(os.getpid).result() for _ in range(8)}\n"
        "print(' '.join(map(str, pids)), flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env=_env(tmp_path), stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    workers = {int(p) for p in proc.stdout.readline().split()}
    assert workers and all(_running(p) for p in workers)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = _wait_gone(workers)
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    reliability.record(
        FAMILY, "kill -9 of the site's parent: workers exit", "leak" if left else "correct"
    )
    assert not left, f"site workers outlived their parent: {left}"


@pytest.fixture
def site_project(pipeline_project: Path, tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(pipeline_project, root, symlinks=True)
    return root


def test_kill_site_leaves_the_old_site_and_the_next_run_removes_leftovers(
    site_project, reliability
):
    case = "kill -9 of site while it renders"
    site = site_project / "_site"
    before = tree_digest(site)
    assert before
    proc = subprocess.Popen(
        [sys.executable, "-m", "boso.cli", "site", "--renderer", "nbconvert"],
        env=_env(site_project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = _wait_for(
        lambda: any(any(p.rglob("*.html")) for p in site_project.glob("._site.build-*"))
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert started, "the site build never got to writing pages"
    leftovers = list(site_project.glob("._site.*"))
    if tree_digest(site) != before:
        reliability.record(FAMILY, case, "data_lost", "the published _site changed")
        raise AssertionError(f"{case}: _site changed")
    assert leftovers, "the kill came too late to leave anything"
    result = run_boso(["site", "--renderer", "nbconvert"], root=site_project)
    assert result.code == 0, result.stderr + (result.exception or "")
    left = list(site_project.glob("._site.*"))
    outcome = "correct" if not left and (site / "index.html").is_file() else "data_lost"
    reliability.record(FAMILY, case, outcome, str(left))
    assert not left, left


def test_kill_reports_stops_workers_and_kernels_and_leaves_no_socket_dirs(
    site_project, tmp_path, reliability
):
    case = "kill -9 of reports with two workers"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = _env(site_project, TMPDIR=str(tmpdir))
    argv = ["reports", "--kommune", "3203", "3903", "--analysis", "befolkning", "--jobs", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "boso.cli", *argv, "--force"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = _wait_for(lambda: len(list(tmpdir.glob("boso-kernel-*"))) >= 2)
    family = _descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert started, "the workers never started their kernels"
    left = _wait_gone(family)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    if left:
        reliability.record(FAMILY, case, "leak", f"processes outlived the run: {left}")
        raise AssertionError(f"{case}: {left} still running")
    for notebook in (site_project / "reports").rglob("*.ipynb"):
        json.loads(notebook.read_text("utf-8"))  # nothing half-written
    nxt = subprocess.run(
        [sys.executable, "-m", "boso.cli", *argv], env=env, capture_output=True, text=True
    )
    assert nxt.returncode == 0, nxt.stderr
    dirs = list(tmpdir.glob("boso-kernel-*"))
    reliability.record(FAMILY, case, "data_lost" if dirs else "correct", str(dirs))
    assert not dirs, dirs


def test_only_leftovers_of_dead_runs_are_removed(tmp_path, reliability):
    from boso.lifetime import remove_stale

    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        names = {
            f"._site.build-{running.pid}-a": True,  # a build still running: kept
            f"._site.build-{dead.pid}-b": False,
            "._site.build-xyz": True,  # an older version's, recent: kept
            "._site.build-old": False,  # an older version's, untouched for two days
            "_site": True,
        }
        for name in names:
            (tmp_path / name).mkdir()
            (tmp_path / name / "index.html").write_text("x")
        two_days_ago = time.time() - 2 * 86400
        os.utime(tmp_path / "._site.build-old", (two_days_ago, two_days_ago))
        remove_stale(tmp_path, "._site.build-", unowned_after=86400)
        kept = {name: (tmp_path / name).exists() for name in names}
        outcome = "correct" if kept == names else "data_lost"
        reliability.record(FAMILY, "leftovers: live runs kept, dead ones removed", outcome)
        assert kept == names
    finally:
        running.kill()
        running.wait()


# ----------------------------------------------------------------------------- snapshot import
#
# ``boso snapshot import`` writes every file into a copy of data/raw beside it and swaps it in
# once, so a kill -9 (or a full disk) half-way leaves the old data/raw, usable as it was.


def _raw_state(raw: Path) -> dict[str, str]:
    """data/raw with what differs between two equal imports evened out: the time stamps of
    ``_history`` names and the ``fetched_at`` inside new provenance sidecars."""
    state = {}
    for rel, digest in tree_digest(raw).items():
        key = re.sub(r"\.\d{8}T\d{6}\d*Z$", "", rel) if "_history/" in rel else rel
        state[key] = "sidecar" if key.endswith(".provenance.json") else digest
    return state


@pytest.fixture(scope="module")
def raw_states(snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """An 'old' data/raw (an earlier import: one SSB table missing, one IMDi file different)
    and the state after an uninterrupted import of the shared snapshot over it (the 'new')."""
    base = tmp_path_factory.mktemp("raw-interrupt") / "old"
    for sub in ("data/raw", "data/processed", "reports"):
        (base / sub).mkdir(parents=True)
    assert _boso(base, ["snapshot", "import", str(snapshot_dir)]).returncode == 0
    raw = base / "data" / "raw"
    for name in ("12008.json", "12008.json.provenance.json"):
        (raw / "ssb" / name).unlink()
    imdi = raw / "imdi" / "imdi_bosetting_anmodning_vedtak_faktisk_1995-2023_long.csv"
    imdi.write_bytes(imdi.read_bytes() + b"\n")
    shutil.rmtree(base / "data" / "processed")
    (base / "data" / "processed").mkdir()
    fresh = base.parent / "fresh"
    shutil.copytree(base, fresh)
    assert _boso(fresh, ["snapshot", "import", str(snapshot_dir)]).returncode == 0
    new = _raw_state(fresh / "data" / "raw")
    assert new != _raw_state(raw) and "ssb/12008.json" in new
    return {"base": base, "old": tree_digest(raw), "new": new, "snapshot": snapshot_dir}


def _check_raw_after_kill(case: str, root: Path, raw_states, reliability, killed_with) -> None:  # noqa: ANN001
    from boso.raw import RawStore

    raw = root / "data" / "raw"
    RawStore(raw)  # every reader of the raw store puts the old directory back first
    if tree_digest(raw) != raw_states["old"] and _raw_state(raw) != raw_states["new"]:
        reliability.record(FAMILY, case, "data_lost", f"mixed data/raw after {killed_with}")
        raise AssertionError(f"{case}: data/raw is neither the old nor the new state")
    if tree_digest(raw) == raw_states["old"]:
        # The old state must still be usable: the build reads it.
        RawStore(raw).get("imdi", "imdi_bosetting_anmodning_vedtak_faktisk_1995-2023_long.csv")
    nxt = _boso(root, ["snapshot", "import", str(raw_states["snapshot"])])  # the next run
    clean = nxt.returncode == 0 and _leftovers(root) == []
    if not clean or _raw_state(raw) != raw_states["new"]:
        reliability.record(FAMILY, case, "data_lost", nxt.stderr or str(_leftovers(root)))
        raise AssertionError(f"{case}: next import did not end clean: {_leftovers(root)}")
    reliability.record(FAMILY, case, "correct")


@pytest.mark.parametrize(
    ("point", "exchange"),
    [
        ("snapshot:written-1", True),
        ("snapshot:written-10", True),
        ("snapshot:before-swap", True),
        ("snapshot:after-swap", True),
        ("snapshot:between-renames", False),
    ],
)
def test_kill_snapshot_import_at_a_write_point(point, exchange, raw_states, tmp_path, reliability):
    root = tmp_path / "p"
    shutil.copytree(raw_states["base"], root)
    extra = {"BOSO_TEST_KILL_AT": point}
    if not exchange:
        extra["BOSO_TEST_NO_EXCHANGE"] = "1"
    proc = _boso(root, ["snapshot", "import", str(raw_states["snapshot"])], **extra)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _leftovers(root), "the kill point was not reached inside the write phase"
    _check_raw_after_kill(
        f"kill -9 of snapshot import at {point}", root, raw_states, reliability, point
    )


def test_kill_snapshot_import_from_outside_while_it_writes(raw_states, tmp_path, reliability):
    root = tmp_path / "p"
    shutil.copytree(raw_states["base"], root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "boso.cli", "snapshot", "import", str(raw_states["snapshot"])],
        env=_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        stages = list((root / "data").glob(".raw.new-*"))
        if stages and (stages[0] / "ssb" / "12008.json").exists():
            break  # a file the old data/raw lacks is being written
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _check_raw_after_kill(
        "kill -9 of snapshot import from outside", root, raw_states, reliability, "SIGKILL"
    )


@pytest.mark.parametrize(
    ("case", "where", "error"),
    [
        ("disk full at the first file written", "write", errno.ENOSPC),
        ("read-only file system at the second file written", "write", errno.EROFS),
        ("read-only file system at the swap", "swap", errno.EROFS),
    ],
)
def test_snapshot_import_write_error_leaves_raw_as_it_was(
    case, where, error, raw_states, tmp_path, monkeypatch, reliability
):
    import boso.processed
    import boso.raw

    root = tmp_path / "p"
    shutil.copytree(raw_states["base"], root)
    raw = root / "data" / "raw"
    calls = {"n": 0}
    fail_at = 1 if error == errno.ENOSPC else 3  # of 4 writes: 2 changed files + sidecars
    real_write = boso.raw.atomic_write_bytes

    def failing_write(path: Path, content: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise OSError(error, os.strerror(error), str(path))
        real_write(path, content)

    def failing_swap(a: Path, b: Path) -> bool:
        raise OSError(error, os.strerror(error), str(b))

    if where == "write":
        monkeypatch.setattr(boso.raw, "atomic_write_bytes", failing_write)
    else:
        monkeypatch.setattr(boso.processed, "exchange", failing_swap)
    result = run_boso(["snapshot", "import", str(raw_states["snapshot"])], root=root)
    reason = "plass" if error == errno.ENOSPC else "skrivebeskyttet"
    reliability.cli_error(FAMILY, f"snapshot import: {case}", result, reason)
    reliability.unchanged(FAMILY, f"snapshot import: {case}", raw_states["old"], raw)
    assert _leftovers(root) == []
    # and the old data/raw is still usable
    monkeypatch.undo()
    from boso.raw import RawStore

    assert len(list(RawStore(raw).files())) == len(
        [k for k in raw_states["old"] if "_history" not in k and "provenance" not in k]
    )
