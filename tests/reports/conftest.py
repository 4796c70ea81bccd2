"""A week of known sales, visits, feedback, follow-ups and scores, for checking every figure.

Report week: 2026-W10, Monday 2 March to Sunday 8 March 2026, Asia/Shanghai (UTC+8).
"""

import email
import socket
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from email import policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from customers.models import Customer, FollowUp, Interaction, Purchase
from feedback.models import Feedback
from reports.models import WeeklyScoreSnapshot
from segmentation.models import CustomerScore, ScoringRun
from tests.factories import CustomerFactory

SH = ZoneInfo("Asia/Shanghai")
WEEK = date(2026, 3, 2)
NOW = datetime(2026, 3, 9, 7, 30, tzinfo=SH)  # Monday after, 07:30 local: the report is due


def local(y, m, d, hh=12, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def buy(customer, when, amount) -> Purchase:
    return Purchase.objects.create(
        business=customer.business, customer=customer, occurred_at=when, amount=Decimal(amount)
    )


def score(customer, run, **values) -> CustomerScore:
    defaults = dict(
        as_of=date(2026, 3, 8), recency_days=1, frequency=1, monetary=Decimal("0"),
        total_spent=Decimal("0"), tenure_days=0, margin_so_far=Decimal("0"),
        cost_to_serve=Decimal("0"), r_score=3, f_score=3, m_score=3, rfm_segment="new",
        p_alive=0.5, churn_risk=0.5, expected_purchases_90d=0.5,
        expected_order_value=Decimal("0"), predicted_clv=Decimal("0"), net_value=Decimal("0"),
        value_tier="C", loyalty_score=50.0, action="maintain",
    )  # fmt: skip
    defaults.update(values)
    # Stored by the scoring run: predicted value × churn risk.
    stake = defaults["predicted_clv"] * Decimal(str(defaults["churn_risk"]))
    defaults.setdefault("value_at_stake", stake.quantize(Decimal("0.01")))
    return CustomerScore.objects.create(
        business=customer.business, customer=customer, run=run, **defaults
    )


@dataclass
class KnownWeek:
    business: object
    a: Customer
    b: Customer
    c: Customer
    d: Customer


@pytest.fixture
def known_week(tea) -> KnownWeek:
    biz = tea.business
    a = CustomerFactory(business=biz, name="老客A", source="referral", phone="+8613800000001")
    b = CustomerFactory(business=biz, name="新客B", source="walk_in", phone="+8613800000002")
    c = CustomerFactory(business=biz, name="客C", source="referral", phone="+8613800000003")
    d = CustomerFactory(business=biz, name="投诉D", source="walk_in", phone="+8613800000004")
    # Sales
    buy(a, local(2025, 1, 10), "300.00")  # first purchase long ago
    buy(a, local(2026, 3, 2, 10, 0), "100.00")  # Monday of the week
    buy(a, local(2026, 3, 8, 23, 30), "50.00")  # Sunday 23:30 local: still this week
    buy(a, local(2026, 3, 9, 0, 30), "999.00")  # Monday 00:30 local: next week
    buy(b, local(2026, 3, 4, 15, 0), "200.00")  # first ever: a new customer
    buy(c, local(2026, 2, 25, 18, 0), "80.00")  # last week, first ever
    buy(d, local(2025, 2, 1), "20.00")
    # Feedback this week: NPS 10, 9, 3 (one answered), stars 5, 4
    for nps, stars, when, reply in [
        (10, 5, local(2026, 3, 3), ""),
        (9, 4, local(2026, 3, 8, 23, 30), ""),
        (3, None, local(2026, 3, 5), "对不起，已处理"),
        (8, 3, local(2026, 3, 9, 0, 30), ""),  # next week
    ]:
        Feedback.objects.create(business=biz, nps=nps, stars=stars, created_at=when, reply=reply)
    # Complaints: one this week (A), D two within 12 months
    Interaction.objects.create(
        business=biz, customer=a, kind="complaint", occurred_at=local(2026, 3, 6)
    )
    Interaction.objects.create(
        business=biz, customer=a, kind="complaint", occurred_at=local(2026, 1, 6)
    )
    for when in (local(2025, 12, 1), local(2026, 1, 20)):
        Interaction.objects.create(business=biz, customer=d, kind="complaint", occurred_at=when)
    # Follow-ups
    FollowUp.objects.create(
        business=biz, customer=a, due_on=date(2026, 2, 25), task="回访",
        assigned_to=tea.staff, done_at=local(2026, 3, 3),
    )  # fmt: skip  # overdue at the end of last week, done this week
    FollowUp.objects.create(
        business=biz, customer=b, due_on=date(2026, 3, 6), task="问满意度", assigned_to=tea.staff
    )  # overdue now
    FollowUp.objects.create(business=biz, customer=c, due_on=date(2026, 3, 10), task="下周")
    # Scores
    run = ScoringRun.objects.create(
        business=biz, as_of=date(2026, 3, 8), trigger="command", status="succeeded",
        started_at=local(2026, 3, 9, 2, 30),
    )  # fmt: skip
    score(a, run, value_tier="A", rfm_segment="champions", predicted_clv=Decimal("1000.00"),
          churn_risk=0.1, margin_so_far=Decimal("600.00"), cost_to_serve=Decimal("40.00"),
          net_value=Decimal("1560.00"), total_spent=Decimal("1150.00"), frequency=3)  # fmt: skip
    score(b, run, value_tier="B", rfm_segment="new", predicted_clv=Decimal("500.00"),
          churn_risk=0.6, margin_so_far=Decimal("80.00"), net_value=Decimal("580.00"),
          total_spent=Decimal("200.00"), frequency=1, recency_days=4)  # fmt: skip
    score(c, run, value_tier="C", rfm_segment="at_risk", predicted_clv=Decimal("100.00"),
          churn_risk=0.9, margin_so_far=Decimal("10.00"), cost_to_serve=Decimal("30.00"),
          net_value=Decimal("-20.00"), total_spent=Decimal("80.00"), frequency=1)  # fmt: skip
    score(d, run, value_tier="C", rfm_segment="hibernating", predicted_clv=Decimal("30.00"),
          churn_risk=0.0, margin_so_far=Decimal("8.00"), cost_to_serve=Decimal("3.00"),
          net_value=Decimal("5.00"), total_spent=Decimal("20.00"), frequency=1)  # fmt: skip
    # Last week's snapshot: A was B/loyal, C was B/need_attention, D was C/champions
    ids = sorted([a.pk, c.pk, d.pk])
    before = {a.pk: ("B", "loyal"), c.pk: ("B", "need_attention"), d.pk: ("C", "champions")}
    WeeklyScoreSnapshot.objects.create(
        business=biz,
        week_start=date(2026, 2, 23),
        data={
            "ids": ids,
            "tiers": "".join(before[i][0] for i in ids),
            "segments": [before[i][1] for i in ids],
        },
    )
    return KnownWeek(biz, a, b, c, d)


class Mailbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox(settings):
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = False
    settings.DEFAULT_FROM_EMAIL = "XiaoWei CRM <report@xiaowei.test>"
    yield box
    controller.stop()
