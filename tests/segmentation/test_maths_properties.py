"""Property and edge-case tests for segmentation.maths (no Django needed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from segmentation.maths import (
    ACTIONS,
    DEFAULT_PRIOR,
    SEGMENTS,
    BGNBDParams,
    PopulationScores,
    bgnbd_log_likelihood,
    conditional_expected_average_profit,
    customer_lifetime_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
    score_population,
    summarize_transactions,
)
from segmentation.maths.bgnbd import _expected_quadrature
from segmentation.maths.engine import WARNING_CODES

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

pos = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
params_st = st.builds(BGNBDParams, r=pos, alpha=pos, a=pos, b=pos)


# --- BG/NBD: P(alive), expectations --------------------------------------------------------


@SETTINGS
@given(
    params=params_st,
    x=st.integers(min_value=0, max_value=10_000),
    big_t=st.floats(min_value=0, max_value=500),
    fractions=st.lists(st.floats(min_value=0, max_value=1), min_size=2, max_size=8),
)
def test_p_alive_in_unit_interval_and_falls_as_last_purchase_gets_older(
    params: BGNBDParams, x: int, big_t: float, fractions: list[float]
) -> None:
    t_x = np.sort(np.array(fractions) * big_t)[::-1]  # from recent to old
    pa = p_alive(params, np.full(t_x.size, x), t_x, big_t)
    assert np.isfinite(pa).all()
    assert ((pa >= 0) & (pa <= 1)).all()
    # Older last purchase (smaller t_x, same T) never makes the customer more alive.
    assert (np.diff(pa) <= 1e-12).all()
    if x == 0:
        assert (pa == 1).all()


@SETTINGS
@given(
    params=params_st,
    x=st.integers(min_value=0, max_value=10_000),
    big_t=st.floats(min_value=0, max_value=500),
    frac=st.floats(min_value=0, max_value=1),
    horizon=st.floats(min_value=0, max_value=1000),
)
def test_expected_purchases_finite_nonnegative_monotone_and_bounded(
    params: BGNBDParams, x: int, big_t: float, frac: float, horizon: float
) -> None:
    t_x = frac * big_t if x > 0 else 0.0
    ts = np.linspace(0, horizon, 7)
    e = expected_purchases(params, ts, x, t_x, big_t)
    assert np.isfinite(e).all()
    assert (e >= 0).all()
    assert e[0] == 0
    assert (np.diff(e) >= -1e-9 * (1 + e[1:])).all()
    # Never more than an immortal customer with the posterior mean rate would buy.
    bound = p_alive(params, x, t_x, big_t) * (params.r + x) * ts / (params.alpha + big_t)
    assert (e <= bound * (1 + 1e-7) + 1e-12).all()


@settings(max_examples=80, deadline=None)
@given(
    r=st.floats(0.05, 20),
    alpha=st.floats(0.1, 100),
    a=st.floats(0.05, 25),
    b=st.floats(0.05, 50),
    x=st.integers(0, 300),
    big_t=st.floats(0, 200),
    t=st.floats(0.01, 200),
)
def test_closed_form_agrees_with_quadrature(
    r: float, alpha: float, a: float, b: float, x: int, big_t: float, t: float
) -> None:
    """Two independent routes to E[Y(t) | alive]: Euler-transformed 2F1 vs quadrature."""
    assume(abs(a - 1) > 1e-3 and a + b + x - 1 > 0.05)
    params = BGNBDParams(r, alpha, a, b)
    closed = expected_purchases(params, t, x, big_t, big_t) / p_alive(params, x, big_t, big_t)
    quad = _expected_quadrature(
        params.as_tuple(), np.array([t]), np.array([float(x)]), np.array([big_t])
    )[0]
    assert closed == pytest.approx(quad, rel=1e-5, abs=1e-10)


@pytest.mark.parametrize(
    ("r", "alpha", "a", "b", "x", "big_t", "t"),
    [
        # Long horizon, many repeats: the 64-node rule was 3e-5 off here (closed form right).
        (12.968006262321484, 0.14617393339010415, 2.560165389092601, 46.91341346874225, 187,
         0.03884892713466925, 195.80360340215037),
        (14.396316982735225, 0.2979302420274802, 2.231554560544945, 4.93176317924738, 81,
         0.005442700867682726, 136.88269944865624),
    ],
)  # fmt: skip
def test_quadrature_is_accurate_when_the_integrand_turns_sharply(r, alpha, a, b, x, big_t, t):
    params = BGNBDParams(r, alpha, a, b)
    closed = expected_purchases(params, t, x, big_t, big_t) / p_alive(params, x, big_t, big_t)
    quad = _expected_quadrature(
        params.as_tuple(), np.array([t]), np.array([float(x)]), np.array([big_t])
    )[0]
    assert quad == pytest.approx(closed, rel=2e-6)


def test_near_homogeneous_dropout_uses_quadrature_and_stays_finite() -> None:
    # a, b in the thousands: hyp2f1 overflows; quadrature must take over smoothly.
    for a in (29.9, 30.0, 5e3):
        params = BGNBDParams(0.5, 4.0, a, a * 9)
        e = expected_purchases(params, [1.0, 10.0, 100.0], 5, 20.0, 30.0)
        assert np.isfinite(e).all()
        assert (np.diff(e) > 0).all()
    # Continuity across the switch to quadrature at a = 30.
    left = expected_purchases(BGNBDParams(0.5, 4.0, 30 - 1e-9, 270), 52.0, 5, 20.0, 30.0)
    right = expected_purchases(BGNBDParams(0.5, 4.0, 30.0, 270), 52.0, 5, 20.0, 30.0)
    assert float(left) == pytest.approx(float(right), rel=1e-6)


def test_extreme_inputs_are_finite() -> None:
    p = DEFAULT_PRIOR
    x = np.array([0, 0, 1, 10_000, 10_000, 3])
    t_x = np.array([0, 0, 0, 0, 52.0, 52.0])
    big_t = np.array([0, 52.0, 52.0, 52.0, 52.0, 52.0])
    for arr in (
        p_alive(p, x, t_x, big_t),
        expected_purchases(p, 13.0, x, t_x, big_t),
        bgnbd_log_likelihood(p, x, t_x, big_t),
    ):
        assert np.isfinite(arr).all()
    assert p_alive(p, 10_000, 0.0, 52.0) == 0.0  # 10k purchases then silence: gone
    assert p_alive(p, 10_000, 52.0, 52.0) > 0.99  # bought just now: alive


# --- fitting: degenerate data never raises ------------------------------------------------


@pytest.mark.parametrize(
    ("x", "t_x", "big_t", "why"),
    [
        ([], [], [], "fewer than 2"),
        ([0], [0], [10], "fewer than 2"),
        ([0, 0, 0], [0, 0, 0], [5, 8, 13], "no repeat"),  # nobody came back
        ([0, 0, 0], [0, 0, 0], [0, 0, 0], "no repeat"),  # everything on the as-of day
    ],
)
def test_fit_says_not_converged_on_insufficient_data(x, t_x, big_t, why: str) -> None:
    res = fit_bgnbd(x, t_x, big_t)
    assert res.converged is False
    assert why in res.message
    assert (res.r, res.alpha, res.a, res.b) == DEFAULT_PRIOR.as_tuple()
    assert np.isfinite(res.log_likelihood)


def test_fit_on_tiny_and_extreme_data_is_finite() -> None:
    for x, t_x, big_t in (([3, 0], [5, 0], [10, 2]), ([10_000, 0, 2], [50, 0, 3], [52, 9, 9])):
        res = fit_bgnbd(x, t_x, big_t)
        assert all(np.isfinite(v) and v > 0 for v in (res.r, res.alpha, res.a, res.b))
        assert np.isfinite(res.log_likelihood)
    gg = fit_gamma_gamma([1, 2, 0], [5.0, 5.0, 0.0])  # identical spends
    assert all(np.isfinite(v) and v > 0 for v in (gg.p, gg.q, gg.v))
    assert fit_gamma_gamma([0, 0], [0, 0]).converged is False


def _simulate_bgnbd(params: BGNBDParams, n: int, seed: int):
    """Exact BG/NBD process in continuous time (dropout only after repeat purchases)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    big_t = rng.uniform(20, 52, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        now[active] += rng.exponential(1.0, active.sum()) / lam[active]
        bought = active & (now <= big_t)
        x[bought] += 1
        t_x[bought] = now[bought]
        dropped = bought & (rng.random(n) < p)
        active = bought & ~dropped
    return x, t_x, big_t


def test_fit_recovers_simulated_parameters() -> None:
    truth = BGNBDParams(r=0.8, alpha=5.0, a=0.9, b=3.0)
    x, t_x, big_t = _simulate_bgnbd(truth, 30_000, seed=7)
    res = fit_bgnbd(x, t_x, big_t)
    assert res.converged, res.message
    assert res.r == pytest.approx(truth.r, rel=0.1)
    assert res.alpha == pytest.approx(truth.alpha, rel=0.1)
    assert res.a == pytest.approx(truth.a, rel=0.3)
    assert res.b == pytest.approx(truth.b, rel=0.3)
    # The analytic-gradient optimum is a true optimum: no nearby point is better.
    ll = bgnbd_log_likelihood(res.params, x, t_x, big_t).sum()
    assert ll == pytest.approx(res.log_likelihood, rel=1e-12)
    for i in range(4):
        for step in (1e-3, -1e-3):
            theta = np.log(np.array(res.params.as_tuple()))
            theta[i] += step
            assert bgnbd_log_likelihood(np.exp(theta), x, t_x, big_t).sum() < ll


def test_gamma_gamma_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(11)
    p, q, v = 4.0, 3.0, 20.0
    n = 20_000
    nu = rng.gamma(q, 1 / v, n)
    x = rng.integers(1, 12, n)
    m = np.array([rng.gamma(p, 1 / nu_i, k).mean() for nu_i, k in zip(nu, x, strict=True)])
    res = fit_gamma_gamma(x, m)
    assert res.converged, res.message
    assert res.p == pytest.approx(p, rel=0.1)
    assert res.q == pytest.approx(q, rel=0.1)
    assert res.v == pytest.approx(v, rel=0.15)


def test_expected_average_profit_limits() -> None:
    params = (6.25, 3.74, 15.44)
    pop_mean = 6.25 * 15.44 / 2.74
    out = conditional_expected_average_profit(params, [0, 1, 1000], [0.0, 50.0, 50.0])
    assert out[0] == pytest.approx(pop_mean)
    assert pop_mean < out[1] < 50.0  # shrunk towards the population mean
    assert out[2] == pytest.approx(50.0, rel=0.01)  # lots of evidence: own mean
    q_le_1 = conditional_expected_average_profit((2.0, 0.8, 10.0), [0, 1], [0.0, 5.0])
    assert np.isfinite(q_le_1).all()
    assert (q_le_1 > 0).all()


@SETTINGS
@given(
    x=st.integers(0, 10_000),
    frac=st.floats(0, 1),
    big_t=st.floats(0, 300),
    m=st.floats(-100, 1e5),
    horizon=st.integers(0, 36),
    rate=st.floats(-0.5, 5.0),
)
def test_clv_always_finite(
    x: int, frac: float, big_t: float, m: float, horizon: int, rate: float
) -> None:
    t_x = frac * big_t if x else 0.0
    clv = customer_lifetime_value(
        DEFAULT_PRIOR,
        (6.25, 3.74, 15.44),
        x,
        t_x,
        big_t,
        m,
        horizon_months=horizon,
        discount_rate_annual=rate,
    )
    assert np.isfinite(clv).all()
    assert (clv >= 0).all()


# --- summary --------------------------------------------------------------------------------


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 40), st.floats(-50, 500, allow_nan=False)),
        max_size=60,
    ),
    st.integers(0, 45),
)
def test_summary_matches_a_naive_implementation(rows, as_of: int) -> None:
    n = 7
    idx = np.array([r[0] for r in rows], dtype=np.int64)
    day = np.array([r[1] for r in rows], dtype=np.float64)
    amt = np.array([r[2] for r in rows], dtype=np.float64)
    s = summarize_transactions(idx, day, amt, float(as_of), n_customers=n, time_unit="weeks")
    for c in range(n):
        per_day: dict[int, float] = {}
        for ci, d, a in rows:
            if ci == c and d <= as_of:
                per_day[d] = per_day.get(d, 0.0) + a
        if not per_day:
            assert not s.has_purchase[c]
            assert s.frequency[c] == 0
            assert s.total_spent[c] == 0
            continue
        days = sorted(per_day)
        assert s.has_purchase[c]
        assert s.n_transactions[c] == len(days)
        assert s.frequency[c] == len(days) - 1
        assert s.recency[c] == pytest.approx((days[-1] - days[0]) / 7)
        assert s.T[c] == pytest.approx((as_of - days[0]) / 7)
        assert s.total_spent[c] == pytest.approx(sum(per_day.values()), abs=1e-9)
        repeat = [per_day[d] for d in days[1:]]
        expect = sum(repeat) / len(repeat) if repeat else 0.0
        assert s.monetary_value[c] == pytest.approx(expect, abs=1e-9)


def test_summary_accepts_datetime64_and_fractional_days() -> None:
    dates = np.array(
        ["2025-01-01", "2025-01-01", "2025-01-08", "2025-02-01"], dtype="datetime64[D]"
    )
    s = summarize_transactions([0, 0, 0, 1], dates, [10, 5, 20, 7], np.datetime64("2025-01-31"))
    assert s.frequency.tolist() == [1, 0]  # same-day merged; Feb purchase ignored
    assert s.monetary_value[0] == 20
    assert s.total_spent[0] == 35
    assert s.n_ignored_after_as_of == 1
    assert not s.has_purchase[1]
    frac = summarize_transactions([0, 0], [3.1, 3.9], [1, 1], 4.5)
    assert frac.n_transactions[0] == 1
    assert frac.T[0] == 1


def test_summary_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        summarize_transactions([0], [1.0], [np.nan], 2.0)
    with pytest.raises(ValueError, match="n_customers"):
        summarize_transactions([3], [1.0], [1.0], 2.0, n_customers=2)
    with pytest.raises(ValueError, match=">= 0"):
        summarize_transactions([-1], [1.0], [1.0], 2.0)


# --- score_population: never NaN/inf ------------------------------------------------------

SEGMENT_CODES = {c for c, _ in SEGMENTS}
ACTION_CODES = {c for c, _ in ACTIONS}


def _check_scores(res: PopulationScores, n: int) -> None:
    for name, arr in res.arrays().items():
        assert arr.shape == (n,), name
        if arr.dtype.kind in "fiu":
            assert np.isfinite(arr).all(), name
    assert set(res.rfm_segment.tolist()) <= SEGMENT_CODES
    assert set(res.action.tolist()) <= ACTION_CODES
    assert set(res.value_tier.tolist()) <= {"A", "B", "C"}
    assert ((res.p_alive >= 0) & (res.p_alive <= 1)).all()
    assert ((res.churn_risk >= 0) & (res.churn_risk <= 1)).all()
    # No purchase in the window is at least as likely as having dropped out.
    assert (res.churn_risk >= 1 - res.p_alive - 1e-12).all()
    # Segments agree with churn risk: nobody "gone" whom the model expects back.
    gone = np.isin(res.rfm_segment, ["hibernating", "lost"])
    assert (res.churn_risk[gone] >= 0.5).all()
    assert (res.value_at_stake >= 0).all()
    assert ((res.loyalty_score >= 0) & (res.loyalty_score <= 100)).all()
    assert (res.expected_purchases_90d >= 0).all()
    for value in (*res.bgnbd_params.as_tuple(), *res.gg_params.as_tuple()):
        assert np.isfinite(value)
        assert value > 0
    for w in res.warnings:
        assert set(w["params"]) == set(WARNING_CODES[w["code"]])


def _score(idx, day, amt, n, **kw) -> PopulationScores:
    return score_population(
        np.asarray(idx, dtype=np.int64),
        np.asarray(day, dtype=float),
        np.asarray(amt, dtype=float),
        n_customers=n,
        as_of=100.0,
        **kw,
    )


def test_score_no_repeat_purchase() -> None:
    n = 50
    res = _score(np.arange(n), np.arange(n), np.full(n, 10.0), n)
    _check_scores(res, n)
    assert not res.bgnbd_fitted
    assert not res.gg_fitted
    assert (res.p_alive == 1).all()  # BG/NBD: no repeat -> still alive
    assert any(w["code"] == "purchase_model_fallback_few_repeaters" for w in res.warnings)


def test_score_all_on_one_day() -> None:
    n = 30
    idx = np.repeat(np.arange(n), 3)
    res = _score(idx, np.full(idx.size, 100.0), np.ones(idx.size), n)
    _check_scores(res, n)
    assert (res.frequency == 1).all()
    assert (res.recency_days == 0).all()
    assert (res.tenure_days == 0).all()


def test_score_huge_counts() -> None:
    n = 40
    rng = np.random.default_rng(0)
    # Customer 0 bought on 10,000 distinct days for a million each; the rest are ordinary.
    idx = np.concatenate([np.zeros(10_000, dtype=int), rng.integers(1, n, 400)])
    day = np.concatenate([np.arange(10_000.0), rng.integers(9_000, 10_000, 400)])
    amt = np.concatenate([np.full(10_000, 1e6), rng.gamma(2, 20, 400)])
    res = score_population(idx, day, amt, n_customers=n, as_of=10_000.0)
    _check_scores(res, n)
    assert res.frequency[0] == 10_000
    assert res.value_tier[0] == "A"
    big = score_population(
        np.zeros(10_000, dtype=int),
        np.arange(10_000, dtype=float),
        np.ones(10_000),
        n_customers=1,
        as_of=10_000.0,
    )
    _check_scores(big, 1)
    assert big.frequency[0] == 10_000


def test_score_one_customer() -> None:
    res = _score([0, 0], [10, 50], [20, 30], 1)
    _check_scores(res, 1)
    assert res.value_tier.tolist() == ["A"]
    assert res.r_score[0] == res.f_score[0] == res.m_score[0] == 3


def test_score_nobody_purchased() -> None:
    res = _score([], [], [], 4, cost_to_serve=[0, 5, 0, 0], satisfaction=[np.nan, 1, 0, 0.5])
    _check_scores(res, 4)
    assert (res.rfm_segment == "no_purchase").all()
    assert (res.recency_days == -1).all()
    assert (res.frequency == 0).all()
    assert (res.p_alive == 0).all()
    assert (res.churn_risk == 1).all()
    assert res.action.tolist() == ["maintain", "review_cost", "maintain", "maintain"]
    empty = _score([], [], [], 0)
    _check_scores(empty, 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 29),
            st.floats(0, 120),
            st.floats(-20, 1e4),
            st.one_of(st.just(np.nan), st.floats(-100, 100)),
        ),
        max_size=300,
    ),
    n_extra=st.integers(0, 5),
    cost_scale=st.floats(0, 1e3),
    min_repeat=st.integers(0, 25),
)
def test_score_random_populations_are_finite(
    rows, n_extra: int, cost_scale: float, min_repeat: int
) -> None:
    n = 30 + n_extra
    idx = np.array([r[0] for r in rows], dtype=np.int64)
    day = np.array([r[1] for r in rows], dtype=np.float64)
    amt = np.array([r[2] for r in rows], dtype=np.float64)
    mar = np.array([r[3] for r in rows], dtype=np.float64)
    rng = np.random.default_rng(len(rows))
    res = score_population(
        idx,
        day,
        amt,
        mar,
        n_customers=n,
        as_of=100.0,
        cost_to_serve=rng.random(n) * cost_scale,
        satisfaction=np.where(rng.random(n) < 0.5, np.nan, rng.random(n)),
        min_repeat_customers=min_repeat,
    )
    _check_scores(res, n)
