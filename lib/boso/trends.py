"""Trend fits with uncertainty (ordinary least squares on year).

Two models:

* :func:`linear_trend` — ``verdi = a + b·år``; ``b`` is the change per year in the value's unit.
* :func:`loglinear_growth` — ``log(verdi) = a + b·år``; ``exp(b) − 1`` is growth per year in
  percent, which suits prices and counts that grow multiplicatively.

Both are statsmodels ``OLS(...).fit()`` on the centred year, with the 95 % confidence interval
of the slope (``conf_int``) and of the fitted mean (``get_prediction(...).conf_int``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MIN_POINTS = 3  # fewer points give no usable confidence interval


@dataclass(frozen=True)
class TrendFit:
    """A fitted trend: slope per year with a 95 % confidence interval, plus fitted values.

    ``slope``/``ci_low``/``ci_high`` are in the value's unit per year (linear) or percent per
    year (log-linear, ``relative=True``). ``fitted`` has columns ``aar, trend, nedre, ovre``
    (the fitted mean and its 95 % confidence band, back-transformed for log-linear fits).
    """

    slope: float
    ci_low: float
    ci_high: float
    first_year: int
    last_year: int
    n: int
    relative: bool
    p_value: float
    fitted: pd.DataFrame = field(repr=False)

    @property
    def significant(self) -> bool:
        """True when the 95 % interval excludes zero."""
        return self.ci_low > 0 or self.ci_high < 0


def _prepare(values: pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        values = values.set_index("aar")["verdi"]
    s = pd.to_numeric(values, errors="coerce").astype(float)
    s.index = s.index.astype(int)
    return s.dropna().sort_index()


# ------------------------------------------------------------------------------------- OLS
@dataclass(frozen=True)
class _OLS:
    """The parts of a statsmodels OLS result the trend functions use."""

    result: object

    @property
    def params(self) -> np.ndarray:
        return np.asarray(self.result.params)

    def conf_int(self, alpha: float) -> np.ndarray:
        return np.asarray(self.result.conf_int(alpha=alpha))

    def pvalue(self, i: int) -> float:
        return float(np.asarray(self.result.pvalues)[i])

    def predict(self, design: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        prediction = self.result.get_prediction(design)
        return np.asarray(prediction.predicted_mean), np.asarray(prediction.conf_int(alpha=alpha))


def _fit(x: np.ndarray, y: np.ndarray) -> _OLS:
    # Imported on the first fit, not with boso.trends: statsmodels (with scipy.stats) takes
    # seconds to import, and the batch runner's warm kernels then pay it once per worker.
    from statsmodels.regression.linear_model import OLS

    design = np.column_stack([np.ones_like(x), x])
    return _OLS(OLS(y, design).fit())


def linear_trend(values: pd.Series | pd.DataFrame, alpha: float = 0.05) -> TrendFit | None:
    """Fit ``verdi = a + b·år`` by OLS; missing/suppressed years are left out, not zero.

    Args:
        values: Year-indexed series, or rows with ``aar`` and ``verdi``.
        alpha: 1 − confidence level.

    Returns:
        The fit, or None with fewer than three values.
    """
    s = _prepare(values)
    if len(s) < MIN_POINTS:
        return None
    x = s.index.to_numpy(dtype=float)
    # Centre the years: same slope, better-conditioned design matrix.
    x0 = x.mean()
    res = _fit(x - x0, s.to_numpy())
    low, high = res.conf_int(alpha)[1]
    grid = np.arange(int(x.min()), int(x.max()) + 1, dtype=float)
    mean, band = res.predict(np.column_stack([np.ones_like(grid), grid - x0]), alpha)
    fitted = pd.DataFrame(
        {
            "aar": grid.astype(int),
            "trend": mean,
            "nedre": band[:, 0],
            "ovre": band[:, 1],
        }
    )
    return TrendFit(
        slope=float(res.params[1]),
        ci_low=float(low),
        ci_high=float(high),
        first_year=int(x.min()),
        last_year=int(x.max()),
        n=len(s),
        relative=False,
        p_value=res.pvalue(1),
        fitted=fitted,
    )


def loglinear_growth(values: pd.Series | pd.DataFrame, alpha: float = 0.05) -> TrendFit | None:
    """Fit ``log(verdi) = a + b·år``; growth per year = ``exp(b) − 1`` in percent.

    Non-positive values cannot be logged and are left out.

    Returns:
        The fit (``relative=True``), or None with fewer than three positive values.
    """
    s = _prepare(values)
    s = s.loc[s > 0]
    if len(s) < MIN_POINTS:
        return None
    x = s.index.to_numpy(dtype=float)
    x0 = x.mean()
    res = _fit(x - x0, np.log(s.to_numpy()))
    low, high = res.conf_int(alpha)[1]
    grid = np.arange(int(x.min()), int(x.max()) + 1, dtype=float)
    mean, band = res.predict(np.column_stack([np.ones_like(grid), grid - x0]), alpha)
    fitted = pd.DataFrame(
        {
            "aar": grid.astype(int),
            "trend": np.exp(mean),
            "nedre": np.exp(band[:, 0]),
            "ovre": np.exp(band[:, 1]),
        }
    )

    def pct(b: float) -> float:
        return (math.exp(b) - 1) * 100

    return TrendFit(
        slope=pct(float(res.params[1])),
        ci_low=pct(float(low)),
        ci_high=pct(float(high)),
        first_year=int(x.min()),
        last_year=int(x.max()),
        n=len(s),
        relative=True,
        p_value=res.pvalue(1),
        fitted=fitted,
    )


def growth_by_region(df: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Log-linear growth per year with 95 % CI for each comparison region (and dimension).

    Args:
        df: Comparison rows (``sammenligning``, ``aar``, ``verdi``; optional dimension columns).
        by: Extra grouping columns, e.g. ``["boligtype_navn"]``.

    Returns:
        One row per group: the group columns, ``Fra``, ``Til``, ``Antall år``, ``Vekst per år
        (%)``, ``Nedre (95 %)``, ``Øvre (95 %)``. Groups with too few values get NaN.
    """
    keys = [*(by or []), "sammenligning"]
    rows = []
    for key, part in df.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        fit = loglinear_growth(part[["aar", "verdi"]])
        row = dict(zip(keys, key, strict=True))
        row.update(
            {
                "Fra": fit.first_year if fit else None,
                "Til": fit.last_year if fit else None,
                "Antall år": fit.n if fit else 0,
                "Vekst per år (%)": fit.slope if fit else math.nan,
                "Nedre (95 %)": fit.ci_low if fit else math.nan,
                "Øvre (95 %)": fit.ci_high if fit else math.nan,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows).rename(columns={"sammenligning": "Område"})
