"""Every write through a service; the members query and the NPS bands written once."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.tenancy import business_members
from feedback.models import NPS_BANDS, Feedback
from tests.factories import BusinessFactory, CustomerFactory, FollowUpFactory


def test_mark_done_action_goes_through_the_service(tea, salon, client_for):
    earlier = timezone.now() - timedelta(days=3)
    open_one = FollowUpFactory(customer=CustomerFactory(business=tea.business), task="a")
    done = FollowUpFactory(customer=CustomerFactory(business=tea.business), task="b")
    done.done_at = earlier
    done.save()
    theirs = FollowUpFactory(customer=CustomerFactory(business=salon.business), task="c")
    response = client_for(tea.owner).post(
        reverse("admin:customers_followup_changelist"),
        {"action": "mark_done", "_selected_action": [open_one.pk, done.pk, theirs.pk]},
        follow=True,
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 follow-up done."]
    for row in (open_one, done, theirs):
        row.refresh_from_db()
    assert open_one.done_at is not None
    assert done.done_at == earlier
    assert theirs.done_at is None


def test_tag_message_counts_only_the_customers_tagged(tea, salon, client_for):
    operator = User.objects.create_superuser("op", password="Op-pw-123456")
    first = CustomerFactory(business=tea.business)
    other = CustomerFactory(business=salon.business)
    response = client_for(operator).post(
        reverse("admin:customers_customer_changelist"),
        {"action": "add_tag", "tag": "VIP", "_selected_action": [first.pk, other.pk]},
        follow=True,
    )
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == ["Tag “VIP” added to 1 customer."]
    assert first.tags.count() + other.tags.count() == 1


def test_business_members_fail_closed(tea, salon):
    assert set(business_members(tea.business)) == {tea.owner, tea.staff}
    assert business_members(None).count() == 0
    User.objects.create_user("nobody")  # belongs to no business
    assert business_members(None).count() == 0
    assert business_members(BusinessFactory(slug="empty")).count() == 0


@pytest.mark.parametrize("nps", range(11))
def test_nps_group_and_its_filter_agree(tea, nps):
    entry = Feedback.objects.create(business=tea.business, nps=nps, created_at=timezone.now())
    group = Feedback.group_of(nps)
    assert Feedback.objects.filter(Feedback.group_q(group), pk=entry.pk).exists()
    others = [g for g in NPS_BANDS if g != group]
    assert not any(
        Feedback.objects.filter(Feedback.group_q(g), pk=entry.pk).exists() for g in others
    )


def test_money_keeps_its_sign_with_the_symbol():
    from decimal import Decimal

    from customers.money import format_money

    assert format_money(Decimal("1234.5")) == "¥1,234.50"
    # A loss: the sign before the symbol, joined to it so a line never breaks between them.
    assert format_money(Decimal("-280")) == "-\u2060¥280.00"
    assert format_money(-0.004) == "¥0.00"
    assert format_money(12, "USD", signed=True) == "+\u2060$12.00"
