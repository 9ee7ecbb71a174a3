"""Support for the download/raw robustness families: fake HTTP, a real local server, projects.

Imported by ``test_imdi.py``, ``test_http.py``, ``test_klass_raw.py`` and
``test_snapshot_archive.py``; holds no tests. Nothing here reaches the internet: a scripted
``requests`` adapter answers in-process, and :class:`LocalServer` answers on 127.0.0.1 so that
real urllib3/http.client exceptions (a body shorter than its Content-Length, a reset
connection, a read timeout) reach the client exactly as they would from SSB or IMDi.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter

from boso.sources.http import HttpClient, RateLimiter

HTTP_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "http"
IMDI_LONG = "imdi_bosetting_anmodning_vedtak_faktisk_1995-2023_long.csv"
# SO_LINGER on, 0 seconds: close() sends a TCP reset instead of a clean end of stream.
_LINGER_0 = struct.pack("ii", 1, 0)


class FakeClock:
    """Monotonic fake time; ``sleep`` advances it and records the delay."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def response(
    request: requests.PreparedRequest,
    status: int = 200,
    body: bytes | str = b"",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = body.encode("utf-8") if isinstance(body, str) else body
    answer.headers.update(headers or {})
    answer.url = request.url or ""
    answer.request = request
    answer.encoding = "utf-8"
    return answer


class ScriptedAdapter(BaseAdapter):
    """Serves queued answers first, then ``handler(request)``; records every request.

    A queued item is an exception instance (raised), a ``(status, body, headers)`` tuple, or a
    callable taking the request.
    """

    def __init__(self, handler: Callable[[requests.PreparedRequest], Any] | None = None) -> None:
        super().__init__()
        self.handler = handler
        self.script: list[Any] = []
        self.requests: list[tuple[str, str]] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: ANN001, D102
        self.requests.append((request.method or "", request.url or ""))
        item = self.script.pop(0) if self.script else self.handler
        if item is None:
            return response(request, 404, "no handler")
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, tuple):
            return response(request, *item)
        answer = item(request)
        return answer if isinstance(answer, requests.Response) else response(request, *answer)

    def close(self) -> None:  # noqa: D102
        pass


def client_on(adapter: BaseAdapter | None = None, **kwargs: Any) -> tuple[HttpClient, FakeClock]:
    """An :class:`HttpClient` whose limiter and retry delays use a fake clock (no waiting).

    With ``adapter`` None the session is a plain one (for :class:`LocalServer`).
    """
    clock = FakeClock()
    session = requests.Session()
    if adapter is not None:
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    kwargs.setdefault("backoff", 1.0)
    client = HttpClient(
        session,
        limiter=RateLimiter(30, 60.0, clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        **kwargs,
    )
    return client, clock


# --------------------------------------------------------------------------------------------
# A real HTTP server on 127.0.0.1 whose answers are scripted per request


class LocalServer:
    """Answers each request with the next scripted behaviour (the last one repeats).

    Behaviours: ``("ok", body)``, ``("short", body, announced_length)`` (Content-Length larger
    than what is sent, then the connection closes), ``("cut", body, announced_length)`` (the
    same, ended by a TCP reset), ``("reset",)`` (reset without answering), ``("slow", seconds,
    body)``, ``("status", code, body)``.
    """

    def __init__(self, script: list[tuple[Any, ...]]) -> None:
        self.script = list(script)
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.answer(self)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.answer(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        step = self.script[min(self.hits, len(self.script) - 1)]
        self.hits += 1
        kind = step[0]
        if kind == "reset":
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_0)
            handler.close_connection = True
            handler.connection.close()
            return
        if kind == "slow":
            threading.Event().wait(step[1])
            body = step[2]
            status = 200
        elif kind == "status":
            status, body = step[1], step[2]
        else:
            status, body = 200, step[1]
        announced = step[2] if kind in ("short", "cut") else len(body)
        try:
            handler.send_response(status)
            handler.send_header("Content-Length", str(announced))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body)
            handler.wfile.flush()
            if kind == "cut":  # the connection is reset mid-body
                handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_0)
                handler.connection.close()
        except OSError:
            pass  # the client gave up first (timeout cases)
        handler.close_connection = True

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------------------------
# Projects with the snapshot imported


_IMPORTED: dict[str, Path] = {}


def imported_raw(snapshot_dir: Path, cache_root: Path) -> Path:
    """``data/raw`` after ``boso snapshot import`` of the shared snapshot (done once)."""
    key = str(snapshot_dir)
    if key not in _IMPORTED:
        from boso.raw import RawStore, import_snapshot

        root = cache_root / "raw"
        import_snapshot(snapshot_dir, RawStore(root))
        _IMPORTED[key] = root
    return _IMPORTED[key]


@contextmanager
def project_with_raw(base: Path, raw: Path, sources: tuple[str, ...]) -> Iterator[Path]:
    """A project root with a copy of ``raw``'s ``sources`` folders and a 'good' processed tree.

    ``data/processed`` holds two stand-in files: a refused build or import must leave them
    byte-identical (checked with ``tree_digest``).
    """
    for sub in ("data/raw", "data/processed", "reports"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copytree(raw / source, base / "data" / "raw" / source)
    (base / "data" / "processed" / "core_klass__kommuner.parquet").write_bytes(b"earlier good")
    (base / "data" / "processed" / "_manifest.json").write_text(json.dumps({"tables": 1}))
    yield base


def drop_categories(content: bytes, dim: str, codes: set[str]) -> bytes:
    """A JSON-stat 2.0 dataset without the categories ``codes`` of dimension ``dim``.

    Values and status symbols (list or sparse object) are cut to match, so the result is as
    valid as the input: a table that simply covers less, as a partial answer or an older
    snapshot would.
    """
    import itertools

    doc = json.loads(content)
    ids, sizes = doc["id"], doc["size"]
    axis = ids.index(dim)
    index = doc["dimension"][dim]["category"]["index"]
    order = sorted(index, key=index.get) if isinstance(index, dict) else list(index)
    keep_pos = [i for i, code in enumerate(order) if code not in codes]
    status = doc.get("status")
    values, statuses = [], {}
    for flat, position in enumerate(itertools.product(*(range(n) for n in sizes))):
        if order[position[axis]] in codes:
            continue
        values.append(doc["value"][flat] if isinstance(doc["value"], list) else None)
        symbol = status.get(str(flat)) if isinstance(status, dict) else None
        if isinstance(status, list):
            symbol = status[flat] if len(status) > 1 else status[0]
        if symbol:
            statuses[str(len(values) - 1)] = symbol
    kept = [order[i] for i in keep_pos]
    category = doc["dimension"][dim]["category"]
    category["index"] = {code: i for i, code in enumerate(kept)}
    for key in ("label", "unit", "note"):
        if isinstance(category.get(key), dict):
            category[key] = {k: v for k, v in category[key].items() if k not in codes}
    doc["size"] = [len(kept) if i == axis else n for i, n in enumerate(sizes)]
    doc["value"] = values
    if status is not None:
        doc["status"] = statuses
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
