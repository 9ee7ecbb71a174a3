"""startlan.ipynb run in a real JupyterLab (headless Chromium): every figure shows its caption
and CSV link, as on the site.

JupyterLab is the optional ``lab`` extra: without it this test is skipped. Set
``BOSO_LAB_PATH`` to a directory holding JupyterLab (``pip install --target DIR jupyterlab``) to
run it without installing Lab into the batch runner's environment. With
``BOSO_DOCS_SCREENSHOT=1`` the screenshot also replaces ``docs/img/jupyterlab-startlan.png``
(the README's picture).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
DOCS_IMG = REPO / "docs" / "img" / "jupyterlab-startlan.png"


def _lab_env() -> tuple[dict[str, str], list[str]] | None:
    """Environment and extra arguments for ``python -m jupyterlab``, or None without Lab."""
    env = dict(os.environ)
    # The kernel is this interpreter's ipykernel, with boso importable.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    extra = os.environ.get("BOSO_LAB_PATH")
    if not extra:
        return (env, []) if importlib.util.find_spec("jupyterlab") else None
    if not (Path(extra) / "jupyterlab").is_dir():
        return None
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
    env["JUPYTER_PATH"] = str(Path(extra) / "share" / "jupyter")
    return env, [f"--LabApp.app_dir={Path(extra) / 'share' / 'jupyter' / 'lab'}"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab(pipeline_project: Path, tmp_path: Path):
    found = _lab_env()
    if found is None:
        pytest.skip("JupyterLab is not installed (pip install -e '.[lab]' or BOSO_LAB_PATH)")
    env, args = found
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "startlan.ipynb", root / "startlan.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env["BOSO_HOME"] = str(pipeline_project)
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")  # no user settings
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            *args,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start")
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_startlan_in_jupyterlab_shows_captions_and_csv(lab, browser, screenshot_dir: Path):
    base, token = lab
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/lab/tree/startlan.ipynb?token={token}", timeout=180_000)
    page.wait_for_function(
        "() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')",
        timeout=180_000,
    )
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
    page.wait_for_timeout(3000)  # the kernel connection settles after "idle"
    news = page.get_by_role("button", name="No", exact=True)
    if news.count():
        news.first.click()
    # Run All as a researcher would: through the Run menu.
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .boso-figure-caption').length >= 4"
        " && ![...document.querySelectorAll('.jp-InputArea-prompt')]"
        ".some(p => p.textContent.includes('*'))",
        timeout=300_000,
    )
    plots = page.locator(".jp-Notebook .js-plotly-plot")
    captions = page.locator(".jp-Notebook .boso-figure-caption")
    assert plots.count() >= 4 and captions.count() == plots.count()
    for i in range(captions.count()):
        caption = captions.nth(i)
        assert caption.locator(".boso-caption").inner_text().startswith("Kilde: SSB")
        link = caption.locator("a.boso-csv")
        assert link.inner_text() == "Last ned data (CSV)"
        assert link.get_attribute("href").startswith("data:text/csv")
    # A working download: the link's data are the figure's rows.
    with page.expect_download() as download:
        captions.first.locator("a.boso-csv").click()
    saved = Path(download.value.path()).read_text("utf-8")
    assert saved.startswith("indikator,") and "verdi" in saved.splitlines()[0]
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    captions.first.scroll_into_view_if_needed()
    page.mouse.wheel(0, 120)  # the caption's bottom edge, not flush with the window
    page.wait_for_timeout(800)
    shot = screenshot_dir / "jupyterlab-startlan.png"
    page.screenshot(path=str(shot))
    if os.environ.get("BOSO_DOCS_SCREENSHOT") == "1":
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, DOCS_IMG)
    context.close()
