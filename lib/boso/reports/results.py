"""What a report run produces: the analyses, one :class:`ReportResult` per report, a summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

#: The analyses in the order a reader meets them; other notebooks follow alphabetically.
ANALYSES = (
    "befolkning",
    "levekar",
    "boligpriser",
    "startlan",
    "kommunale_boliger",
    "boligbehov",
)
#: A failed report is kept beside the good ones as ``<analysis>`` + this, for inspection only:
#: its numbers may be half computed, so the site and the chapters never read it.
ERROR_NOTEBOOK_SUFFIX = ".error.ipynb"

OK, SKIPPED, FAILED = "ok", "skipped", "failed"
_LABELS = {OK: "ok", SKIPPED: "hoppet over", FAILED: "feilet"}


@dataclass
class ReportResult:
    """Outcome of one (kommune, analysis) report."""

    kommunenummer: str
    kommunenavn: str
    analysis: str
    path: Path
    status: str
    seconds: float = 0.0
    error: str = ""
    error_file: Path | None = None


@dataclass
class RunSummary:
    """All results of one ``run_reports`` call."""

    results: list[ReportResult] = field(default_factory=list)
    seconds: float = 0.0

    def _with(self, status: str) -> list[ReportResult]:
        return [r for r in self.results if r.status == status]

    @property
    def ok(self) -> list[ReportResult]:
        """Reports executed successfully in this run."""
        return self._with(OK)

    @property
    def skipped(self) -> list[ReportResult]:
        """Reports left alone because nothing they depend on changed."""
        return self._with(SKIPPED)

    @property
    def failed(self) -> list[ReportResult]:
        """Reports whose run failed (their error file names the cause)."""
        return self._with(FAILED)

    @property
    def exit_code(self) -> int:
        """1 when any report failed, else 0."""
        return 1 if self.failed else 0

    #: The summary table's first column and its count columns (label, width), in the order
    #: OK, SKIPPED, FAILED; subclasses for other runs (e.g. the chapter files) rename them.
    ITEM_LABEL: ClassVar[str] = "analyse"
    COUNT_COLUMNS: ClassVar[tuple[tuple[str, int], ...]] = (
        ("ok", 6),
        ("hoppet over", 13),
        ("feilet", 8),
    )

    def table(self) -> str:
        """A plain-text summary in bokmål: counts per item, then one line per failure."""
        items = list(dict.fromkeys(r.analysis for r in self.results))
        width = max([len(self.ITEM_LABEL), *(len(a) for a in items)]) + 2
        head = f"{self.ITEM_LABEL:<{width}}" + "".join(
            f"{label:>{w}}" for label, w in self.COUNT_COLUMNS
        )
        lines = [head, "-" * len(head)]
        for item in [*items, "totalt"]:
            rows = [r for r in self.results if item in ("totalt", r.analysis)]
            counts = [sum(r.status == s for r in rows) for s in (OK, SKIPPED, FAILED)]
            if item == "totalt":
                lines.append("-" * len(head))
            lines.append(
                f"{item:<{width}}"
                + "".join(f"{n:>{w}}" for n, (_, w) in zip(counts, self.COUNT_COLUMNS, strict=True))
            )
        if self.failed:
            lines += ["", "Feilet:"]
            for r in self.failed:
                where = f" (se {r.error_file})" if r.error_file else ""
                lines.append(
                    f"  {r.kommunenummer} {r.kommunenavn} / {r.analysis}: {r.error}{where}"
                )
        lines.append(f"\nTid: {self.seconds:.1f} s")
        return "\n".join(lines)
