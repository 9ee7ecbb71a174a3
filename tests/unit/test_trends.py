"""Trend fits: statsmodels OLS on the centred year; gaps are skipped, not zero."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from boso import trends

sm = pytest.importorskip("statsmodels.api")


def _statsmodels_fit(series: pd.Series):
    s = series.dropna()
    x = s.index.to_numpy(dtype=float)
    design = sm.add_constant(x - x.mean())
    return sm.OLS(s.to_numpy(), design).fit(), design


def test_linear_trend_equals_statsmodels_and_skips_missing_years() -> None:
    values = pd.Series(
        [2.1, 2.0, np.nan, 2.1, 2.1, 1.7, 1.0, 1.4, 1.4, 1.1, 1.0],
        index=range(2010, 2021),
    )
    fit = trends.linear_trend(values)
    ref, design = _statsmodels_fit(values)
    assert fit is not None and fit.n == 10  # 2012 left out, not counted as zero
    assert fit.slope == pytest.approx(ref.params[1], rel=1e-12)
    assert (fit.ci_low, fit.ci_high) == pytest.approx(tuple(ref.conf_int(0.05)[1]), rel=1e-9)
    assert fit.p_value == pytest.approx(ref.pvalues[1], rel=1e-6)
    # Confidence band of the fitted mean equals statsmodels' get_prediction().conf_int().
    band = ref.get_prediction(design).conf_int(alpha=0.05)
    fitted = fit.fitted.set_index("aar").drop(index=2012)
    assert fitted["nedre"].to_numpy() == pytest.approx(band[:, 0], rel=1e-9)
    assert fitted["ovre"].to_numpy() == pytest.approx(band[:, 1], rel=1e-9)
    assert fit.significant and fit.slope < 0
    # A zero where the gap was would change the slope: the NaN really was skipped.
    zeroed = trends.linear_trend(values.fillna(0))
    assert zeroed is not None and zeroed.slope != pytest.approx(fit.slope)


def test_linear_trend_accepts_rows_and_needs_three_points() -> None:
    rows = pd.DataFrame({"aar": [2020, 2021, 2022], "verdi": [1.0, 2.0, 3.5]})
    fit = trends.linear_trend(rows)
    assert fit is not None and fit.slope == pytest.approx(1.25)
    assert trends.linear_trend(rows.iloc[:2]) is None
    assert trends.linear_trend(pd.Series([1.0, np.nan, np.nan], index=[1, 2, 3])) is None


def test_loglinear_growth_recovers_growth_rate() -> None:
    exact = pd.Series([100 * 1.03**i for i in range(12)], index=range(2010, 2022))
    fit = trends.loglinear_growth(exact)
    assert fit is not None and fit.relative
    assert fit.slope == pytest.approx(3.0, rel=1e-9)
    assert fit.ci_low == pytest.approx(3.0, abs=1e-6) and fit.ci_high == pytest.approx(
        3.0, abs=1e-6
    )
    noisy = exact * np.array([1.02, 0.97, 1.01, 1.0, 0.98, 1.03, 0.99, 1.0, 1.02, 0.97, 1.0, 1.01])
    fit = trends.loglinear_growth(noisy)
    ref, _ = _statsmodels_fit(np.log(noisy))
    assert fit.slope == pytest.approx((math.exp(ref.params[1]) - 1) * 100, rel=1e-9)
    low, high = ref.conf_int(0.05)[1]
    assert fit.ci_low == pytest.approx((math.exp(low) - 1) * 100, rel=1e-9)
    assert fit.ci_high == pytest.approx((math.exp(high) - 1) * 100, rel=1e-9)
    assert fit.fitted["trend"].iloc[0] > 0


def test_loglinear_growth_ignores_non_positive_values() -> None:
    values = pd.Series([0.0, 100.0, 110.0, 121.0, -5.0], index=range(2018, 2023))
    fit = trends.loglinear_growth(values)
    assert fit is not None and fit.n == 3 and fit.slope == pytest.approx(10.0)


def test_growth_by_region_per_dimension() -> None:
    rows = []
    for region, rate in (("Asker", 1.05), ("Landet", 1.02)):
        for boligtype in ("Eneboliger", "Småhus"):
            for i, year in enumerate(range(2015, 2021)):
                value = np.nan if (region, boligtype, year) == ("Asker", "Småhus", 2016) else 100
                rows.append((region, boligtype, year, value * rate**i))
    df = pd.DataFrame(rows, columns=["sammenligning", "boligtype_navn", "aar", "verdi"])
    result = trends.growth_by_region(df, by=["boligtype_navn"])
    assert list(result.columns[:2]) == ["boligtype_navn", "Område"]
    asker = result.loc[result["Område"] == "Asker"].set_index("boligtype_navn")
    assert asker.loc["Eneboliger", "Vekst per år (%)"] == pytest.approx(5.0)
    assert asker.loc["Småhus", "Antall år"] == 5
    landet = result.loc[result["Område"] == "Landet", "Vekst per år (%)"]
    assert landet.to_numpy() == pytest.approx([2.0, 2.0])


def test_importing_trends_does_not_import_statsmodels() -> None:
    # statsmodels is imported on the first fit, so notebooks without a trend do not pay for it.
    code = (
        "import sys; from boso import trends; "
        "print(any(m.startswith(('statsmodels', 'scipy')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
