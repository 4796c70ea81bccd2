"""RFM scores and segments, value tiers, loyalty score, actions and the engine's conventions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.maths import (
    ACTIONS,
    DEFAULT_LOYALTY_WEIGHTS,
    SEGMENTS,
    loyalty_components,
    loyalty_score,
    net_value,
    percentile_scores,
    recommended_action,
    rfm_scores,
    rfm_segments,
    score_population,
    value_tiers,
)
from segmentation.maths.rfm import SEGMENT_GRID

# --- RFM scores ------------------------------------------------------------------------------


def test_scores_are_quintiles_of_distinct_values() -> None:
    assert percentile_scores(np.arange(10)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert percentile_scores(np.arange(5)[::-1]).tolist() == [5, 4, 3, 2, 1]


@pytest.mark.parametrize("values", [[7.0], [3.0] * 6, [0.0, 0.0]])
def test_single_customer_or_all_equal_score_in_the_middle(values: list[float]) -> None:
    assert percentile_scores(values).tolist() == [3] * len(values)


def test_empty_population() -> None:
    assert percentile_scores([]).size == 0
    assert rfm_scores([], [], []).segment.size == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=40), st.randoms())
def test_scores_ignore_order_and_tie_together(values: list[int], rnd) -> None:
    v = np.array(values, dtype=float)
    scores = percentile_scores(v)
    assert ((scores >= 1) & (scores <= 5)).all()
    perm = np.array(rnd.sample(range(v.size), v.size))
    np.testing.assert_array_equal(percentile_scores(v[perm]), scores[perm])
    for value in np.unique(v):
        assert np.unique(scores[v == value]).size == 1  # ties share a score
    order = np.argsort(v, kind="stable")
    assert (np.diff(scores[order]) >= 0).all()  # monotone in the value


def test_recency_fewer_days_scores_higher_and_non_buyers_are_left_out() -> None:
    rec = [1, 10, 100, 1000, 5, -1]
    freq = [1, 1, 1, 1, 1, 0]
    mon = [10, 10, 10, 10, 10, 0]
    s = rfm_scores(rec, freq, mon)
    assert s.r[0] > s.r[1] > s.r[2] > s.r[3]
    assert s.r[5] == s.f[5] == s.m[5] == 0
    assert s.segment[5] == "no_purchase"
    # Adding non-buyers does not move the buyers' scores.
    alone = rfm_scores(rec[:5], freq[:5], mon[:5])
    np.testing.assert_array_equal(alone.r, s.r[:5])


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, "champions"),
        (5, 4, 4, "champions"),
        (4, 5, 5, "loyal"),
        (3, 4, 5, "loyal"),
        (5, 2, 3, "potential_loyalist"),
        (4, 2, 2, "potential_loyalist"),
        (5, 1, 1, "new"),
        (4, 1, 1, "promising"),
        (3, 3, 3, "need_attention"),
        (3, 1, 2, "about_to_sleep"),
        (2, 3, 4, "at_risk"),
        (1, 4, 3, "at_risk"),
        (1, 5, 5, "cant_lose"),
        (2, 5, 4, "cant_lose"),
        (2, 1, 2, "hibernating"),
        (1, 1, 1, "lost"),
        (1, 2, 2, "lost"),
        (0, 3, 3, "no_purchase"),
    ],
)
def test_segment_map(r: int, f: int, m: int, segment: str) -> None:
    assert rfm_segments([r], [f], [m]).tolist() == [segment]


def test_segment_lists_are_consistent() -> None:
    codes = [c for c, _ in SEGMENTS]
    assert len(codes) == len(set(codes)) == 12
    grid_codes = {c for row in SEGMENT_GRID for c in row}
    assert grid_codes | {"no_purchase"} == set(codes)  # every segment reachable
    every = rfm_segments(
        *np.array([(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]).T
    )
    assert set(every.tolist()) == grid_codes
    with pytest.raises(ValueError, match=r"0\.\.5"):
        rfm_segments([6], [1], [1])


# --- value tiers -------------------------------------------------------------------------------


def test_tiers_top_20_next_30() -> None:
    values = np.array([5, 90, 10, 80, 20, 70, 30, 60, 40, 50], dtype=float)
    tiers = value_tiers(values)
    assert tiers[values >= 80].tolist() == ["A", "A"]
    assert sorted(tiers[(values >= 50) & (values < 80)].tolist()) == ["B"] * 3
    assert (tiers[values < 50] == "C").all()
    big = value_tiers(np.random.default_rng(1).normal(size=1000))
    assert (big == "A").sum() == 200
    assert (big == "B").sum() == 300


@pytest.mark.parametrize(
    ("n", "expected"), [(0, ""), (1, "A"), (2, "AC"), (3, "ABC"), (4, "ABCC"), (5, "ABBCC")]
)
def test_tiers_small_populations(n: int, expected: str) -> None:
    assert "".join(value_tiers(np.arange(n, 0, -1, dtype=float))) == expected


def test_tiers_ties_are_deterministic_and_nan_is_last() -> None:
    assert "".join(value_tiers(np.zeros(10))) == "AABBBCCCCC"  # stable: by position
    assert "".join(value_tiers([np.nan, 1.0, -5.0])) == "CAB"


# --- loyalty -----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-5, 5),
    st.floats(-1e4, 1e5),
    st.floats(-1, 2),
    st.one_of(st.just(float("nan")), st.floats(-1, 2)),
    st.dictionaries(st.sampled_from(sorted(DEFAULT_LOYALTY_WEIGHTS)), st.floats(0, 10)),
)
def test_loyalty_within_bounds(
    rep: float, ten: float, pa: float, sat: float, weights: dict[str, float]
) -> None:
    if sum({**DEFAULT_LOYALTY_WEIGHTS, **weights}.values()) <= 0:
        with pytest.raises(ValueError):
            loyalty_score(rep, ten, pa, sat, weights)
        return
    score = float(loyalty_score(rep, ten, pa, sat, weights))
    assert 0.0 <= score <= 100.0


def test_loyalty_extremes_and_components() -> None:
    assert float(loyalty_score(1.0, 730, 1.0, 1.0)) == pytest.approx(100.0)
    assert float(loyalty_score(0.0, 0, 0.0, 0.0)) == pytest.approx(0.0)
    # Unknown satisfaction is neutral.
    assert float(loyalty_score(0.5, 100, 0.5, np.nan)) == float(loyalty_score(0.5, 100, 0.5, 0.5))
    comp = loyalty_components(0.5, [365, 730, 2000], 0.2, np.nan)
    np.testing.assert_allclose(comp["tenure"], [0.5, 1.0, 1.0])
    # Weighted mean: only "returning" counts -> score = 100 * chance to come back.
    only = {"repeat": 0, "tenure": 0, "returning": 1, "satisfaction": 0}
    assert float(loyalty_score(0.9, 700, 0.37, 0.1, only)) == pytest.approx(37.0)
    # Default weights: 0.15 * 1 (repeat) + 0.05 * 0 + 0.70 * 0 + 0.10 * 0.5 = 0.2
    assert float(loyalty_score(1.0, 0, 0.0, np.nan)) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="unknown loyalty weight"):
        loyalty_score(1, 1, 1, 1, {"recency": 1.0})


# --- actions and net value ---------------------------------------------------------------------


def test_actions_follow_the_rules() -> None:
    tier = ["A", "A", "B", "B", "C", "C", "A", "B"]
    risk = [0.1, 0.7, 0.2, 0.5, 0.9, 0.1, 0.1, 0.9]
    net = [100, 100, 50, 50, 5, 5, -10, -1]
    cost = [0, 0, 0, 0, 0, 0, 20, 0]
    assert recommended_action(tier, risk, net, cost).tolist() == [
        "care",
        "win_back",
        "nurture",
        "win_back",
        "maintain",
        "maintain",
        "review_cost",
        "win_back",  # negative net value but no cost to serve: not a cost problem
    ]
    # Threshold is a parameter; leads are kept on routines unless they cost money.
    assert recommended_action(["A"], [0.6], [1], [0], churn_threshold=0.8).tolist() == ["care"]
    assert recommended_action(
        ["A", "A"], [1.0, 1.0], [0, -3], [0, 3], has_purchased=[False, False]
    ).tolist() == ["maintain", "review_cost"]
    assert {c for c, _ in ACTIONS} == {"care", "win_back", "nurture", "maintain", "review_cost"}


def test_net_value() -> None:
    np.testing.assert_allclose(net_value([10, 0], [5, 2], [3, 4]), [12, -2])


# --- the engine's conventions ------------------------------------------------------------------


def _population():
    # Customers 0-29 buy 1-6 times; 30 and 31 never bought.
    rng = np.random.default_rng(5)
    idx, day, amt = [], [], []
    for c in range(30):
        for _ in range(1 + c % 6):
            idx.append(c)
            day.append(float(rng.integers(0, 200)))
            amt.append(float(rng.gamma(2, 25)))
    return np.array(idx), np.array(day), np.array(amt)


def test_engine_leads_and_margins() -> None:
    idx, day, amt = _population()
    margin = np.where(idx == 0, amt * 0.25, np.nan)  # only customer 0's margin is known
    idx = np.append(idx, 1)
    day = np.append(day, 500.0)  # after as-of: ignored everywhere
    amt = np.append(amt, 1e6)
    margin = np.append(margin, 1e6)
    res = score_population(
        idx,
        day,
        amt,
        margin,
        n_customers=32,
        as_of=200.0,
        cost_to_serve=np.r_[np.zeros(31), 7.0],
        default_margin_rate=0.4,
        min_repeat_customers=5,
    )
    total0 = amt[:-1][idx[:-1] == 0].sum()
    total1 = amt[:-1][idx[:-1] == 1].sum()
    assert res.total_spent[0] == pytest.approx(total0)
    assert res.margin_so_far[0] == pytest.approx(0.25 * total0)
    assert res.margin_rate[0] == pytest.approx(0.25)
    assert res.margin_so_far[1] == pytest.approx(0.4 * total1)
    assert any(w["code"] == "ignored_after_as_of" for w in res.warnings)
    for lead in (30, 31):
        assert res.recency_days[lead] == -1
        assert res.frequency[lead] == 0
        assert res.rfm_segment[lead] == "no_purchase"
        assert res.p_alive[lead] == 0
        assert res.churn_risk[lead] == 1
        assert res.predicted_clv[lead] == 0
        assert res.expected_purchases_90d[lead] == 0
    assert res.action[30] == "maintain"
    assert res.action[31] == "review_cost"
    assert res.net_value[31] == -7.0
    np.testing.assert_allclose(
        res.net_value, res.margin_so_far + res.predicted_clv - np.r_[np.zeros(31), 7]
    )
    np.testing.assert_allclose(res.monetary[:30], res.total_spent[:30] / res.frequency[:30])


def test_engine_falls_back_and_says_so() -> None:
    idx, day, amt = _population()
    res = score_population(idx, day, amt, n_customers=30, as_of=200.0, min_repeat_customers=1000)
    assert not res.bgnbd_fitted
    assert not res.gg_fitted
    assert res.bgnbd_fit is None
    assert {w["code"] for w in res.warnings} >= {
        "purchase_model_fallback_few_repeaters",
        "spend_model_fallback_few_repeaters",
    }
    # Spend fallback keeps the prior's shape but this shop's mean order value.
    p, q, v = res.gg_params.as_tuple()
    assert p * v / (q - 1) == pytest.approx(amt.sum() / res.frequency.sum())


def test_engine_accepts_dates() -> None:
    idx, day, amt = _population()
    as_days = score_population(idx, day, amt, n_customers=30, as_of=200.0)
    dates = np.datetime64("2024-01-01") + day.astype(int)
    as_dates = score_population(
        idx, dates, amt, n_customers=30, as_of=np.datetime64("2024-01-01") + 200
    )
    np.testing.assert_array_equal(as_days.recency_days, as_dates.recency_days)
    np.testing.assert_allclose(as_days.predicted_clv, as_dates.predicted_clv)
