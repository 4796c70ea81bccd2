"""Month-of-year purchase pattern of one business, from its own history.

BG/NBD has no seasons: a shop whose next 90 days include December sells more than the
fitted rate says. With at least two years of history the classic ratio-to-moving-average
method gives twelve factors (mean 1): purchases (distinct customer-days) in each month
divided by the centred 12-month moving average around it, averaged per calendar month.
A window's factor is the mean of its days' month factors; expected purchases over the
window are scaled by it, and churn risk uses the window's effective length tau * factor
(the Poisson clock runs faster in a busy season).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["MIN_HISTORY_MONTHS", "month_factors", "window_factor"]

#: Whole months of history needed before seasonal factors are estimated.
MIN_HISTORY_MONTHS = 24
#: Factors are kept within [1/CLIP, CLIP]: a shop closed for a month must not zero a window.
CLIP = 3.0


def _month_index(day_numbers: NDArray[np.float64]) -> NDArray[np.int64]:
    """Months since 1970-01 for day numbers (days since 1970-01-01)."""
    return (
        day_numbers.astype(np.int64)
        .astype("datetime64[D]")
        .astype("datetime64[M]")
        .astype(np.int64)
    )


def month_factors(transaction_days: ArrayLike, as_of_day: float) -> NDArray[np.float64] | None:
    """Twelve factors (January first, mean 1), or None with less than two years of history.

    ``transaction_days`` are the day numbers of transactions (one per customer and day).
    Only whole months before the as-of day's month count (the current month is partial).
    """
    days = np.asarray(transaction_days, dtype=np.float64).ravel()
    days = days[days <= as_of_day]
    if days.size == 0:
        return None
    months = _month_index(days)
    last = int(_month_index(np.array([as_of_day]))[0]) - 1  # last whole month
    first = int(months.min())
    if last - first + 1 < MIN_HISTORY_MONTHS:
        return None
    counts = np.bincount(months[months <= last] - first, minlength=last - first + 1)
    counts = counts.astype(np.float64)
    # Centred 2x12 moving average: half weight on the two ends.
    kernel = np.r_[0.5, np.ones(11), 0.5] / 12.0
    cma = np.convolve(counts, kernel, mode="valid")  # aligned to months 6 .. len-7
    ratios = np.divide(counts[6 : 6 + cma.size], cma, out=np.full(cma.size, np.nan), where=cma > 0)
    cal = (np.arange(6, 6 + cma.size) + first) % 12  # calendar month 0 = January
    factors = np.ones(12)
    for m in range(12):
        r = ratios[(cal == m) & np.isfinite(ratios)]
        if r.size:
            factors[m] = r.mean()
    factors = np.clip(factors, 1.0 / CLIP, CLIP)
    return factors / factors.mean()


def window_factor(factors: ArrayLike | None, start_day: float, days: float) -> float:
    """Mean month factor over the days (start_day, start_day + days]; 1 without factors."""
    if factors is None or days <= 0:
        return 1.0
    f = np.asarray(factors, dtype=np.float64)
    window = start_day + 1.0 + np.arange(round(days), dtype=np.float64)
    cal = _month_index(window) % 12
    return float(f[cal].mean())
