"""Errors that boso reports to users as one clear line (the CLI exits non-zero on them)."""

from __future__ import annotations


class BosoError(Exception):
    """Base class: a problem the user can act on, described in one line."""


class DataError(BosoError):
    """Input data is malformed, truncated, wrongly encoded or inconsistent."""


class QueryError(BosoError):
    """A request names a table, variable, code or indicator that does not exist."""


class FetchError(BosoError):
    """A download failed after retries, or its response was incomplete."""
