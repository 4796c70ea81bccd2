"""RFM scores (1-5 by rank percentile within the population) and named segments.

Scoring. Among customers with at least one purchase, each of recency (fewer days is
better), frequency and monetary is ranked with tie-averaged ranks; the percentile
``(rank - 0.5) / n`` lies in (0, 1) and the score is ``1 + floor(5 * percentile)``.
Ties always share a score, so nothing depends on input order; one customer, or a
population where everybody is equal, scores 3 (the middle). Customers with no purchase
get score 0 and segment ``"no_purchase"``.

Segment map (the common "R vs. FM" grid; FM = (F + M) / 2 rounded half up)::

            FM=1            FM=2                FM=3                FM=4        FM=5
    R=5     new             potential_loyalist  potential_loyalist  champions   champions
    R=4     promising       potential_loyalist  potential_loyalist  loyal       loyal
    R=3     about_to_sleep  about_to_sleep      need_attention      loyal       loyal
    R=2     hibernating     hibernating         at_risk             at_risk     cant_lose
    R=1     lost            lost                at_risk             at_risk     cant_lose
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "NO_PURCHASE",
    "SEGMENTS",
    "SEGMENT_GRID",
    "RFMScores",
    "percentile_scores",
    "rfm_scores",
    "rfm_segments",
]

NO_PURCHASE = "no_purchase"

#: (code, English label), in display order (best first).
SEGMENTS: list[tuple[str, str]] = [
    ("champions", "Champions"),
    ("loyal", "Loyal"),
    ("potential_loyalist", "Potential loyalist"),
    ("new", "New"),
    ("promising", "Promising"),
    ("need_attention", "Need attention"),
    ("about_to_sleep", "About to sleep"),
    ("at_risk", "At risk"),
    ("cant_lose", "Can't lose them"),
    ("hibernating", "Hibernating"),
    ("lost", "Lost"),
    (NO_PURCHASE, "No purchase yet"),
]

#: SEGMENT_GRID[R-1][FM-1] -> segment code (see module docstring).
SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    ("lost", "lost", "at_risk", "at_risk", "cant_lose"),  # R=1
    ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),  # R=2
    ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),  # R=3
    ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),  # R=4
    ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),  # R=5
)

_CODE_WIDTH = max(len(c) for c, _ in SEGMENTS)
# Row 0 / column 0 = score 0 (no purchase); rows/cols 1..5 = the grid.
_LOOKUP = np.full((6, 6), NO_PURCHASE, dtype=f"<U{_CODE_WIDTH}")
_LOOKUP[1:, 1:] = np.array(SEGMENT_GRID, dtype=f"<U{_CODE_WIDTH}")


def percentile_scores(values: ArrayLike, n_bins: int = 5) -> NDArray[np.int8]:
    """Scores 1..n_bins by tie-averaged rank percentile (higher value = higher score)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    if not np.isfinite(v).all():
        raise ValueError("RFM inputs must be finite")
    order = np.argsort(v, kind="stable")
    sv = v[order]
    starts_mask = np.empty(n, dtype=np.bool_)
    starts_mask[0] = True
    np.not_equal(sv[1:], sv[:-1], out=starts_mask[1:])
    starts = np.flatnonzero(starts_mask)
    ends = np.append(starts[1:], n)
    # Average 1-based rank of the tie group occupying sorted positions start..end-1.
    avg_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(n)
    ranks[order] = avg_rank[np.cumsum(starts_mask) - 1]
    pct = (ranks - 0.5) / n
    return np.clip(np.floor(pct * n_bins) + 1, 1, n_bins).astype(np.int8)


@dataclass(frozen=True)
class RFMScores:
    r: NDArray[np.int8]
    f: NDArray[np.int8]
    m: NDArray[np.int8]
    segment: NDArray[np.str_]


def rfm_scores(recency_days: ArrayLike, frequency: ArrayLike, monetary: ArrayLike) -> RFMScores:
    """R, F, M scores (0 for no purchase) and segment codes for one population.

    ``frequency`` is the number of purchases; customers with frequency <= 0 are left out
    of the ranking (their recency/monetary values are ignored) and get score 0.
    """
    rec = np.asarray(recency_days, dtype=np.float64).ravel()
    freq = np.asarray(frequency, dtype=np.float64).ravel()
    mon = np.asarray(monetary, dtype=np.float64).ravel()
    if not (rec.shape == freq.shape == mon.shape):
        raise ValueError("recency_days, frequency and monetary must have the same length")
    if not np.isfinite(freq).all():
        raise ValueError("frequency must be finite")
    buyers = freq > 0
    r = np.zeros(freq.size, dtype=np.int8)
    f = np.zeros(freq.size, dtype=np.int8)
    m = np.zeros(freq.size, dtype=np.int8)
    r[buyers] = percentile_scores(-rec[buyers])  # fewer days since purchase = better
    f[buyers] = percentile_scores(freq[buyers])
    m[buyers] = percentile_scores(mon[buyers])
    return RFMScores(r, f, m, rfm_segments(r, f, m))


def rfm_segments(r: ArrayLike, f: ArrayLike, m: ArrayLike) -> NDArray[np.str_]:
    """Map score triples to segment codes; any score 0 means ``"no_purchase"``."""
    ra = np.asarray(r, dtype=np.int64)
    fa = np.asarray(f, dtype=np.int64)
    ma = np.asarray(m, dtype=np.int64)
    for name, arr in (("r", ra), ("f", fa), ("m", ma)):
        if arr.size and (arr.min() < 0 or arr.max() > 5):
            raise ValueError(f"{name} scores must be in 0..5")
    # (F + M) / 2 rounded half up, in integers: (F + M + 1) // 2.
    fm = np.where((fa == 0) | (ma == 0), 0, (fa + ma + 1) // 2)
    return _LOOKUP[ra, fm]
