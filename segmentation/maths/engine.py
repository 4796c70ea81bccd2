"""score_population: every customer-value number for one business, as of one day.

Pure numpy/scipy; the caller (a Celery task) loads arrays from the database and writes
the results back. Units: the API takes and returns DAYS; BG/NBD is fitted in WEEKS
(days / 7) internally for numerical conditioning, so fitted/fallback ``alpha`` is in weeks.

Customers who never purchased (index < n_customers but no transaction up to as-of),
i.e. leads, get: recency_days = -1 ("never"), frequency 0, all money 0, R/F/M scores 0,
segment ``"no_purchase"``, p_alive 0 and churn_risk 1 (nothing shows an active buying
relationship, and it keeps leads out of "loyal" lists: their loyalty score is only the
satisfaction part), expected purchases and predicted value 0, net value = -cost to serve,
and action ``maintain`` (or ``review_cost`` if serving them already costs money). The UI
should say "never purchased" based on recency_days == -1 / the segment, not show "100 %
churn risk".

Churn risk is P(no purchase in the next ``expected_window_days``) from the purchase model
(:func:`bgnbd.p_no_purchase`), not 1 - P(alive) (which is 0 for every one-time buyer);
P(alive) is kept beside it. Segments agree with it: a customer the RFM grid calls
"hibernating" or "lost" whose churn risk is under 50 % is shown as "about_to_sleep" (the
model expects them back: they buy often enough that the silence is not yet unusual).

Warnings are ``{"code": ..., "params": {...}}`` dicts (see ``WARNING_CODES``): the caller
translates them for people; nothing parses prose.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import bgnbd, gammagamma, seasonality
from .bgnbd import DEFAULT_PRIOR, BGNBDFit, BGNBDParams
from .calibration import brier
from .gammagamma import DEFAULT_GG_PRIOR, GammaGammaFit, GammaGammaParams
from .rfm import rfm_scores
from .summary import summarize_transactions, to_day_numbers
from .value import CHURN_RISK_THRESHOLD, loyalty_score, recommended_action, value_tiers

__all__ = [
    "MIN_REPEAT_CUSTOMERS",
    "MODELS",
    "MONEY_LIMIT",
    "WARNING_CODES",
    "PopulationScores",
    "score_population",
]

#: Fewer customers with a repeat purchase than this -> use fallback parameters.
MIN_REPEAT_CUSTOMERS = 20
_WEEK = 7.0
#: Purchase models: BG/NBD, MBG/NBD, or "auto" (the one with the better Brier score of
#: churn risk when this business's own last window is held out and predicted).
MODELS = ("bgnbd", "mbgnbd", "auto")
#: Money outputs are clipped to +/- this (the database columns hold 14 digits + cents).
MONEY_LIMIT = 99_999_999_999_999.0
#: Segments that say "gone"; with churn risk under this they read "about to sleep".
_GONE_SEGMENTS = ("hibernating", "lost")
_AGREEMENT_RISK = 0.5

#: Every warning code the engine emits, with its parameters.
WARNING_CODES: dict[str, tuple[str, ...]] = {
    "ignored_after_as_of": ("n",),
    "never_purchased": ("n",),
    "purchase_model_fallback_few_repeaters": ("n", "need"),
    "purchase_model_on_bound": ("parameters",),
    "purchase_model_fit_failed": ("reason",),
    "spend_model_fallback_few_repeaters": ("n", "need"),
    "spend_model_on_bound": ("parameters",),
    "spend_model_fit_failed": ("reason",),
    "money_clipped": ("n", "field"),
    "non_finite_replaced": ("n", "field"),
    "segment_softened": ("n",),
}


def _warning(code: str, **params: object) -> dict:
    assert set(params) == set(WARNING_CODES[code]), code  # noqa: S101 (programming error)
    return {"code": code, "params": params}


@dataclass
class PopulationScores:
    """Per-customer arrays (length n_customers, no NaN/inf) plus fit information."""

    recency_days: NDArray[np.int64]  # days since last purchase; -1 = never purchased
    frequency: NDArray[np.int64]  # purchases (distinct purchase days)
    monetary: NDArray[np.float64]  # average spend per purchase
    total_spent: NDArray[np.float64]
    margin_so_far: NDArray[np.float64]
    margin_rate: NDArray[np.float64]  # margin / spend used for predictions
    tenure_days: NDArray[np.int64]  # days since first purchase (0 if never)
    r_score: NDArray[np.int8]
    f_score: NDArray[np.int8]
    m_score: NDArray[np.int8]
    rfm_segment: NDArray[np.str_]
    p_alive: NDArray[np.float64]
    churn_risk: NDArray[np.float64]  # P(no purchase in the next window)
    expected_purchases_90d: NDArray[np.float64]  # over the window (season-scaled)
    expected_order_value: NDArray[np.float64]  # Gamma-Gamma expected spend per purchase
    predicted_clv: NDArray[np.float64]  # discounted predicted MARGIN over the horizon
    net_value: NDArray[np.float64]
    value_tier: NDArray[np.str_]
    loyalty_score: NDArray[np.float64]
    action: NDArray[np.str_]
    value_at_stake: NDArray[np.float64]  # predicted value x churn risk
    bgnbd_params: BGNBDParams
    gg_params: GammaGammaParams
    bgnbd_fitted: bool  # False -> fallback parameters were used
    gg_fitted: bool
    bgnbd_fit: BGNBDFit | None  # the attempted fit, if any (for the run record)
    gg_fit: GammaGammaFit | None
    n_customers: int
    n_with_purchases: int
    n_repeat_customers: int
    model: str = "bgnbd"  # the purchase model used: "bgnbd" or "mbgnbd"
    model_choice: dict = field(default_factory=dict)  # "auto": the held-out comparison
    window_days: float = 90.0
    month_factors: list[float] | None = None  # seasonality, January first; None = none
    season_factor: float = 1.0  # applied to the window
    warnings: list[dict] = field(default_factory=list)

    ARRAY_FIELDS: ClassVar[tuple[str, ...]] = (
        "recency_days",
        "frequency",
        "monetary",
        "total_spent",
        "margin_so_far",
        "margin_rate",
        "tenure_days",
        "r_score",
        "f_score",
        "m_score",
        "rfm_segment",
        "p_alive",
        "churn_risk",
        "expected_purchases_90d",
        "expected_order_value",
        "predicted_clv",
        "net_value",
        "value_tier",
        "loyalty_score",
        "action",
        "value_at_stake",
    )

    def arrays(self) -> dict[str, NDArray[np.generic]]:
        return {name: getattr(self, name) for name in self.ARRAY_FIELDS}


def _per_customer(values: ArrayLike | None, n: int, default: float, name: str) -> NDArray:
    if values is None:
        return np.full(n, default)
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 1 and n != 1:
        arr = np.full(n, arr[0])
    if arr.size != n:
        raise ValueError(f"{name} must have one value per customer ({n}), got {arr.size}")
    return arr


def score_population(
    customer_idx: ArrayLike,
    day: ArrayLike,
    amount: ArrayLike,
    margin: ArrayLike | None = None,
    *,
    n_customers: int,
    as_of: float | np.datetime64 | _dt.date,
    cost_to_serve: ArrayLike | None = None,
    satisfaction: ArrayLike | None = None,
    horizon_months: int = 12,
    discount_rate_annual: float = 0.10,
    default_margin_rate: float = 1.0,
    loyalty_weights: Mapping[str, float] | None = None,
    fallback_bgnbd: BGNBDParams = DEFAULT_PRIOR,
    fallback_gg: GammaGammaParams | None = None,
    min_repeat_customers: int = MIN_REPEAT_CUSTOMERS,
    churn_threshold: float = CHURN_RISK_THRESHOLD,
    expected_window_days: float = 90.0,
    penalizer: float = 0.0,
    model: str = "bgnbd",
    seasonal: bool = True,
) -> PopulationScores:
    """Score all ``n_customers`` customers of one business as of ``as_of``.

    Transactions: ``customer_idx`` (0..n_customers-1), ``day`` (day numbers or
    datetime64), ``amount`` (spend) and optional ``margin`` (profit money per transaction,
    NaN = unknown). Unknown margins are ``default_margin_rate * amount`` (1.0 = revenue,
    when the business has not told us its margin). Each customer's predicted value uses
    their own known margin rate (clipped to [-1, 1]), else the default rate.

    ``cost_to_serve`` (money, per customer; NaN -> 0) and ``satisfaction`` (0..1 per
    customer, NaN = unknown -> neutral). ``fallback_bgnbd`` is used when fewer than
    ``min_repeat_customers`` customers bought twice, or the fit fails; ``fallback_gg``
    likewise (default: the CDNOW prior's shape with v rescaled so its mean order value is
    this business's mean order value, making it currency-free). Warnings say which.

    ``expected_window_days`` is the churn window tau: churn risk is P(no purchase in it)
    and expected purchases are counted over it. ``model`` is one of :data:`MODELS`.
    ``seasonal``: with >= 2 years of history, scale the window by the shop's month pattern.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    warnings: list[dict] = []
    n = int(n_customers)
    if n < 0:
        raise ValueError("n_customers must be >= 0")
    if horizon_months < 0 or min_repeat_customers < 0 or expected_window_days < 0:
        raise ValueError("horizon_months, min_repeat_customers, expected_window_days >= 0")
    if not np.isfinite(default_margin_rate):
        raise ValueError("default_margin_rate must be finite")
    days = to_day_numbers(day).ravel()
    idx = np.asarray(customer_idx).ravel().astype(np.int64)
    amt = np.asarray(amount, dtype=np.float64).ravel()
    as_of_day = float(to_day_numbers(as_of))
    summ = summarize_transactions(idx, days, amt, as_of_day, n_customers=n, time_unit="weeks")
    if summ.n_ignored_after_as_of:
        warnings.append(_warning("ignored_after_as_of", n=summ.n_ignored_after_as_of))

    has = summ.has_purchase
    x, t_x, big_t = summ.frequency, summ.recency, summ.T
    n_buyers = int(has.sum())
    n_repeat = int((x > 0).sum())
    if n_buyers < n:
        warnings.append(_warning("never_purchased", n=n - n_buyers))

    # --- margins -----------------------------------------------------------------------
    keep = days <= as_of_day
    kidx, kamt = idx[keep], amt[keep]
    if margin is None:
        kmar = np.full(kamt.size, np.nan)
    else:
        mar_all = np.asarray(margin, dtype=np.float64).ravel()
        if mar_all.shape != amt.shape:
            raise ValueError("margin must have one value per transaction")
        kmar = mar_all[keep]
    known = np.isfinite(kmar)
    known_margin = np.bincount(kidx[known], weights=kmar[known], minlength=n)
    known_amount = np.bincount(kidx[known], weights=kamt[known], minlength=n)
    unknown_amount = np.bincount(kidx[~known], weights=kamt[~known], minlength=n)
    margin_so_far = known_margin + default_margin_rate * unknown_amount
    margin_rate = np.divide(
        known_margin, known_amount, out=np.full(n, default_margin_rate), where=known_amount > 0
    )
    margin_rate = np.clip(margin_rate, -1.0, 1.0)

    # --- purchase model (BG/NBD or MBG/NBD) ---------------------------------------------
    need = max(min_repeat_customers, 1)
    model_choice: dict = {}
    if model == "auto":
        model, model_choice = _choose_model(
            idx, days, amt, n, as_of_day, expected_window_days, need, penalizer
        )
    modified = model == "mbgnbd"
    bg_fit: BGNBDFit | None = None
    bg_params = fallback_bgnbd
    bg_fitted = False
    if n_repeat < need:
        warnings.append(_warning("purchase_model_fallback_few_repeaters", n=n_repeat, need=need))
    else:
        bg_fit = bgnbd.fit(x[has], t_x[has], big_t[has], penalizer=penalizer, modified=modified)
        if bg_fit.converged:
            bg_params, bg_fitted = bg_fit.params, True
            if bg_fit.on_bound:
                warnings.append(
                    _warning("purchase_model_on_bound", parameters=", ".join(bg_fit.on_bound))
                )
        else:
            warnings.append(_warning("purchase_model_fit_failed", reason=bg_fit.message))

    # Seasonality: the window's share of a typical year's purchases, from this shop's history.
    factors = None
    season = 1.0
    if seasonal and n_buyers:
        # One transaction per customer and day, as everywhere else.
        kday = days[keep].astype(np.int64)
        d0 = int(kday.min())
        span = int(kday.max()) - d0 + 1
        key = np.sort(kidx * span + (kday - d0))  # np.unique hashes: 40x slower at 1M
        key = key[np.r_[True, key[1:] != key[:-1]]] if key.size else key
        tx_days = key % span + float(d0)
        factors = seasonality.month_factors(tx_days, as_of_day)
        season = seasonality.window_factor(factors, as_of_day, expected_window_days)
    window_weeks = expected_window_days / _WEEK

    p_al = np.zeros(n)
    exp90 = np.zeros(n)
    churn = np.ones(n)
    if n_buyers:
        args = (x[has], t_x[has], big_t[has])
        p_al[has] = bgnbd.p_alive(bg_params, *args, modified=modified)
        exp90[has] = season * bgnbd.expected_purchases(
            bg_params, window_weeks, *args, modified=modified
        )
        churn[has] = bgnbd.p_no_purchase(bg_params, window_weeks * season, *args, modified=modified)

    # --- Gamma-Gamma and CLV -----------------------------------------------------------
    m_rep = summ.monetary_value
    gg_ok = has & (x > 0) & (m_rep > 0)
    gg_fit: GammaGammaFit | None = None
    gg_fitted = False
    n_tx_total = int(summ.n_transactions.sum())
    mean_order = float(summ.total_spent.sum() / n_tx_total) if n_tx_total else 0.0
    if fallback_gg is None:
        p0, q0, v0 = DEFAULT_GG_PRIOR.as_tuple()
        # Same shape as the prior, mean order value = this business's (currency-free).
        v_fb = mean_order * (q0 - 1.0) / p0 if mean_order > 0 else v0
        gg_params = GammaGammaParams(p0, q0, v_fb)
    else:
        gg_params = fallback_gg
    n_gg = int(gg_ok.sum())
    if n_gg < max(min_repeat_customers, 2):
        warnings.append(
            _warning(
                "spend_model_fallback_few_repeaters", n=n_gg, need=max(min_repeat_customers, 2)
            )
        )
    else:
        gg_fit = gammagamma.fit(x[gg_ok], m_rep[gg_ok], penalizer=penalizer)
        if gg_fit.converged and gg_fit.q > 1.0:
            gg_params, gg_fitted = gg_fit.params, True
            if gg_fit.on_bound:
                warnings.append(
                    _warning("spend_model_on_bound", parameters=", ".join(gg_fit.on_bound))
                )
        else:
            why = gg_fit.message if not gg_fit.converged else "q <= 1 (no finite mean spend)"
            warnings.append(_warning("spend_model_fit_failed", reason=why))

    exp_order = np.zeros(n)
    clv = np.zeros(n)
    if n_buyers:
        exp_order[has] = gammagamma.conditional_expected_average_profit(
            gg_params, x[has], m_rep[has]
        )
        clv[has] = gammagamma.customer_lifetime_value(
            bg_params,
            gg_params,
            x[has],
            t_x[has],
            big_t[has],
            m_rep[has],
            horizon_months=horizon_months,
            discount_rate_annual=discount_rate_annual,
            margin=margin_rate[has],
            time_unit_days=_WEEK,
        )

    # --- value, loyalty, action --------------------------------------------------------
    cost = _per_customer(cost_to_serve, n, 0.0, "cost_to_serve")
    if not np.isfinite(cost).all():
        warnings.append(
            _warning("non_finite_replaced", n=int((~np.isfinite(cost)).sum()), field="cost")
        )
        cost = np.nan_to_num(cost, nan=0.0, posinf=0.0, neginf=0.0)
    sat = _per_customer(satisfaction, n, np.nan, "satisfaction")
    net = margin_so_far + clv - cost
    tiers = value_tiers(net)
    tenure_days = np.where(has, as_of_day - np.nan_to_num(summ.first_day), 0.0)
    repeat_rate = np.where(has, x / (x + 1.0), 0.0)
    loyal = loyalty_score(repeat_rate, tenure_days, 1.0 - churn, sat, loyalty_weights)
    action = recommended_action(
        tiers, churn, net, cost, churn_threshold=churn_threshold, has_purchased=has
    )
    at_stake = np.maximum(clv, 0.0) * churn

    # --- RFM ---------------------------------------------------------------------------
    n_tx = summ.n_transactions
    recency_days = np.where(has, as_of_day - np.nan_to_num(summ.last_day), -1.0)
    monetary = np.divide(summ.total_spent, n_tx, out=np.zeros(n), where=n_tx > 0)
    rfm = rfm_scores(np.maximum(recency_days, 0.0), n_tx, monetary)
    segment = rfm.segment.copy()
    soften = np.isin(segment, _GONE_SEGMENTS) & (churn < _AGREEMENT_RISK) & has
    if soften.any():
        segment[soften] = "about_to_sleep"
        warnings.append(_warning("segment_softened", n=int(soften.sum())))

    result = PopulationScores(
        recency_days=recency_days.astype(np.int64),
        frequency=n_tx.astype(np.int64),
        monetary=monetary,
        total_spent=summ.total_spent,
        margin_so_far=margin_so_far,
        margin_rate=margin_rate,
        tenure_days=tenure_days.astype(np.int64),
        r_score=rfm.r,
        f_score=rfm.f,
        m_score=rfm.m,
        rfm_segment=segment,
        p_alive=p_al,
        churn_risk=churn,
        expected_purchases_90d=exp90,
        expected_order_value=exp_order,
        predicted_clv=clv,
        net_value=net,
        value_tier=tiers,
        loyalty_score=loyal,
        action=action,
        value_at_stake=at_stake,
        bgnbd_params=bg_params,
        gg_params=gg_params,
        bgnbd_fitted=bg_fitted,
        gg_fitted=gg_fitted,
        bgnbd_fit=bg_fit,
        gg_fit=gg_fit,
        n_customers=n,
        n_with_purchases=n_buyers,
        n_repeat_customers=n_repeat,
        model=model,
        model_choice=model_choice,
        window_days=float(expected_window_days),
        month_factors=None if factors is None else [round(float(f), 4) for f in factors],
        season_factor=round(float(season), 4),
        warnings=warnings,
    )
    # Last line of defence: the database and the UI must never see NaN/inf.
    for name in PopulationScores.ARRAY_FIELDS:
        arr = getattr(result, name)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).sum())
            warnings.append(_warning("non_finite_replaced", n=bad, field=name))
            arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
            setattr(result, name, arr)
        # One odd customer (a till typo summed 100,000 times) must not fail the whole run:
        # clip money to what the columns hold, and say so.
        if name in _MONEY_FIELDS:
            over = np.abs(arr) > MONEY_LIMIT
            if over.any():
                warnings.append(_warning("money_clipped", n=int(over.sum()), field=name))
                setattr(result, name, np.clip(arr, -MONEY_LIMIT, MONEY_LIMIT))
    return result


_MONEY_FIELDS = frozenset(
    (
        "monetary",
        "total_spent",
        "margin_so_far",
        "expected_order_value",
        "predicted_clv",
        "net_value",
        "value_at_stake",
    )
)


def _choose_model(
    idx: NDArray[np.int64],
    days: NDArray[np.float64],
    amt: NDArray[np.float64],
    n: int,
    as_of_day: float,
    window_days: float,
    need: int,
    penalizer: float,
) -> tuple[str, dict]:
    """Hold out this shop's last window: fit both models on the history before it and
    keep the one whose churn risk has the lower Brier score for what then happened
    (BG/NBD on a tie, or when the history before the window is too thin to fit)."""
    split = as_of_day - window_days
    early = summarize_transactions(idx, days, amt, split, n_customers=n, time_unit="weeks")
    has = early.has_purchase
    if int((early.frequency > 0).sum()) < need:
        return "bgnbd", {"chosen": "bgnbd", "reason": "too_little_history"}
    later = (days > split) & (days <= as_of_day)
    came_back = np.zeros(n, dtype=np.bool_)
    came_back[idx[later]] = True
    args = (early.frequency[has], early.recency[has], early.T[has])
    scores: dict[str, float | None] = {}
    for name in ("bgnbd", "mbgnbd"):
        fit = bgnbd.fit(*args, penalizer=penalizer, modified=name == "mbgnbd")
        if not fit.converged:
            scores[name] = None
            continue
        risk = bgnbd.p_no_purchase(
            fit.params, window_days / _WEEK, *args, modified=name == "mbgnbd"
        )
        scores[name] = round(float(brier(risk, ~came_back[has])), 6)
    b, m = scores["bgnbd"], scores["mbgnbd"]
    chosen = "mbgnbd" if (m is not None and (b is None or m < b)) else "bgnbd"
    return chosen, {"chosen": chosen, "reason": "held_out_brier", "brier": scores}
