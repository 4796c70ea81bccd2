"""Issue 11 (scores an owner can trust) and the scoring halves of issue 9 items 1 and 4."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from customers.models import Customer, Purchase
from customers.money import AMOUNT_MAX
from segmentation import services
from segmentation.maths import BGNBDParams, score_population
from segmentation.maths.bgnbd import p_alive, p_no_purchase
from segmentation.maths.seasonality import month_factors, window_factor
from segmentation.models import CustomerScore, ScoreDraft, ScoringRun
from segmentation.run_warnings import translate_warning
from segmentation.selectors import customers_to_call, scoring_inputs
from segmentation.services import scoring_run_execute
from segmentation.wording import churn_phrase, plain_explanation
from tests.segmentation.conftest import make_history, snapshot

AS_OF = date(2025, 12, 31)

# --- churn risk: P(no purchase in the window) ---------------------------------------------------

params_st = st.builds(
    BGNBDParams,
    r=st.floats(0.05, 10),
    alpha=st.floats(0.1, 100),
    a=st.floats(0.05, 10),
    b=st.floats(0.05, 20),
)


@settings(max_examples=150, deadline=None)
@given(
    params=params_st,
    x=st.integers(0, 200),
    big_t=st.floats(0.1, 300),
    tau=st.floats(0.1, 60),
    modified=st.booleans(),
)
def test_churn_risk_never_falls_as_the_last_purchase_gets_older(
    params, x, big_t, tau, modified
) -> None:
    # Fixed frequency and first purchase: the last purchase moves back in time.
    t_x = np.linspace(big_t, 0.0, 25) if x > 0 else np.zeros(25)
    risk = p_no_purchase(params, tau, np.full(25, x), t_x, big_t, modified=modified)
    assert ((risk >= 0) & (risk <= 1)).all()
    assert (np.diff(risk) >= -1e-12).all()
    # Fixed frequency and last purchase date: time goes by (T grows, t_x stays).
    later = p_no_purchase(
        params, tau, x, 0.0 if x == 0 else big_t / 2, big_t + np.linspace(0, 200, 25),
        modified=modified,
    )  # fmt: skip
    assert (np.diff(later) >= -1e-12).all()
    # Not buying is at least as likely as having dropped out, and a longer window lowers it.
    alive = p_alive(params, x, t_x, big_t, modified=modified)
    assert (risk >= 1 - alive - 1e-12).all()
    longer = p_no_purchase(params, tau * 2, np.full(25, x), t_x, big_t, modified=modified)
    assert (longer <= risk + 1e-12).all()


def test_one_time_buyers_get_a_real_churn_risk() -> None:
    # BG/NBD: P(alive) = 1 for one-time buyers, but the chance of no purchase rises with time.
    p = BGNBDParams(0.243, 4.414, 0.793, 2.426)
    weeks = np.array([1.0, 10.0, 52.0, 99.0])
    risk = p_no_purchase(p, 90 / 7, 0, 0.0, weeks)
    assert (p_alive(p, 0, 0.0, weeks) == 1).all()
    assert (np.diff(risk) > 0).all()
    assert risk[-1] > 0.9  # bought once, 693 days ago: not coming back


@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 400), min_size=40, max_size=80),
    seed=st.integers(0, 1000),
)
def test_segments_and_churn_risk_agree(gaps, seed) -> None:
    rng = np.random.default_rng(seed)
    idx, day = [], []
    for c, gap in enumerate(gaps):
        t = float(rng.integers(0, 300))
        while t <= 700:
            idx.append(c)
            day.append(t)
            t += max(1.0, rng.exponential(gap))
    res = score_population(
        np.array(idx), np.array(day), np.ones(len(idx)), n_customers=len(gaps), as_of=700.0,
        min_repeat_customers=5,
    )  # fmt: skip
    gone = np.isin(res.rfm_segment, ["hibernating", "lost"])
    assert (res.churn_risk[gone] >= 0.5).all()
    np.testing.assert_allclose(
        res.value_at_stake, np.maximum(res.predicted_clv, 0) * res.churn_risk
    )


# --- seasonality --------------------------------------------------------------------------------


def _seasonal_shop(years: int, seed: int = 3):
    """Customers buying as Poisson processes whose rate doubles in December."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2021-01-01").astype(int)
    n_days = 365 * years
    month = (np.datetime64("2021-01-01") + np.arange(n_days + 120)).astype("datetime64[M]")
    boost = np.where(month.astype(int) % 12 == 11, 2.5, 1.0)
    idx, day = [], []
    for c in range(600):
        rate = rng.gamma(2.0, 1 / 60)  # about one purchase a month on average
        first = int(rng.integers(0, 200))
        lam = rate * boost[first:]
        buys = np.flatnonzero(rng.random(lam.size) < lam) + first
        buys = np.r_[first, buys]
        idx += [c] * buys.size
        day += list(buys + start)
    return np.array(idx), np.array(day, dtype=float), start + n_days


def test_seasonality_needs_two_years_and_finds_december() -> None:
    _idx, day, end = _seasonal_shop(3)
    assert month_factors(day[day < end - 400], end - 400) is None  # under two years
    factors = month_factors(day, float(end))
    assert factors is not None
    assert factors.mean() == pytest.approx(1.0)
    assert factors[11] > 1.6 > factors[5]
    assert window_factor(None, 0, 90) == 1.0


def test_seasonality_brings_the_december_prediction_within_ten_percent() -> None:
    idx, day, _end = _seasonal_shop(3)
    as_of = float(np.datetime64("2023-10-31").astype(int))  # next 90 days hold December
    after = (day > as_of) & (day <= as_of + 90)
    actual = np.unique(np.stack([idx[after], day[after]]), axis=1).shape[1]
    kw = {"n_customers": 600, "as_of": as_of, "model": "bgnbd"}
    seasonal = score_population(idx, day, np.ones(idx.size), **kw)
    flat = score_population(idx, day, np.ones(idx.size), seasonal=False, **kw)
    assert seasonal.season_factor > 1.2
    assert flat.month_factors is None
    assert abs(seasonal.expected_purchases_90d.sum() / actual - 1) <= 0.10
    assert abs(flat.expected_purchases_90d.sum() / actual - 1) > 0.10


# --- the model choice -----------------------------------------------------------------------------


def test_auto_model_picks_by_held_out_brier_and_says_so() -> None:
    idx, day, end = _seasonal_shop(2)
    res = score_population(
        idx, day, np.ones(idx.size), n_customers=600, as_of=float(end), model="auto"
    )
    assert res.model in ("bgnbd", "mbgnbd")
    choice = res.model_choice
    assert choice["chosen"] == res.model
    assert choice["reason"] == "held_out_brier"
    scores = choice["brier"]
    other = "mbgnbd" if res.model == "bgnbd" else "bgnbd"
    assert scores[res.model] <= scores[other]


# --- owner-facing words ---------------------------------------------------------------------------


def _score(**kw):
    base = {
        "frequency": 5, "recency_days": 63, "tenure_days": 147, "churn_risk": 0.823,
        "action": "win_back", "p_alive": 0.3,
    }  # fmt: skip
    base.update(kw)
    return SimpleNamespace(**base)


def test_churn_phrase_reads_as_the_owner_expects(settings) -> None:
    with translation.override("en"):
        assert churn_phrase(_score()) == "chance not to come back in 90 days: 82 %"
        assert churn_phrase(_score(frequency=0)) == "has not bought yet"
        assert churn_phrase(_score(churn_risk=0.9999)) == "chance not to come back in 90 days: 99 %"
    with translation.override("zh-hans"):
        assert churn_phrase(_score()) == "90 天内不再光顾的可能性：82 %"
    settings.XW_SCORING = {**settings.XW_SCORING, "churn_window_days": 60}
    with translation.override("en"):
        assert churn_phrase(_score()).startswith("chance not to come back in 60 days")


def test_plain_explanation_says_why_and_what_to_do() -> None:
    with translation.override("en"):
        regular = plain_explanation(_score(), None)
        assert regular.startswith(
            "Comes about every 3 weeks, last came 9 weeks ago — likely slipping away."
        )
        assert "Call or message them" in regular
        once = plain_explanation(
            _score(
                frequency=1, recency_days=693, tenure_days=693, churn_risk=0.97, action="maintain"
            ),
            None,
        )
        assert once.startswith("Bought once, 23 months ago; customers like this rarely return.")
        on_track = plain_explanation(_score(recency_days=10, churn_risk=0.2, action="care"), None)
        assert "on track" in on_track
        for text in (regular, once, on_track):
            assert "BG/NBD" not in text
            assert "RFM" not in text
            assert text.count(".") <= 2
    with translation.override("zh-hans"):
        assert "很可能正在流失" in plain_explanation(_score(), None)


def test_warnings_are_codes_translated_when_shown() -> None:
    warning = {"code": "purchase_model_fallback_few_repeaters", "params": {"n": 3, "need": 20}}
    with translation.override("zh-hans"):
        assert "3" in translate_warning(warning)
        assert "Only" not in translate_warning(warning)
    with translation.override("en"):
        assert translate_warning(warning).startswith("Only 3 customers bought more than once")
    assert translate_warning("An old English sentence.") == "An old English sentence."
    assert translate_warning({"code": "unknown_code", "params": {}}) == "unknown_code"


# --- through the service: backtest, run page, value at stake, isolation --------------------------


def test_run_keeps_its_backtest_and_the_run_page_shows_the_calibration_table(
    tea, tea_history, client_for
):
    run = scoring_run_execute(business=tea.business, as_of=AS_OF)
    figures = run.backtest
    assert figures["as_of"] == (AS_OF - timedelta(days=90)).isoformat()
    assert len(figures["churn"]["deciles"]) == 10
    assert figures["recency_baseline"]["auc"] is not None
    assert run.parameters["model"] in ("bgnbd", "mbgnbd")
    assert run.parameters["churn_window_days"] == 90
    client = client_for(tea.owner)
    with translation.override("en"):
        page = client.get(
            reverse("admin:segmentation_scoringrun_change", args=[run.pk]),
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert page.status_code == 200
    body = page.content.decode()
    assert "<table>" in body
    assert body.count("<tr><td>") >= 14  # 10 deciles + 4 ranking rows


def test_value_at_stake_ranks_who_to_call_within_one_business(
    tea, salon, tea_history, salon_history
):
    scoring_run_execute(business=tea.business, as_of=AS_OF)
    scoring_run_execute(business=salon.business, as_of=AS_OF)
    for score in CustomerScore.objects.all():
        expected = max(score.predicted_clv, 0) * Decimal(str(score.churn_risk))
        assert abs(score.value_at_stake - expected) <= Decimal("0.02")
    calls = list(customers_to_call(tea.business, limit=10))
    assert calls
    assert {s.business_id for s in calls} == {tea.business.pk}
    stakes = [s.value_at_stake for s in calls]
    assert stakes == sorted(stakes, reverse=True)


def test_admin_and_api_speak_the_owner_words(tea, tea_history, client_for):
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    scoring_run_execute(business=tea.business, as_of=AS_OF)
    client = client_for(tea.owner)
    listing = client.get(
        reverse("admin:customers_customer_changelist"), {"o": "-7"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert listing.status_code == 200
    customer = tea_history[0]
    page = client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert page.status_code == 200
    assert "chance not to come back in 90 days" in page.content.decode().lower()
    assert "in plain words" in page.content.decode().lower()
    _key, key = api_key_create(business=tea.business, name="t", read_only=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = api.get(f"/api/v1/customers/{customer.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["score"]["churn_phrase"].startswith("chance not to come back in 90 days: ")
    assert body["score"]["explanation"]
    assert "value_at_stake" in body["score"]


# --- issue 9: huge values, local days, short writes ----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_huge_customer_never_fails_the_run_nor_the_pages(tea, client_for):
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    make_history(tea.business, customers=30, seed=4)
    whale = Customer.objects.create(business=tea.business, name="whale", phone="+8613900000001")
    start = datetime(2025, 1, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
    Purchase.objects.bulk_create(
        Purchase(business=tea.business, customer=whale, occurred_at=start + timedelta(days=d),
                 amount=AMOUNT_MAX)
        for d in range(300)
    )  # fmt: skip
    run = scoring_run_execute(business=tea.business, as_of=AS_OF)
    assert run.status == ScoringRun.Status.SUCCEEDED
    score = CustomerScore.objects.get(customer=whale)
    assert score.total_spent == AMOUNT_MAX * 300
    assert score.value_tier == "A"
    client = client_for(tea.owner)
    assert client.get(reverse("admin:customers_customer_changelist")).status_code == 200
    assert (
        client.get(reverse("admin:customers_customer_change", args=[whale.pk])).status_code == 200
    )
    _key, key = api_key_create(business=tea.business, name="t", read_only=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/v1/customers/").status_code == 200
    detail = api.get(f"/api/v1/customers/{whale.pk}/")
    assert detail.status_code == 200
    assert detail.json()["score"]["total_spent"] == str(AMOUNT_MAX * 300)


def test_money_beyond_the_columns_is_clipped_with_a_warning() -> None:
    res = score_population([0, 0, 1], [0.0, 10.0, 5.0], [1e15, 1e15, 5.0], n_customers=2,
                           as_of=20.0, min_repeat_customers=1)  # fmt: skip
    assert res.total_spent[0] == pytest.approx(99_999_999_999_999.0)
    assert any(w["code"] == "money_clipped" for w in res.warnings)


def test_each_purchase_gets_its_own_local_day_in_a_dst_zone(tea):
    business = tea.business
    business.time_zone = "Europe/London"
    business.save(update_fields=["time_zone"])
    london = ZoneInfo("Europe/London")
    customer = Customer.objects.create(business=business, name="A", phone="+447700900001")
    sales = [
        datetime(2025, 1, 15, 23, 30, tzinfo=london),  # GMT: stays on the 15th
        datetime(2025, 7, 1, 0, 30, tzinfo=london),  # BST: 23:30 UTC on 30 June
        datetime(2025, 3, 30, 0, 59, tzinfo=london),  # just before the spring change
        datetime(2025, 10, 26, 1, 30, tzinfo=london),  # the repeated hour in autumn
    ]
    for when in sales:
        Purchase.objects.create(business=business, customer=customer, occurred_at=when, amount=10)
    inputs = scoring_inputs(business, date(2025, 7, 15))
    epoch = date(1970, 1, 1)
    got = sorted(int(d) for d in inputs.day)
    want = sorted((w.date() - epoch).days for w in sales if w.date() <= date(2025, 7, 15))
    assert got == want


def test_the_score_write_is_chunked_and_the_final_transaction_is_short(
    tea, tea_history, monkeypatch
):
    scoring_run_execute(business=tea.business, as_of=AS_OF)
    whole = snapshot(tea.business)
    monkeypatch.setattr(services, "_DRAFT_CHUNK", 7)
    real_replace = services._scores_replace
    seen = {}

    def replace(business, run, names):
        with CaptureQueriesContext(connection) as ctx:
            count = real_replace(business, run, names)
        seen["queries"] = len(ctx.captured_queries)
        return count

    monkeypatch.setattr(services, "_scores_replace", replace)
    scoring_run_execute(business=tea.business, as_of=AS_OF)
    assert seen["queries"] == 2  # one DELETE, one INSERT … SELECT
    again = snapshot(tea.business)
    assert {k: {f: v for f, v in r.items()} for k, r in again.items()} == whole
    assert not ScoreDraft.objects.exists()


def test_backtest_runs_are_scoped_like_every_run(tea, salon, tea_history, client_for):
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    call_command("backtest", "--business", "tea", "--as-of", "2025-09-30", "--language", "en")
    kept = ScoringRun.objects.get(trigger=ScoringRun.Trigger.BACKTEST)
    assert kept.business == tea.business
    salon_admin = client_for(salon.owner)
    url = reverse("admin:segmentation_scoringrun_change", args=[kept.pk])
    assert salon_admin.get(url).status_code == 302
    assert client_for(tea.owner).get(url).status_code == 200
    _key, key = api_key_create(business=salon.business, name="t", read_only=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get(f"/api/v1/scoring-runs/{kept.pk}/").status_code == 404
    assert list(customers_to_call(salon.business)) == []
