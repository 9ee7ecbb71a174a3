"""Errors that boso reports to users as one clear line (the CLI exits non-zero on them)."""

from __future__ import annotations


class BosoError(Exception):
    """Base class: a problem the user can act on, described in one line.

    In a notebook the error shows as that line alone: IPython asks an exception for
    ``_render_traceback_`` and prints what it returns instead of the traceback, so a researcher
    with a wrong ``kommunenummer`` sees the hint, not five frames of library code.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class DataError(BosoError):
    """Input data is malformed, truncated, wrongly encoded or inconsistent."""


class QueryError(BosoError):
    """A request names a table, variable, code or indicator that does not exist."""


class FetchError(BosoError):
    """A download failed after retries, or its response was incomplete."""
