"""Generated bokmål sentences and Norwegian number formatting.

Every figure in the reports carries one short sentence stating its main finding with numbers, so a
reader who skips the chart still gets it. The sentences are built here from plain numbers (no
DataFrames), which keeps them easy to test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

# SSB symbols and what they mean, in bokmål (shown in hover text and notes).
STATUS_LABELS = {
    ":": "prikket (:)",
    "..": "mangler (..)",
    ".": "finnes ikke (.)",
    "-": "null (-)",
    "": "mangler",
}


def fmt_number(value: float | int | None, decimals: int = 0) -> str:
    """Format a number Norwegian style: space as thousands separator, decimal comma.

    Args:
        value: The number; None or NaN gives "–".
        decimals: Digits after the decimal comma.

    Returns:
        E.g. ``fmt_number(53610)`` → ``"53 610"``, ``fmt_number(2.834, 1)`` → ``"2,8"``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{float(value):,.{decimals}f}"
    # Python gives "53,610.5"; swap via a placeholder so the two separators don't collide.
    text = text.replace(",", "\x00").replace(".", ",").replace("\x00", " ")
    if text.startswith("-") and float(text.replace(" ", "").replace(",", ".")) == 0:
        text = text[1:]  # "-0,0" reads as an error to most readers
    return text


def fmt_value(value: float | None, unit: str = "", decimals: int | None = None) -> str:
    """Format a value with the indicator's declared decimals (``decimals`` in the catalog).

    Without ``decimals`` (numbers that belong to no indicator, e.g. a slope) the precision
    suits the size: 0 decimals ≥ 100, 1 below, 2 below 1.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if decimals is None:
        size = abs(float(value))
        decimals = 0 if size >= 100 else 1 if size >= 1 or size == 0 else 2
    if unit == "prosent":
        return f"{fmt_number(value, decimals)} %"
    if unit.startswith("kr"):  # "73 975 kr per m²" reads better than a bare number
        return f"{fmt_number(value, decimals)} {unit}"
    return fmt_number(value, decimals)


def fmt_percent(value: float | None, decimals: int = 1, signed: bool = False) -> str:
    """Format a percentage: ``2.83`` → ``"2,8 %"`` (``signed`` adds a leading "+")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = fmt_number(value, decimals)
    if signed and not text.startswith("-") and float(value) != 0:
        text = "+" + text
    return f"{text} %"


def join_list(items: Sequence[str], conj: str = "og") -> str:
    """Join items the Norwegian way: ``a, b og c``."""
    items = [i for i in items if i]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conj} {items[-1]}"


def in_region(name: str) -> str:
    """``"i Akershus"`` / ``"i landet"``: running-text form of a comparison region."""
    return f"i {'landet' if name.strip().lower() in {'landet', 'hele landet'} else name}"


def lower_first(label: str) -> str:
    """Lower-case the first letter unless the word looks like an acronym (``KOSTRA``)."""
    if len(label) > 1 and label[:2].isupper():
        return label
    return label[:1].lower() + label[1:]


def years_text(years: Iterable[int]) -> str:
    """Compact list of years: ``2015–2017, 2020``."""
    ys = sorted({int(y) for y in years})
    if not ys:
        return ""
    runs: list[str] = []
    start = prev = ys[0]
    for y in [*ys[1:], None]:
        if y is not None and y == prev + 1:
            prev = y
            continue
        runs.append(str(start) if start == prev else f"{start}–{prev}")
        if y is not None:
            start = prev = y
    return join_list(runs)


def growth_sentence(
    subject: str,
    place: str,
    first_year: int,
    first_value: float,
    last_year: int,
    last_value: float,
    growth: float | None,
    comparisons: Mapping[str, float | None] | None = None,
    unit: str = "",
    decimals: int | None = None,
) -> str:
    """Sentence on a level's change with average yearly growth, compared with other regions.

    Args:
        subject: Noun phrase starting the sentence, e.g. "Befolkningen".
        place: The kommune's name.
        first_year, first_value, last_year, last_value: The period's end points.
        growth: Average yearly growth in percent (compound), or None.
        comparisons: Region display name → growth in percent over the same years.
        unit: Unit of the values ("prosent" adds a % sign).
        decimals: The indicator's declared decimals (both end points use the same).

    Returns:
        E.g. "Befolkningen i Asker økte fra 53 610 i 2001 til 95 421 i 2022, i snitt 2,8 % per
        år, mot 0,9 % i landet."
    """
    verb = "økte" if last_value > first_value else "gikk ned" if last_value < first_value else "var"
    a, b = fmt_value(first_value, unit, decimals), fmt_value(last_value, unit, decimals)
    if verb == "var":
        text = f"{subject} i {place} var {b} både i {first_year} og {last_year}"
    else:
        text = f"{subject} i {place} {verb} fra {a} i {first_year} til {b} i {last_year}"
    if growth is not None and not math.isnan(growth):
        text += f", i snitt {fmt_percent(growth, signed=growth < 0)} per år"
        text += _against(comparisons, lambda g: fmt_percent(g, signed=g < 0))
    return text + "."


def level_sentence(
    label: str,
    place: str,
    year: int,
    value: float | None,
    unit: str = "",
    comparisons: Mapping[str, float | None] | None = None,
    decimals: int | None = None,
) -> str:
    """Sentence comparing the kommune's latest level with other regions the same year.

    Returns:
        E.g. "Kommunalt disponerte boliger per 1000 innbyggere var 12,3 i Asker i 2023, mot
        16,1 i KOSTRA-gruppe 13, 15,2 i Akershus og 20,1 i landet."
    """
    if value is None or math.isnan(value):
        return f"{label} for {place} mangler for {year}."
    text = f"{label} var {fmt_value(value, unit, decimals)} i {place} i {year}"
    text += _against(comparisons, lambda v: fmt_value(v, unit, decimals))
    return text + "."


def _against(comparisons: Mapping[str, float | None] | None, fmt: Callable[[float], str]) -> str:
    """``", mot 1,2 % i KOSTRA-gruppe 12 og 0,9 % i landet"`` (empty without numbers)."""
    others = [
        f"{fmt(v)} {in_region(name)}"
        for name, v in (comparisons or {}).items()
        if v is not None and not math.isnan(v)
    ]
    return f", mot {join_list(others)}" if others else ""


def trend_sentence(
    label: str,
    place: str,
    first_year: int,
    last_year: int,
    slope: float,
    ci_low: float,
    ci_high: float,
    unit: str = "",
    relative: bool = False,
) -> str:
    """Sentence stating a fitted trend and its 95 % confidence interval in words.

    Args:
        label: What is measured, e.g. "Startlån per 1000 innbyggere".
        place: The kommune's name.
        first_year, last_year: The years the fit covers.
        slope: Change per year (in the value's unit, or percent when ``relative``).
        ci_low, ci_high: 95 % confidence interval of ``slope``.
        unit: Unit of the values (for the absolute case).
        relative: True when ``slope`` is a growth rate in percent per year (log-linear fit).

    Returns:
        One or two sentences; says plainly when the interval includes zero.
    """

    def fmt(x: float) -> str:
        return fmt_percent(x) if relative else fmt_value(x, unit)

    def fmt_abs(x: float) -> str:
        return fmt_percent(abs(x)) if relative else fmt_value(abs(x), unit)

    period = f"{first_year}–{last_year}"
    if ci_low > 0 or ci_high < 0:
        direction = "økte" if slope > 0 else "gikk ned"
        text = (
            f"{label} i {place} {direction} med i snitt {fmt_abs(slope)} per år i {period} "
            f"(95 % konfidensintervall {fmt(ci_low)} til {fmt(ci_high)})."
        )
    else:
        text = (
            f"{label} i {place} endret seg i snitt med {fmt(slope)} per år i {period}, men "
            f"usikkerheten er stor: 95 % konfidensintervall {fmt(ci_low)} til {fmt(ci_high)} "
            f"omfatter null, så tallene viser ingen klar trend."
        )
    return text


# Why a value is missing, as the reader is told under a figure: a flag of the row itself
# (harmonisering, status) or of the numbers a rate is computed from. Keys are stored in the
# ``mangler`` column by :func:`boso.indicators.gap_reasons`; SSB symbols are reasons too.
GAP_REASONS = {
    "deling": "kommunen ble delt, og tall fra før delingen kan ikke regnes om til dagens grenser",
    "ikke_beregnbar": (
        "tall fra før kommunesammenslåingen kan ikke regnes om for denne indikatoren"
    ),
    "nevner_ikke_publisert": "befolkningstallet som raten regnes per, er ikke publisert ennå",
    "nevner_nivaa": "befolkningstall finnes ikke for denne regionen, så raten kan ikke beregnes",
    # The same for another denominator: "<key>:<its label>" (e.g. privathusholdninger).
    "nevner_ikke_publisert:": "tallet for {} som raten regnes ut fra, er ikke publisert ennå",
    "nevner_nivaa:": "tall for {} finnes ikke for denne regionen, så raten kan ikke beregnes",
    "ikke_publisert_nivaa": "tallet publiseres ikke for dette nivået",
    "teller_mangler": "tallet raten regnes fra, er ikke publisert",
    "..": "ikke publisert av kilden",
}


def missing_note(years_by_status: Mapping[str, Iterable[int]], place: str = "") -> str:
    """Note listing years whose values are missing and why (shown under a figure).

    Args:
        years_by_status: An SSB symbol (``:``, ``.``) or a reason key of :data:`GAP_REASONS`
            → the years it explains.
        place: Optional region name to mention.

    Returns:
        E.g. "Asker: prikket (:) i 2017–2018; uten tall i 2016 (ikke publisert av kilden)."
        or "" when nothing is missing.
    """
    parts = []
    for status, years in years_by_status.items():
        if not years or status == "-":
            continue
        key, _, name = status.partition(":")
        if name and f"{key}:" in GAP_REASONS:
            reason = GAP_REASONS[f"{key}:"].format(name)
            parts.append(f"uten tall i {years_text(years)} ({reason})")
        elif status in GAP_REASONS:
            parts.append(f"uten tall i {years_text(years)} ({GAP_REASONS[status]})")
        else:
            parts.append(f"{STATUS_LABELS.get(status, status)} i {years_text(years)}")
    if not parts:
        return ""
    text = "; ".join(parts)
    text = text[:1].upper() + text[1:]
    return f"{place}: {lower_first(text)}." if place else f"{text}."


def growth_row_sentence(
    subject: str,
    place: str,
    first_year: int,
    last_year: int,
    percent_per_year: float,
    ci_low: float,
    ci_high: float,
    landet_percent: float | None = None,
) -> str:
    """Sentence for one row of a growth table (log-linear growth per year with its 95 % CI).

    Args:
        subject: What grows, e.g. "Kvadratmeterpris (eneboliger)".
        place: The region of the row.
        first_year, last_year: The years the growth was fitted over.
        percent_per_year: Growth per year in percent.
        ci_low, ci_high: Its 95 % confidence interval.
        landet_percent: Landet's growth per year, quoted for comparison (None or NaN: left out).

    Returns:
        :func:`trend_sentence` (relative), ending with "; landet: 2,1 % per år." when given.
    """
    sentence = trend_sentence(
        subject, place, first_year, last_year, percent_per_year, ci_low, ci_high, relative=True
    )
    if landet_percent is not None and not math.isnan(landet_percent):
        sentence = sentence[:-1] + f"; landet: {fmt_percent(landet_percent)} per år."
    return sentence


def barometer_sentence(place: str, marks: Sequence[tuple[str, str]]) -> str:
    """The barometer's finding: each indicator with its mark against landet.

    Args:
        place: The kommune's name.
        marks: ``(indicator label, mark)`` pairs, e.g. ``("Andel leide boliger", "over")``.

    Returns:
        E.g. "Siste år med tall for Asker: andel leide boliger over." or "" without marks.
    """
    if not marks:
        return ""
    parts = [f"{lower_first(label)} {mark}" for label, mark in marks]
    return f"Siste år med tall for {place}: {join_list(parts)}."
