"""The results method recovers a known effect (issue 15).

Synthetic customers return within the window with a base probability; those drawn for the
message return with that probability raised by a known amount. The campaign's results must
find the effect inside their 95 % interval, and find about nothing for a campaign that
changes nothing. Everything is seeded, so the test is deterministic — given the customers'
ids, which the control group hashes: PostgreSQL's sequences keep counting across tests, so
each test here starts them at 1 (on SQLite too), or a 95 % interval would miss the truth in
about one order of the suite in twenty.
"""

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from campaigns.models import CampaignMember
from campaigns.selectors import campaign_results, what_worked
from campaigns.services import campaign_start
from customers.models import Purchase

from .conftest import NOON, campaign, customers

pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True)

N = 3000
BASE = 0.20


def _simulate(business, c, effect: float, seed: int) -> None:
    """Write each member's purchases in the window: came back with BASE (+ effect if treated),
    then 1–3 visits of ¥80–120 (cost unknown: the business's 40 % default margin applies)."""
    rng = random.Random(seed)
    rows = []
    members = CampaignMember.objects.filter(campaign=c).order_by("customer_id")
    for m in members.values("customer_id", "group", "entered_at"):
        p = BASE + (effect if m["group"] == "treatment" else 0.0)
        if rng.random() >= p:
            continue
        for _visit in range(rng.randint(1, 3)):
            rows.append(
                Purchase(
                    business=business,
                    customer_id=m["customer_id"],
                    occurred_at=m["entered_at"] + timedelta(hours=rng.randint(1, 13 * 24)),
                    amount=Decimal(rng.randint(80, 120)),
                )
            )
    # One purchase after the window, and one before entering: neither may count.
    first = members.first()
    rows.append(
        Purchase(
            business=business,
            customer_id=first.customer_id,
            occurred_at=first.entered_at + timedelta(days=20),
            amount=Decimal(9999),
        )
    )
    rows.append(
        Purchase(
            business=business,
            customer_id=first.customer_id,
            occurred_at=first.entered_at - timedelta(days=1),
            amount=Decimal(9999),
        )
    )
    Purchase.objects.bulk_create(rows, batch_size=1000)  # fmt: skip


def _run(business, effect: float, seed: int):
    c = campaign(business, control_pct=30, seed=seed, window_days=14)
    campaign_start(campaign=c, now=NOON)
    _simulate(business, c, effect, seed)
    return campaign_results(c, NOON + timedelta(days=30))


def test_known_effect_is_recovered_within_its_interval(tea):
    customers(tea.business, N)
    r = _run(tea.business, effect=0.10, seed=7)
    d = r.came_back
    assert 800 <= d.n_control <= 1000  # 30 % of 3,000, drawn at random
    assert d.low <= 0.10 <= d.high
    assert d.significant  # a 10-point effect on 3,000 customers is not mistaken for chance
    assert 0.03 < d.half_width < 0.08
    # Visits: 2 per returning customer on average, so about 0.2 extra per treated customer.
    visits, visits_ci = r.extra_visits
    assert visits - visits_ci <= 0.10 * 2 * d.n_treated <= visits + visits_ci
    # Margin: 40 % of ~¥200 per returning customer → about ¥8 extra per treated customer.
    assert r.margin.low <= 0.10 * 2 * 100 * 0.40 <= r.margin.high
    assert "extra visits" in r.summary
    assert r.window_complete


def test_no_effect_shows_about_nothing(tea):
    customers(tea.business, N)
    r = _run(tea.business, effect=0.0, seed=11)
    d = r.came_back
    assert d.low <= 0.0 <= d.high
    assert abs(d.diff) < 0.04
    assert not d.significant
    assert "could still be chance" in r.summary


def test_what_worked_reports_the_effect_per_segment(tea):
    from segmentation.models import Segment
    from tests.factories import give_score

    people = customers(tea.business, 1200)
    for person in people[:600]:
        give_score(person, rfm_segment=Segment.AT_RISK, churn_risk=0.8)
    for person in people[600:]:
        give_score(person, rfm_segment=Segment.LOYAL, churn_risk=0.1)
    c = campaign(tea.business, control_pct=40, seed=3)
    campaign_start(campaign=c, now=NOON)
    rng = random.Random(3)
    rows = []
    for m in CampaignMember.objects.filter(campaign=c).values(
        "customer_id", "group", "segment", "entered_at"
    ):
        # Only the at-risk customers respond to the message (+15 points).
        lift = 0.15 if m["group"] == "treatment" and m["segment"] == Segment.AT_RISK else 0.0
        if rng.random() < 0.3 + lift:
            rows.append(Purchase(business=tea.business, customer_id=m["customer_id"],
                                 occurred_at=m["entered_at"] + timedelta(days=2),
                                 amount=Decimal(100)))  # fmt: skip
    Purchase.objects.bulk_create(rows)
    lessons = {
        lesson.segment: lesson for lesson in what_worked(tea.business, NOON + timedelta(days=30))
    }
    assert lessons[Segment.AT_RISK].came_back.low <= 0.15 <= lessons[Segment.AT_RISK].came_back.high
    assert lessons[Segment.LOYAL].came_back.low <= 0.0 <= lessons[Segment.LOYAL].came_back.high
    assert next(iter(lessons)) == Segment.AT_RISK  # the largest effect first
    assert "points" in lessons[Segment.AT_RISK].words
