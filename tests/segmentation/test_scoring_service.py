import math
from datetime import date
from unittest import mock

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from customers.models import Purchase
from segmentation import services
from segmentation.models import CustomerScore, ScoreDraft, ScoringRun
from segmentation.services import scoring_run_execute
from tests.segmentation.conftest import make_history, snapshot

AS_OF = date(2025, 12, 31)


def test_run_scores_every_customer_with_finite_values(tea, tea_history):
    run = scoring_run_execute(business=tea.business, as_of=AS_OF)
    assert run.status == ScoringRun.Status.SUCCEEDED
    assert run.customers_scored == len(tea_history) == CustomerScore.objects.count()
    assert run.parameters["bgnbd_fitted"] is True
    for row in snapshot(tea.business).values():
        for key in ("p_alive", "churn_risk", "expected_purchases_90d", "loyalty_score"):
            assert math.isfinite(row[key])
        assert 0 <= row["p_alive"] <= 1
        assert 0 <= row["loyalty_score"] <= 100
    never = CustomerScore.objects.get(customer=tea_history[9])
    assert never.rfm_segment == "no_purchase"
    assert never.frequency == 0
    served = CustomerScore.objects.get(customer=tea_history[0])
    assert served.cost_to_serve == pytest.approx(35)  # ¥5 + 60 minutes at ¥30/h


def test_same_as_of_gives_identical_rows(tea, tea_history):
    scoring_run_execute(business=tea.business, as_of=AS_OF)
    first = snapshot(tea.business)
    scoring_run_execute(business=tea.business, as_of=AS_OF)
    assert snapshot(tea.business) == first
    assert ScoringRun.objects.filter(status="succeeded").count() == 2


def test_failed_write_leaves_previous_scores_intact(tea, tea_history):
    scoring_run_execute(business=tea.business, as_of=date(2025, 6, 30))
    before = snapshot(tea.business)
    real_replace = services._scores_replace

    def replace_then_fail(business, run, names):
        real_replace(business, run, names)  # old rows deleted, new ones written…
        raise RuntimeError("disk")  # …then the run dies before commit

    with (
        mock.patch.object(services, "_scores_replace", side_effect=replace_then_fail),
        pytest.raises(RuntimeError),
    ):
        scoring_run_execute(business=tea.business, as_of=AS_OF)
    assert snapshot(tea.business) == before
    failed = ScoringRun.objects.get(as_of=AS_OF)
    assert failed.status == ScoringRun.Status.FAILED
    assert "disk" in failed.error
    assert not ScoreDraft.objects.exists()  # a failed run leaves no drafts behind


def test_as_of_uses_only_history_up_to_that_day(tea, tea_history):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tea.business.time_zone)
    scoring_run_execute(business=tea.business, as_of=date(2025, 3, 31))
    early = snapshot(tea.business)
    for customer in tea_history:
        days = {p.occurred_at.astimezone(tz).date() for p in customer.purchases.all()}
        before = {d for d in days if d <= date(2025, 3, 31)}
        assert early[customer.pk]["frequency"] == len(before)
        if before:
            assert early[customer.pk]["recency_days"] == (date(2025, 3, 31) - max(before)).days
    # a purchase added after the as-of day changes nothing
    Purchase.objects.create(
        business=tea.business, customer=tea_history[1], amount=999,
        occurred_at=tea_history[1].purchases.order_by("-occurred_at").first().occurred_at.replace(year=2026),
    )  # fmt: skip
    scoring_run_execute(business=tea.business, as_of=date(2025, 3, 31))
    assert snapshot(tea.business) == early


def test_small_business_falls_back_and_says_so(salon):
    make_history(salon.business, customers=5, seed=3)
    run = scoring_run_execute(business=salon.business, as_of=AS_OF)
    assert run.status == ScoringRun.Status.SUCCEEDED
    assert run.parameters["bgnbd_fitted"] is False
    assert run.parameters["bgnbd_source"] in ("prior", "pooled")
    assert any(w["code"] == "purchase_model_fallback_few_repeaters" for w in run.warnings)


def test_business_with_one_customer_and_none(salon, tea):
    make_history(salon.business, customers=1, seed=4)
    assert scoring_run_execute(business=salon.business, as_of=AS_OF).customers_scored == 1
    assert scoring_run_execute(business=tea.business, as_of=AS_OF).customers_scored == 0


def test_scoring_one_business_never_touches_another(tea, salon, tea_history, salon_history):
    scoring_run_execute(business=salon.business, as_of=AS_OF)
    salon_before = snapshot(salon.business)
    scoring_run_execute(business=tea.business, as_of=AS_OF)
    assert snapshot(salon.business) == salon_before
    tea_ids = {c.pk for c in tea_history}
    assert set(snapshot(tea.business)) == tea_ids


def test_score_command_and_admin_views_are_scoped(
    tea, salon, tea_history, salon_history, client_for
):
    call_command("score", "--all", "--as-of", "2025-12-31")
    assert ScoringRun.objects.filter(status="succeeded").count() == 2
    client = client_for(tea.owner)
    runs = client.get(reverse("admin:segmentation_scoringrun_changelist")).content.decode()
    salon_run = ScoringRun.objects.get(business=salon.business)
    assert f"/{salon_run.pk}/change/" not in runs
    assert (
        client.get(reverse("admin:segmentation_scoringrun_change", args=[salon_run.pk])).status_code
        == 302
    )
    listing = client.get(
        reverse("admin:customers_customer_changelist"), {"score__value_tier__exact": "A"}
    )
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "客户0" in body or "客户1" in body
    index = client.get(reverse("admin:index")).content.decode()
    assert "xw-segment-chart" in index


def test_rescore_now_queues_a_run(tea, tea_history, client_for, django_capture_on_commit_callbacks):
    client = client_for(tea.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:segmentation_scoringrun_rescore"))
    assert response.status_code == 302
    run = ScoringRun.objects.get()
    assert run.trigger == "manual"
    assert run.status == "succeeded"
    assert run.business == tea.business


def test_backtest_command_reports_predicted_and_actual(tea, tea_history, capsys, tmp_path):
    out = tmp_path / "bt.csv"
    call_command(
        "backtest",
        "--business",
        "tea",
        "--as-of",
        "2025-09-30",
        "--days",
        "90",
        "--output",
        str(out),
        "--language",
        "en",
    )
    text = capsys.readouterr().out
    assert "Total" in text
    assert "Correlation" in text
    call_command("backtest", "--business", "tea", "--as-of", "2025-09-30")  # the shop's language
    chinese = capsys.readouterr().out
    assert "合计" in chinese
    assert "冠军客户" in chinese or "忠诚客户" in chinese
    rows = out.read_text().splitlines()
    assert rows[0] == "customer_id,segment,churn_risk,predicted,actual"
    assert len(rows) == len(tea_history) + 1
    actual_total = sum(int(r.split(",")[4]) for r in rows[1:])
    assert actual_total > 0
    assert "AUC" in text
    assert "days since last visit alone" in text
    # The figures are kept with a backtest run, shown on the run's admin page.
    kept = ScoringRun.objects.filter(trigger=ScoringRun.Trigger.BACKTEST).first()
    figures = kept.backtest
    assert len(figures["churn"]["deciles"]) == 10
    assert figures["purchases"]["actual_total"] == actual_total
    assert 0 <= figures["churn"]["auc"] <= 1
    assert 0 <= figures["recency_baseline"]["brier"] <= 1
    assert sum(d["customers"] for d in figures["churn"]["deciles"]) == figures["customers"]


def test_feedback_feeds_loyalty_and_complaints_cost_to_serve(tea, tea_history):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from customers.models import Interaction
    from feedback.models import Feedback

    happy, quiet = tea_history[1], tea_history[2]
    Feedback.objects.create(business=tea.business, customer=happy, nps=10, stars=5)
    Feedback.objects.create(business=tea.business, customer=quiet, nps=0, stars=1)
    Interaction.objects.create(
        business=tea.business,
        customer=quiet,
        kind=Interaction.Kind.COMPLAINT,
        occurred_at=datetime(2025, 6, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    as_of = timezone.localdate()  # feedback is timestamped now: score after it
    scoring_run_execute(business=tea.business, as_of=as_of)
    scores = snapshot(tea.business)
    assert scores[happy.pk]["satisfaction"] == 1.0
    assert scores[quiet.pk]["satisfaction"] == 0.0
    assert scores[tea_history[3].pk]["satisfaction"] is None  # no feedback: neutral
    assert scores[quiet.pk]["cost_to_serve"] == 20  # one complaint at XW_COMPLAINT_COST

    # The same customer scores higher on loyalty with happy feedback than with unhappy.
    Feedback.objects.filter(customer=quiet).update(nps=10, stars=5)
    scoring_run_execute(business=tea.business, as_of=as_of)
    assert snapshot(tea.business)[quiet.pk]["loyalty_score"] > scores[quiet.pk]["loyalty_score"]
    # feedback after the as-of day does not count
    scoring_run_execute(business=tea.business, as_of=date(2025, 12, 31))
    assert snapshot(tea.business)[happy.pk]["satisfaction"] is None


def test_export_scores_writes_the_documented_columns_safely(tea, tea_history, tmp_path):
    import csv

    from customers.models import Customer

    Customer.objects.filter(pk=tea_history[0].pk).update(name="=HYPERLINK(1)", customer_no="007")
    scoring_run_execute(business=tea.business, as_of=AS_OF)
    out = tmp_path / "scores.csv"
    call_command("export_scores", "--business", "tea", "--output", str(out))
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "customer_no", "phone", "name", "recency_days", "frequency", "monetary", "rfm_segment",
        "p_alive", "churn_risk", "churn_words", "expected_purchases_90d", "predicted_clv",
        "net_value", "value_tier", "loyalty_score", "action", "value_at_stake", "explanation",
    ]  # fmt: skip
    assert len(rows) == len(tea_history)
    first = next(r for r in rows if r["customer_no"] == "007")
    assert first["name"] == "'=HYPERLINK(1)"  # a formula is inert text
    stored = CustomerScore.objects.get(customer=tea_history[0])
    assert first["value_tier"] == stored.value_tier
    assert float(first["churn_risk"]) == pytest.approx(stored.churn_risk)
    assert first["churn_words"].startswith("chance not to come back in 90 days: ")
    assert first["churn_words"].endswith(" %")
    assert first["explanation"]
