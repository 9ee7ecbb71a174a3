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
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from boso.errors import FetchError

USER_AGENT = f"boso/0.1 (boligsosial statistikk) python-requests/{requests.__version__}"

# Statuses worth another try: rate limiting and server-side trouble.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def default_session() -> requests.Session:
    """A plain ``requests.Session`` with boso's User-Agent (for callers without a client)."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


class HttpStatusError(FetchError):
    """The server answered with a status that retrying will not fix (e.g. 400, 403, 404).

    Attributes:
        url: The requested URL.
        status: The HTTP status code.
        body: The start of the response body (for error messages).
    """

    def __init__(self, url: str, status: int, body: str = "") -> None:
        self.url = url
        self.status = status
        self.body = body
        flat = " ".join(body.split())  # one line: the CLI prints errors on a single line
        detail = f": {flat[:200]}" if flat else ""
        super().__init__(f"HTTP {status} from {url}{detail}")


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
        super().__init__(f"gave up on {url} after {tries} tries (last error: {last})")


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
    ) -> requests.Response:
        """Send one request, retrying what is worth retrying.

        Args:
            method: ``GET`` or ``POST``.
            url: The full URL, query string included (callers build it so they can measure
                its length).
            json_body: JSON body for POST.
            headers: Extra headers.

        Returns:
            The successful (2xx) response.

        Raises:
            HttpStatusError: A non-retryable status (4xx other than 408/425/429).
            GaveUpError: Every try failed with a retryable error.
        """
        last = "no try made"
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
                last, delay = f"timeout ({exc.__class__.__name__})", backoff
                continue
            except requests.ConnectionError as exc:
                last, delay = f"connection error ({_short(exc)})", backoff
                connection_failures += 1
                continue
            if 200 <= response.status_code < 300:
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
