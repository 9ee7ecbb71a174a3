"""Trend fits with uncertainty (ordinary least squares on year).

Two models:

* :func:`linear_trend` — ``verdi = a + b·år``; ``b`` is the change per year in the value's unit.
* :func:`loglinear_growth` — ``log(verdi) = a + b·år``; ``exp(b) − 1`` is growth per year in
  percent, which suits prices and counts that grow multiplicatively.

The fit is the textbook OLS that statsmodels' ``OLS(...).fit()`` computes (coefficients,
``conf_int``, ``get_prediction(...).conf_int``), done here with numpy and an exact Student-t
quantile: importing statsmodels pulls in scipy.stats, about 1.5 s per report kernel, which is most
of a notebook's run time in the batch of 357 kommuner × 5 analyses. ``tests/unit/test_trends.py``
checks the numbers against statsmodels itself.
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


# ------------------------------------------------------------------ Student t distribution
def _betacf(a: float, b: float, x: float) -> float:
    # Continued fraction for the incomplete beta function (modified Lentz), as in Numerical
    # Recipes §6.4; converges quickly for x < (a + 1) / (a + b + 2).
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """Upper tail probability P(T > t) of Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t (bisection on :func:`t_sf`; exact to ~1e-12)."""
    if not 0 < q < 1:
        raise ValueError("q må være mellom 0 og 1")
    if q == 0.5:
        return 0.0
    upper = q > 0.5
    p = 1.0 - q if upper else q
    lo, hi = 0.0, 1.0
    while t_sf(hi, df) > p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_sf(mid, df) > p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * max(1.0, hi):
            break
    value = (lo + hi) / 2.0
    return value if upper else -value


# ------------------------------------------------------------------------------------- OLS
@dataclass(frozen=True)
class _OLS:
    params: np.ndarray
    cov: np.ndarray
    df_resid: int

    def conf_int(self, alpha: float) -> np.ndarray:
        crit = t_ppf(1 - alpha / 2, self.df_resid)
        se = np.sqrt(np.diag(self.cov))
        return np.column_stack([self.params - crit * se, self.params + crit * se])

    def pvalue(self, i: int) -> float:
        se = math.sqrt(self.cov[i, i])
        if se == 0:
            return 0.0 if self.params[i] != 0 else math.nan
        return 2 * t_sf(abs(float(self.params[i]) / se), self.df_resid)

    def predict(self, design: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        mean = design @ self.params
        se = np.sqrt(np.einsum("ij,jk,ik->i", design, self.cov, design))
        crit = t_ppf(1 - alpha / 2, self.df_resid)
        return mean, np.column_stack([mean - crit * se, mean + crit * se])


def _fit(x: np.ndarray, y: np.ndarray) -> _OLS:
    design = np.column_stack([np.ones_like(x), x])
    params, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ params
    df_resid = len(y) - 2
    sigma2 = float(resid @ resid) / df_resid
    cov = sigma2 * np.linalg.inv(design.T @ design)
    return _OLS(params=params, cov=cov, df_resid=df_resid)


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
