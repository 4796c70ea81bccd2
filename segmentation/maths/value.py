"""Net customer value, A/B/C tiers, loyalty score and the recommended action."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ACTIONS",
    "CHURN_RISK_THRESHOLD",
    "DEFAULT_LOYALTY_WEIGHTS",
    "TENURE_SATURATION_DAYS",
    "TIER_A_SHARE",
    "TIER_B_SHARE",
    "loyalty_components",
    "loyalty_score",
    "net_value",
    "recommended_action",
    "value_tiers",
]

#: Share of customers (by net value, best first) in tier A, then tier B; the rest are C.
TIER_A_SHARE = 0.20
TIER_B_SHARE = 0.30

#: Tenure at which the tenure component of loyalty reaches its maximum (two years).
TENURE_SATURATION_DAYS = 730.0

#: Default weights of the loyalty blend (normalised by their sum, so only ratios matter).
#: "returning" (the chance to come back in the churn window) carries most of the weight:
#: the blend must rank who comes back at least as well as days-since-last-visit alone, and
#: repeat rate and tenure alone rank it worse (a long-standing regular who left keeps both).
DEFAULT_LOYALTY_WEIGHTS: dict[str, float] = {
    "returning": 0.70,
    "repeat": 0.15,
    "tenure": 0.05,
    "satisfaction": 0.10,
}

#: Churn risk (P(no purchase in the window)) at or above which a valuable customer needs
#: winning back.
CHURN_RISK_THRESHOLD = 0.5

#: (code, English label) of recommended actions.
ACTIONS: list[tuple[str, str]] = [
    ("care", "Care for them: valuable and loyal"),
    ("win_back", "Win them back: valuable but slipping away"),
    ("nurture", "Nurture: promising"),
    ("maintain", "Maintain with low-cost routines"),
    ("review_cost", "Review: cost to serve exceeds their value"),
]


def _f(a: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(a, dtype=np.float64)


def net_value(
    margin_so_far: ArrayLike, predicted_margin: ArrayLike, cost_to_serve: ArrayLike
) -> NDArray[np.float64]:
    """Customer delivered value: margin earned + predicted margin - cost to serve."""
    return _f(margin_so_far) + _f(predicted_margin) - _f(cost_to_serve)


def value_tiers(net_value: ArrayLike) -> NDArray[np.str_]:
    """'A' for the top 20 % by net value, 'B' for the next 30 %, 'C' for the rest.

    Counts are ceil(0.2 n) for A and ceil(0.5 n) - ceil(0.2 n) for B (so 1 customer -> A,
    2 -> A, C; 10 -> 2 A, 3 B, 5 C). Equal values are ordered by position (stable sort), so
    the result is deterministic. Non-finite values rank last (NaN) or by sign (+/-inf).
    """
    v = np.nan_to_num(_f(net_value).ravel(), nan=-np.inf)
    n = v.size
    out = np.full(n, "C", dtype="<U1")
    if n == 0:
        return out
    order = np.argsort(-v, kind="stable")
    # Integer arithmetic avoids 0.2 * n float surprises at the boundaries.
    n_a = (n * round(TIER_A_SHARE * 100) + 99) // 100
    n_ab = (n * round((TIER_A_SHARE + TIER_B_SHARE) * 100) + 99) // 100
    out[order[:n_a]] = "A"
    out[order[n_a:n_ab]] = "B"
    return out


def loyalty_components(
    repeat_rate: ArrayLike,
    tenure_days: ArrayLike,
    returning: ArrayLike,
    satisfaction: ArrayLike,
) -> dict[str, NDArray[np.float64]]:
    """The four loyalty components, each normalised to [0, 1]:

    * ``returning``: the chance to come back within the churn window (1 - churn risk);
    * ``repeat``: repeat transactions / transactions (x / (x + 1)), clipped to [0, 1];
    * ``tenure``: min(days since first purchase / 730, 1), so loyalty saturates at 2 years;
    * ``satisfaction``: feedback mapped to [0, 1] by the caller (e.g. NPS 0-10 / 10);
      NaN = no feedback -> neutral 0.5.
    Non-finite repeat/tenure/returning count as 0.
    """
    rep = np.clip(np.nan_to_num(_f(repeat_rate), nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    ten = np.nan_to_num(_f(tenure_days), nan=0.0, posinf=TENURE_SATURATION_DAYS, neginf=0.0)
    ten = np.clip(ten / TENURE_SATURATION_DAYS, 0.0, 1.0)
    ret = np.clip(np.nan_to_num(_f(returning), nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    sat = _f(satisfaction)
    sat = np.clip(np.where(np.isnan(sat), 0.5, sat), 0.0, 1.0)
    ret, rep, ten, sat = np.broadcast_arrays(ret, rep, ten, sat)
    return {"returning": ret, "repeat": rep, "tenure": ten, "satisfaction": sat}


def _weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    w = dict(DEFAULT_LOYALTY_WEIGHTS)
    if weights is not None:
        unknown = set(weights) - set(DEFAULT_LOYALTY_WEIGHTS)
        if unknown:
            raise ValueError(
                f"unknown loyalty weight(s): {sorted(unknown)}; "
                f"expected {sorted(DEFAULT_LOYALTY_WEIGHTS)}"
            )
        w.update({k: float(v) for k, v in weights.items()})
    if not all(np.isfinite(v) and v >= 0 for v in w.values()) or sum(w.values()) <= 0:
        raise ValueError("loyalty weights must be finite, >= 0 and not all zero")
    return w


def loyalty_score(
    repeat_rate: ArrayLike,
    tenure_days: ArrayLike,
    returning: ArrayLike,
    satisfaction: ArrayLike,
    weights: Mapping[str, float] | None = None,
) -> NDArray[np.float64]:
    """0-100 weighted mean of the components of :func:`loyalty_components`.

    ``weights`` (keys returning, repeat, tenure, satisfaction; missing keys take the default)
    are normalised by their sum, so the score is a transparent weighted average x 100.
    """
    w = _weights(weights)
    comp = loyalty_components(repeat_rate, tenure_days, returning, satisfaction)
    total = sum(w.values())
    score = sum(w[k] * comp[k] for k in DEFAULT_LOYALTY_WEIGHTS) / total
    return np.clip(100.0 * score, 0.0, 100.0)


def recommended_action(
    tier: ArrayLike,
    churn_risk: ArrayLike,
    net_value: ArrayLike,
    cost_to_serve: ArrayLike,
    churn_threshold: float = CHURN_RISK_THRESHOLD,
    has_purchased: ArrayLike | None = None,
) -> NDArray[np.str_]:
    """Action code per customer; rules applied in this order:

    1. ``review_cost`` if cost_to_serve > 0 and net_value < 0 (costs exceed all value);
    2. never purchased (``has_purchased`` False) -> ``maintain``: a lead has no value yet
       to care for or win back;
    3. tier A or B with churn_risk >= ``churn_threshold`` -> ``win_back``;
    4. tier A -> ``care``; tier B -> ``nurture``;
    5. tier C (anything else) -> ``maintain``.
    """
    t = np.asarray(tier).astype("<U1")
    risk = np.nan_to_num(_f(churn_risk), nan=1.0)
    nv = np.nan_to_num(_f(net_value), nan=0.0)
    cost = np.nan_to_num(_f(cost_to_serve), nan=0.0)
    bought = (
        np.ones(t.shape, dtype=np.bool_)
        if has_purchased is None
        else np.asarray(has_purchased, dtype=np.bool_)
    )
    t, risk, nv, cost, bought = np.broadcast_arrays(t, risk, nv, cost, bought)
    valuable = (t == "A") | (t == "B")
    conds = [
        (cost > 0) & (nv < 0),
        ~bought,
        valuable & (risk >= churn_threshold),
        t == "A",
        t == "B",
    ]
    choices = ["review_cost", "maintain", "win_back", "care", "nurture"]
    return np.select(conds, choices, default="maintain").astype("<U11")
