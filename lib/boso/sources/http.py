"""HTTP for the online sources: one ``requests.Session``, a rate limiter and bounded retries.

This is the only place boso talks to the network. Every source module builds its requests
through :class:`HttpClient` so that SSB's limit (30 requests per 60 s per IP address, shared by
everyone behind that address) and the retry policy hold for all of them at once.

Tests inject a ``requests.Session`` with a mounted adapter and a fake clock; nothing here reads
the real time except through the injected ``clock``/``sleep``.
"""

from __future__ import annotations

import collections
import email.utils
import http.client
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
import urllib3.exceptions

from boso.errors import FetchError, json_problem

USER_AGENT = f"boso/0.1 (boligsosial statistikk) python-requests/{requests.__version__}"

# Statuses worth another try: rate limiting and server-side trouble.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

# A body that breaks off mid-transfer. requests wraps most of these, but reading the body can
# still surface urllib3's or http.client's own exception; all mean "try again".
_BROKEN_BODY = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    ConnectionError,
)


def default_session() -> requests.Session:
    """A plain ``requests.Session`` with boso's User-Agent (for callers without a client)."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


class IncompleteBodyError(FetchError):
    """A 2xx answer whose body is shorter than announced, or cut off (retried like a 5xx)."""


class HttpStatusError(FetchError):
    """The server answered with a status that retrying will not fix (e.g. 400, 403, 404).

    PxWebApi v2 answers errors with a JSON problem body ``{"type", "title", "status"}`` whose
    ``status`` can differ from the HTTP status (an unknown table is HTTP 400 with a body that
    says 404). A web server in front of it answers some errors with an HTML page instead (an
    over-long GET URL gets IIS's HTML "404 - File or directory not found").

    Attributes:
        url: The requested URL.
        status: The HTTP status code.
        body: The start of the response body (for error messages).
        title: The problem body's ``title`` (e.g. ``"Non-existent table"``), or ``""``.
        body_status: The problem body's ``status``, or None when the body has none.
        html: The body is an HTML page (from the web server, not from the API).
    """

    def __init__(self, url: str, status: int, body: str = "") -> None:
        self.url = url
        self.status = status
        self.body = body
        self.title, self.body_status = _problem(body)
        self.html = _looks_like_html(body)
        if self.title:
            detail = f": {self.title}"
            if self.body_status is not None and self.body_status != status:
                detail += f" (status {self.body_status} i svaret)"
        elif self.html:
            detail = ": HTML-side fra webserveren" + (
                f" ({_html_title(body)})" if _html_title(body) else ""
            )
        else:
            flat = " ".join(body.split())  # one line: the CLI prints errors on a single line
            detail = f": {flat[:200]}" if flat else ""
        super().__init__(f"HTTP {status} fra {url}{detail}")

    @property
    def not_found(self) -> bool:
        """The API itself says the thing asked for does not exist (HTTP 404 or body status 404).

        An HTML 404 page is *not* this: it comes from the web server (e.g. for a GET URL longer
        than about 2 100 characters) and says nothing about the table.
        """
        if self.html:
            return False
        return self.status in (404, 410) or self.body_status in (404, 410)


def _problem(body: str) -> tuple[str, int | None]:
    """``(title, status)`` of a JSON problem body, or ``("", None)``."""
    text = body.strip()
    if not text.startswith("{"):
        return "", None
    try:
        doc = json.loads(text)
    except ValueError:
        return "", None
    if not isinstance(doc, dict):
        return "", None
    title = doc.get("title") or doc.get("message") or ""
    status = doc.get("status")
    return (
        " ".join(str(title).split())[:200],
        status if isinstance(status, int) and not isinstance(status, bool) else None,
    )


def _looks_like_html(body: str) -> bool:
    text = body.lstrip()
    return text.startswith("<") and "<html" in text[:2000].lower()


def _html_title(body: str) -> str:
    low = body.lower()
    start = low.find("<title>")
    end = low.find("</title>", start)
    if start < 0 or end < 0:
        return ""
    return " ".join(body[start + len("<title>") : end].split())[:120]


class GaveUpError(FetchError):
    """All tries failed with retryable errors (timeouts, 429, 5xx, connection errors).

    Attributes:
        url: The requested URL.
        tries: How many tries were made.
        unreachable: Every try failed to connect at all (no network, DNS failure): other
            requests to the same host will fail too, so callers stop instead of waiting again.
    """

    def __init__(self, url: str, tries: int, last: str, *, unreachable: bool = False) -> None:
        self.url = url
        self.tries = tries
        self.unreachable = unreachable
        super().__init__(f"ga opp {url} etter {tries} forsøk (siste feil: {last})")


class RateLimiter:
    """Sliding-window limiter: at most ``max_requests`` starts within any ``period`` seconds.

    Args:
        max_requests: Requests allowed per window.
        period: Window length in seconds.
        clock: Monotonic time source (injectable for tests).
        sleep: Sleep function (injectable for tests; a fake one advances the fake clock).
    """

    def __init__(
        self,
        max_requests: int = 30,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests < 1 or period <= 0:
            raise ValueError("max_requests must be >= 1 and period > 0")
        self.max_requests = max_requests
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self._starts: collections.deque[float] = collections.deque()
        self.waited = 0.0

    def acquire(self) -> float:
        """Block until one more request may start; record it.

        Returns:
            Seconds waited (0.0 when a slot was free).
        """
        waited = 0.0
        while True:
            now = self.clock()
            while self._starts and now - self._starts[0] >= self.period:
                self._starts.popleft()
            if len(self._starts) < self.max_requests:
                self._starts.append(now)
                self.waited += waited
                return waited
            delay = self.period - (now - self._starts[0])
            # Guard against a clock that does not move (delay 0 would spin forever).
            delay = max(delay, 1e-3)
            self.sleep(delay)
            waited += delay


_SHARED_LIMITER: RateLimiter | None = None


def ssb_limiter() -> RateLimiter:
    """The process-wide limiter for data.ssb.no (30 per 60 s), shared by default clients.

    SSB counts per IP address, so two clients in one process must not each think they have
    the full budget.
    """
    global _SHARED_LIMITER
    if _SHARED_LIMITER is None:
        _SHARED_LIMITER = RateLimiter()
    return _SHARED_LIMITER


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date).

    Args:
        value: The header value, or None.
        now: Current POSIX time for HTTP-date values (default: ``time.time()``).

    Returns:
        Non-negative seconds, or None when the header is absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpClient:
    """A ``requests`` session with rate limiting and bounded exponential-backoff retries.

    Args:
        session: Session to use (tests pass one with a fake adapter mounted).
        limiter: Rate limiter for every request of this client; ``None`` for the process-wide
            SSB limiter (30 per 60 s, see :func:`ssb_limiter`).
        max_tries: Total tries per request (first try included).
        backoff: First retry delay in seconds; doubles on each retry.
        max_backoff: Upper bound of one delay (also caps ``Retry-After``).
        timeout: Per-request timeout in seconds (connect, read).
        sleep: Sleep function for retry delays (injectable for tests).
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        limiter: RateLimiter | None = None,
        max_tries: int = 5,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
        timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session or default_session()
        self.limiter = limiter or ssb_limiter()
        self.max_tries = max(1, max_tries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.sleep = sleep
        self.requests_sent = 0

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        check: Callable[[requests.Response], Any] | None = None,
    ) -> requests.Response:
        """Send one request, retrying what is worth retrying.

        A 2xx answer whose body is shorter than its ``Content-Length``, or that ``check``
        rejects with :class:`IncompleteBodyError`, is retried like a 5xx; so is a body that
        breaks off mid-transfer (``ChunkedEncodingError``, ``IncompleteRead``).

        Args:
            method: ``GET`` or ``POST``.
            url: The full URL, query string included (callers build it so they can measure
                its length).
            json_body: JSON body for POST.
            headers: Extra headers.
            check: Called with each 2xx response; raise :class:`IncompleteBodyError` to have
                it retried (e.g. :func:`expect_json`). Other exceptions propagate at once.

        Returns:
            The successful (2xx) response.

        Raises:
            HttpStatusError: A non-retryable status (4xx other than 408/425/429).
            GaveUpError: Every try failed with a retryable error.
            FetchError: The request cannot be sent at all (e.g. an invalid URL).
        """
        last = "ingen forsøk gjort"
        delay = 0.0
        connection_failures = 0
        for attempt in range(self.max_tries):
            if attempt:
                self.sleep(delay)
            # Exponential backoff unless the server says how long to wait (Retry-After).
            backoff = min(self.backoff * 2**attempt, self.max_backoff)
            self.limiter.acquire()
            self.requests_sent += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json_body,
                    headers=dict(headers or {}),
                    timeout=self.timeout,
                )
            except requests.Timeout as exc:
                last, delay = f"tidsavbrudd – timeout ({exc.__class__.__name__})", backoff
                continue
            except requests.ConnectionError as exc:
                last, delay = f"tilkoblingsfeil ({_short(exc)})", backoff
                connection_failures += 1
                continue
            except _BROKEN_BODY as exc:
                last, delay = f"overføringen brøt av ({exc.__class__.__name__})", backoff
                continue
            except requests.RequestException as exc:
                raise FetchError(
                    f"{url}: forespørselen kunne ikke sendes ({_short(exc)})"
                ) from None
            if 200 <= response.status_code < 300:
                try:
                    _check_length(response)
                    if check is not None:
                        check(response)
                except _BROKEN_BODY as exc:
                    last, delay = f"overføringen brøt av ({exc.__class__.__name__})", backoff
                    continue
                except IncompleteBodyError as exc:
                    last, delay = f"ufullstendig svar ({_short(exc)})", backoff
                    continue
                return response
            if response.status_code in RETRY_STATUSES:
                last = f"HTTP {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                delay = backoff if retry_after is None else min(retry_after, self.max_backoff)
                continue
            raise HttpStatusError(url, response.status_code, _body_text(response))
        raise GaveUpError(
            url, self.max_tries, last, unreachable=connection_failures == self.max_tries
        )

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        """GET ``url`` (see :meth:`request`)."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, json_body: Any, **kwargs: Any) -> requests.Response:
        """POST ``json_body`` to ``url`` (see :meth:`request`)."""
        return self.request("POST", url, json_body=json_body, **kwargs)


def _check_length(response: requests.Response) -> None:
    """Raise :class:`IncompleteBodyError` when the body is shorter than ``Content-Length``."""
    announced = response.headers.get("Content-Length", "").strip()
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    # With gzip/deflate the header counts compressed bytes; requests hands us decoded ones.
    if not announced.isdigit() or encoding not in ("", "identity"):
        return
    received = len(response.content)
    if received < int(announced):
        raise IncompleteBodyError(
            f"{response.url}: fikk {received} av {int(announced)} byte (Content-Length)"
        )


def expect_json(response: requests.Response) -> Any:
    """A ``check`` for :meth:`HttpClient.request`: the body must be complete JSON.

    A 2xx body that breaks off mid-document is a transfer problem, retried like a 5xx.

    Raises:
        IncompleteBodyError: The body is empty or not valid JSON.
    """
    try:
        doc = json.loads(response.content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IncompleteBodyError(
            f"{response.url}: svaret er ikke fullstendig JSON, {json_problem(exc)}"
        ) from None
    # Kept so that callers need not parse a large answer twice (see ``response_json``).
    response.boso_json = doc  # type: ignore[attr-defined]
    return doc


def response_json(response: requests.Response, url: str) -> Any:
    """The JSON of a response checked by :func:`expect_json` (parsed again otherwise).

    Raises:
        FetchError: The body is not valid JSON.
    """
    if hasattr(response, "boso_json"):
        return response.boso_json
    try:
        return json.loads(response.content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"{url}: svaret er ikke gyldig JSON, {json_problem(exc)}") from None


def _short(exc: BaseException) -> str:
    # urllib3 nests the real cause ("Failed to resolve 'data.ssb.no'") deep in a long repr.
    text = str(exc)
    at = text.rfind("Caused by ")
    if at >= 0:
        text = text[at + len("Caused by ") :].rstrip(")")
    return text if len(text) <= 160 else text[:157] + "..."


def _body_text(response: requests.Response) -> str:
    try:
        return response.text[:500]
    except Exception:  # noqa: BLE001 - a broken body must not hide the status
        return ""
