"""How far to trust a prediction: calibration per decile, AUC, Brier score (numpy only)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["auc", "brier", "deciles"]


def auc(score: ArrayLike, positive: ArrayLike) -> float | None:
    """Area under the ROC curve: the chance a random positive scores above a random
    negative (ties count half; Mann-Whitney with average ranks). None if one class is empty."""
    s = np.asarray(score, dtype=np.float64).ravel()
    y = np.asarray(positive, dtype=np.bool_).ravel()
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def brier(probability: ArrayLike, outcome: ArrayLike) -> float | None:
    """Mean squared difference between a predicted probability and what happened (0/1)."""
    p = np.asarray(probability, dtype=np.float64).ravel()
    y = np.asarray(outcome, dtype=np.float64).ravel()
    if p.size == 0:
        return None
    return float(np.mean((p - y) ** 2))


def deciles(predicted: ArrayLike, actual: ArrayLike, groups: int = 10) -> list[dict]:
    """Customers sorted by prediction and cut into ``groups`` equal-size groups (stable, so
    ties keep their order): per group the count and mean predicted vs mean actual."""
    p = np.asarray(predicted, dtype=np.float64).ravel()
    a = np.asarray(actual, dtype=np.float64).ravel()
    if p.size == 0:
        return []
    order = np.argsort(p, kind="stable")
    out = []
    for i, part in enumerate(np.array_split(order, min(groups, p.size)), 1):
        out.append(
            {
                "decile": i,
                "customers": int(part.size),
                "predicted": float(p[part].mean()),
                "actual": float(a[part].mean()),
            }
        )
    return out
