from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from feedback.models import Feedback
from segmentation.models import Action, Segment
from tests.factories import CustomerFactory, FollowUpFactory, PurchaseFactory, give_score


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
