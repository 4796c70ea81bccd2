from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from feedback.models import Feedback
from segmentation.models import Action, CustomerScore, ScoringRun, Segment, Tier
from tests.factories import CustomerFactory, FollowUpFactory, PurchaseFactory


def give_score(customer, **values) -> CustomerScore:
    """A stored score for `customer` (the nightly run's output, without running it)."""
    run = ScoringRun.objects.filter(business_id=customer.business_id).first()
    if run is None:
        run = ScoringRun.objects.create(
            business_id=customer.business_id,
            as_of=timezone.localdate(),
            trigger=ScoringRun.Trigger.COMMAND,
            status=ScoringRun.Status.SUCCEEDED,
            started_at=timezone.now(),
        )
    fields = {
        "as_of": timezone.localdate(),
        "recency_days": 63,
        "frequency": 6,
        "monetary": Decimal("120.00"),
        "total_spent": Decimal("720.00"),
        "tenure_days": 168,
        "margin_so_far": Decimal("300.00"),
        "cost_to_serve": Decimal("0.00"),
        "satisfaction": None,
        "r_score": 2,
        "f_score": 4,
        "m_score": 4,
        "rfm_segment": Segment.AT_RISK,
        "p_alive": 0.3,
        "churn_risk": 0.8,
        "expected_purchases_90d": 0.4,
        "expected_order_value": Decimal("120.00"),
        "predicted_clv": Decimal("900.00"),
        "net_value": Decimal("1200.00"),
        "value_tier": Tier.A,
        "loyalty_score": 40.0,
        "action": Action.WIN_BACK,
    }
    fields.update(values)
    # Stored by the scoring run: predicted value × churn risk.
    fields.setdefault(
        "value_at_stake",
        (fields["predicted_clv"] * Decimal(str(fields["churn_risk"]))).quantize(Decimal("0.01")),
    )
    return CustomerScore.objects.create(
        business_id=customer.business_id, customer=customer, run=run, **fields
    )


@pytest.fixture
def tea_day(tea):
    """A working day at the tea house: a slipping regular, a birthday, a due follow-up,
    a detractor's feedback and a sale today."""
    today = timezone.localdate()
    regular = CustomerFactory(
        business=tea.business,
        name="王芳",
        phone="+8613800138000",
        customer_no="0088",
        wechat_id="wangfang88",
    )
    give_score(regular)
    steady = CustomerFactory(business=tea.business, name="李雷", phone="+8613900139000")
    give_score(
        steady,
        churn_risk=0.1,
        action=Action.CARE,
        rfm_segment=Segment.CHAMPIONS,
        net_value=Decimal("3000.00"),
        recency_days=5,
    )
    birthday_girl = CustomerFactory(
        business=tea.business, name="张敏", birthday=today.replace(year=1990) + timedelta(days=2)
    )
    follow_up = FollowUpFactory(
        customer=regular, due_on=today - timedelta(days=1), task="问问新茶", assigned_to=tea.staff
    )
    PurchaseFactory(customer=steady, amount=Decimal("88.00"))
    feedback = Feedback.objects.create(
        business=tea.business, customer=regular, nps=3, comment="茶凉了"
    )
    return {
        "regular": regular,
        "steady": steady,
        "birthday": birthday_girl,
        "follow_up": follow_up,
        "feedback": feedback,
    }
