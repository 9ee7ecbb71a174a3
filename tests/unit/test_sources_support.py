"""Test support for the online sources: a fake clock, a scripted HTTP adapter, a fake PxWeb.

Imported by the ``test_sources_*`` modules (pytest puts this directory on ``sys.path``). It
holds no tests itself. Nothing here touches the network: a ``requests`` adapter answers every
request from fixtures or from a generated cube and records what was asked.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import requests
from requests.adapters import BaseAdapter

from boso.sources.http import HttpClient, RateLimiter

HTTP_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "http"
V2 = "https://data.ssb.no/api/pxwebapi/v2"
V0 = "https://data.ssb.no/api/v0/no/table"


def load_fixture(name: str) -> Any:
    return json.loads((HTTP_FIXTURES / name).read_text("utf-8"))


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


def make_response(
    request: requests.PreparedRequest,
    status: int = 200,
    body: bytes | str | Any = b"",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = json.dumps(body, ensure_ascii=False).encode("utf-8")
    response._content = body
    response.headers.update(headers or {})
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


class Recorded:
    """One request the adapter saw."""

    def __init__(self, request: requests.PreparedRequest, at: float) -> None:
        self.method = request.method
        self.url = request.url or ""
        self.body = json.loads(request.body) if request.body else None
        self.at = at
        self.cells: int | None = None

    def __repr__(self) -> str:
        return f"<{self.method} {self.url[:80]}>"


class FakeAdapter(BaseAdapter):
    """Answers requests with ``handler(request)``; ``script`` queues answers served first.

    A queued item is a status code (int), a ``(status, body, headers)`` tuple, a ready
    response, or an exception instance to raise.
    """

    def __init__(
        self,
        handler: Callable[[requests.PreparedRequest], requests.Response] | None = None,
        clock: FakeClock | None = None,
    ) -> None:
        super().__init__()
        self.handler = handler
        self.clock = clock
        self.script: list[Any] = []
        self.requests: list[Recorded] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: ANN001, D102
        record = Recorded(request, self.clock() if self.clock else 0.0)
        self.requests.append(record)
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, int):
                return make_response(request, item, f"status {item}")
            if isinstance(item, tuple):
                return make_response(request, *item)
            return item
        if self.handler is None:
            return make_response(request, 404, "no handler")
        return self.handler(request)

    def close(self) -> None:  # noqa: D102
        pass


def make_client(adapter: FakeAdapter, clock: FakeClock | None = None, **kwargs: Any) -> HttpClient:
    """An :class:`HttpClient` on ``adapter`` whose limiter and retries use ``clock``."""
    clock = clock or adapter.clock or FakeClock()
    adapter.clock = clock
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    kwargs.setdefault("backoff", 1.0)
    return HttpClient(
        session,
        limiter=RateLimiter(30, 60.0, clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        **kwargs,
    )


# --------------------------------------------------------------------------------------------
# A small PxWeb server


def _code_weight(code: str) -> int:
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(code))


def cube_values(
    dims: list[tuple[str, list[str]]],
) -> tuple[list[float | None], dict[str, str]]:
    """Deterministic values and SSB-like status symbols for a cube (vectorised with numpy).

    Symbols: ``.`` for Asker's old code 0220 from 2020, ``:`` for EKG13's per-1000 rate,
    ``..`` for Holmestrand in 2016. Cells with a symbol have no value.
    """
    shape = [len(codes) for _, codes in dims]
    total = np.zeros(shape, dtype=np.int64)
    for axis, (_, codes) in enumerate(dims):
        weights = np.array([_code_weight(c) * (axis * 6 + 1) for c in codes], dtype=np.int64)
        total = total + weights.reshape([-1 if a == axis else 1 for a in range(len(dims))])
    values = (total % 997).astype(float).ravel()

    def has(code: str, axis_filter=None) -> np.ndarray:  # noqa: ANN001
        mask = np.zeros(shape, dtype=bool)
        for axis, (_, codes) in enumerate(dims):
            hit = np.array([c == code for c in codes])
            mask |= hit.reshape([-1 if a == axis else 1 for a in range(len(dims))])
        return mask

    last_codes = dims[-1][1] if dims else []
    later = (
        np.array([c >= "2020" for c in last_codes]).reshape([1] * (len(dims) - 1) + [-1])
        if dims
        else np.zeros(1, dtype=bool)
    )
    in_2016 = (
        np.array([c == "2016" for c in last_codes]).reshape([1] * (len(dims) - 1) + [-1])
        if dims
        else np.zeros(1, dtype=bool)
    )
    symbols = np.full(shape, "", dtype=object)
    symbols[np.broadcast_to(has("3903") & in_2016, shape)] = ".."
    symbols[np.broadcast_to(has("EKG13") & has("KOSboligSper10000000"), shape)] = ":"
    symbols[np.broadcast_to(has("0220") & later, shape)] = "."
    flat = symbols.ravel()
    status = {str(i): flat[i] for i in np.flatnonzero(flat != "")}
    out: list[float | None] = values.tolist()
    for i in status:
        out[int(i)] = None
    return out, status


def split_value_codes(text: str) -> list[str]:
    """Split a GET ``valueCodes`` value on commas outside ``[...]``; unwrap bracketed items."""
    items, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += ch == "["
        depth -= ch == "]"
        current += ch
    items.append(current)
    return [i[1:-1] if i.startswith("[") and i.endswith("]") else i for i in items]


class FakePxWeb:
    """Serves v2 metadata, codelists and data (GET and POST) and v0 metadata and data.

    Data are generated from the metadata, so any selection (and any split of it) gets
    consistent answers. It refuses requests over ``max_cells`` with 403 like SSB, and GET
    URLs over ``max_url`` characters with 404.
    """

    def __init__(
        self,
        metadata: dict[str, dict[str, Any]],
        codelists: dict[str, dict[str, Any]] | None = None,
        v0_metadata: dict[str, dict[str, Any]] | None = None,
        *,
        max_cells: int = 800_000,
        max_url: int = 2_100,
        v2_data: bool = True,
    ) -> None:
        self.metadata = metadata
        self.codelists = codelists or {}
        self.v0_metadata = v0_metadata or {}
        self.max_cells = max_cells
        self.max_url = max_url
        self.v2_data = v2_data
        self.data_requests: list[dict[str, Any]] = []

    # routing
    def __call__(self, request: requests.PreparedRequest) -> requests.Response:
        url = request.url or ""
        parts = urllib.parse.urlsplit(url)
        path = parts.path
        params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        if url.startswith(V2):
            rest = path[len(urllib.parse.urlsplit(V2).path) :].strip("/").split("/")
            if rest[0] == "tables" and len(rest) == 3 and rest[2] == "metadata":
                doc = self.metadata.get(rest[1])
                if doc is None:
                    return make_response(request, 404, {"error": "Table not found"})
                return make_response(request, 200, doc)
            if rest[0] == "codelists" and len(rest) == 2:
                doc = self.codelists.get(rest[1])
                if doc is None:
                    return make_response(request, 404, {"error": "Codelist not found"})
                return make_response(request, 200, doc)
            if rest[0] == "tables" and len(rest) == 3 and rest[2] == "data":
                if len(url) > self.max_url:
                    return make_response(request, 404, "URL too long")
                if not self.v2_data or rest[1] not in self.metadata:
                    return make_response(request, 404, {"error": "Not found"})
                return self._v2_data(request, rest[1], params)
        if url.startswith(V0):
            table = path.rstrip("/").split("/")[-1]
            meta = self.v0_metadata.get(table)
            if meta is None:
                return make_response(request, 404, "not found")
            if request.method == "GET":
                return make_response(request, 200, meta)
            return self._v0_data(request, table, json.loads(request.body))
        return make_response(request, 404, "unknown path")

    # selection handling
    def _table_vars(self, table: str) -> list[tuple[str, list[str], bool]]:
        if table in self.metadata:
            doc = self.metadata[table]
            out = []
            for var in doc["id"]:
                index = doc["dimension"][var]["category"]["index"]
                codes = [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
                out.append((var, codes, var in doc["role"].get("time", [])))
            return out
        return [
            (v["code"], list(v["values"]), bool(v.get("time")))
            for v in self.v0_metadata[table]["variables"]
        ]

    @staticmethod
    def _resolve(expressions: list[str], codes: list[str], time: bool) -> list[str]:
        chosen: list[str] = []
        for expr in expressions:
            if expr == "*":
                chosen += codes
            elif expr.startswith("range("):
                a, b = expr[6:-1].split(",")
                chosen += codes[codes.index(a) : codes.index(b) + 1]
            elif expr.startswith("from("):
                chosen += codes[codes.index(expr[5:-1]) :]
            elif expr.startswith("top("):
                n = int(expr[4:-1])
                chosen += codes[-n:] if time else codes[:n]
            elif expr in codes:
                chosen.append(expr)
            else:
                raise KeyError(expr)
        return [c for c in codes if c in set(chosen)]

    def _v2_data(self, request, table: str, params: dict[str, str]) -> requests.Response:  # noqa: ANN001
        if request.method == "POST":
            body = json.loads(request.body)
            selection = {s["variableCode"]: s["valueCodes"] for s in body["selection"]}
            codelist = {
                s["variableCode"]: s["codelist"] for s in body["selection"] if "codelist" in s
            }
        else:
            selection = {
                k[len("valueCodes[") : -1]: split_value_codes(v)
                for k, v in params.items()
                if k.startswith("valueCodes[")
            }
            codelist = {
                k[len("codelist[") : -1]: v for k, v in params.items() if k.startswith("codelist[")
            }
        return self._answer(request, table, selection, codelist)

    def _v0_data(self, request, table: str, body: dict[str, Any]) -> requests.Response:  # noqa: ANN001
        selection: dict[str, list[str]] = {}
        codelist: dict[str, str] = {}
        for item in body["query"]:
            filt = item["selection"]["filter"]
            selection[item["code"]] = item["selection"]["values"]
            if filt.startswith("agg:"):
                codelist[item["code"]] = "agg_" + filt[4:]
        assert body["response"] == {"format": "json-stat2"}
        return self._answer(request, table, selection, codelist)

    def _answer(self, request, table, selection, codelist) -> requests.Response:  # noqa: ANN001
        if any(len(set(v)) != len(v) for v in selection.values()):
            return make_response(request, 500, b"")  # what SSB does with a repeated code
        dims = []
        for var, codes, time in self._table_vars(table):
            labels = {c: c for c in codes}
            if var in codelist:
                values = self.codelists[codelist[var]]["values"]
                codes = [v["code"] for v in values]
                labels = {v["code"]: v["label"] for v in values}
            if var not in selection:
                continue  # eliminated
            try:
                chosen = self._resolve(selection[var], codes, time)
            except (KeyError, ValueError):
                return make_response(request, 400, {"error": f"bad selection for {var}"})
            dims.append((var, chosen, labels))
        cells = math.prod(len(c) for _, c, _ in dims)
        self.data_requests.append({"method": request.method, "cells": cells})
        if cells > self.max_cells:
            return make_response(request, 403, {"error": "Too many cells selected"})
        return make_response(request, 200, self.dataset(table, dims))

    def dataset(self, table: str, dims: list[tuple[str, list[str], dict[str, str]]]) -> dict:
        meta = self.metadata.get(table, {})
        values, status = cube_values([(var, codes) for var, codes, _ in dims])
        ids = [var for var, _, _ in dims]
        return {
            "version": "2.0",
            "class": "dataset",
            "label": meta.get("label", table),
            "source": "Statistisk sentralbyrå",
            "updated": meta.get("updated", "2025-01-01T00:00:00Z"),
            "role": {key: [v for v in vs if v in ids] for key, vs in meta.get("role", {}).items()},
            "id": ids,
            "size": [len(codes) for _, codes, _ in dims],
            "dimension": {
                var: {
                    "label": var.lower(),
                    "category": {
                        "index": {c: i for i, c in enumerate(codes)},
                        "label": {c: labels.get(c, c) for c in codes},
                    },
                    "extension": {"elimination": False, "show": "value"},
                }
                for var, codes, labels in dims
            },
            "extension": {"px": {"tableid": table, "language": "no"}},
            "value": values,
            "status": status,
        }


def pxweb_12008(**kwargs: Any) -> FakePxWeb:
    """A fake PxWeb with tables 12008 and 07459 (v2) and 12008 in v0."""
    return FakePxWeb(
        {
            "12008": load_fixture("ssb_12008_metadata.json"),
            "07459": load_fixture("ssb_07459_metadata.json"),
        },
        {"agg_KommSummer": load_fixture("ssb_codelist_agg_KommSummer.json")},
        {"12008": load_fixture("ssb_v0_12008_metadata.json")},
        **kwargs,
    )
