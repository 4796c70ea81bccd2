from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.urls import reverse

from customers.models import Customer, CustomerMerge, FollowUp, Interaction, Purchase
from customers.services import customer_merge
from tests.factories import (
    CustomerFactory,
    FollowUpFactory,
    InteractionFactory,
    PurchaseFactory,
    TagFactory,
)


@pytest.fixture
def pair(tea):
    keep = CustomerFactory(business=tea.business, name="王芳", phone="", city="杭州")
    dupe = CustomerFactory(
        business=tea.business, name="王芳", phone="13800138000", city="杭州", customer_no="007"
    )
    for customer, amounts in ((keep, ["10.00", "20.50"]), (dupe, ["5.25", "7.00", "1.00"])):
        for amount in amounts:
            PurchaseFactory(customer=customer, amount=Decimal(amount))
        InteractionFactory(customer=customer)
        FollowUpFactory(customer=customer)
    vip = TagFactory(business=tea.business, name="VIP")
    dupe.tags.add(vip)
    return keep, dupe


def test_merge_moves_everything_and_loses_nothing(tea, pair):
    keep, dupe = pair
    total_before = Purchase.objects.aggregate(s=Sum("amount"))["s"]
    merged = customer_merge(source=dupe, target=keep, actor=tea.owner)

    assert not Customer.objects.filter(pk=dupe.pk).exists()
    assert merged.purchases.count() == 5
    assert Purchase.objects.aggregate(s=Sum("amount"))["s"] == total_before == Decimal("43.75")
    assert merged.interactions.count() == 2
    assert merged.follow_ups.count() == 2
    assert [t.name for t in merged.tags.all()] == ["VIP"]
    # no orphan anywhere
    for model in (Purchase, Interaction, FollowUp):
        assert not model.objects.exclude(customer__in=Customer.objects.all()).exists()
    # blank fields filled from the merged record, phone freed and taken over
    assert merged.phone == "+8613800138000"
    assert merged.customer_no == "007"
    record = CustomerMerge.objects.get()
    assert record.kept == merged
    assert record.merged_by == tea.owner
    assert record.merged_customer_id == dupe.pk
    assert record.moved["purchases"] == 3


def test_merge_across_businesses_is_refused(tea, salon):
    a = CustomerFactory(business=tea.business)
    b = CustomerFactory(business=salon.business)
    with pytest.raises(ValidationError):
        customer_merge(source=b, target=a, actor=tea.owner)
    assert Customer.objects.filter(pk=b.pk).exists()


def test_duplicates_filter_finds_same_name_and_city(tea, pair, client_for):
    CustomerFactory(business=tea.business, name="独一无二", city="杭州")
    qs = Customer.objects.for_business(tea.business).possible_duplicates()
    assert set(qs.values_list("pk", flat=True)) == {c.pk for c in pair}
    response = client_for(tea.owner).get(
        reverse("admin:customers_customer_changelist"), {"duplicates": "yes"}
    )
    assert "独一无二" not in response.content.decode()


def test_admin_merge_action_keeps_older_customer(tea, pair, client_for):
    keep, dupe = pair
    response = client_for(tea.owner).post(
        reverse("admin:customers_customer_changelist"),
        {"action": "merge_two", "_selected_action": [keep.pk, dupe.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert list(Customer.objects.values_list("pk", flat=True)) == [keep.pk]
    assert Purchase.objects.filter(customer=keep).count() == 5


def test_admin_actions_add_tag_and_set_status(tea, client_for):
    a = CustomerFactory(business=tea.business)
    b = CustomerFactory(business=tea.business)
    client = client_for(tea.staff)
    url = reverse("admin:customers_customer_changelist")
    client.post(url, {"action": "add_tag", "tag": "老客", "_selected_action": [a.pk, b.pk]})
    client.post(url, {"action": "set_status", "status": "lost", "_selected_action": [a.pk]})
    assert [t.name for t in a.tags.all()] == ["老客"]
    assert a.tags.get().business == tea.business
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("lost", "active")


def test_customer_page_shows_timeline_newest_first_and_totals(tea, client_for):
    from datetime import timedelta

    from django.utils import timezone

    customer = CustomerFactory(business=tea.business)
    now = timezone.now()
    PurchaseFactory(customer=customer, amount=Decimal("11.00"), occurred_at=now - timedelta(days=9))
    PurchaseFactory(customer=customer, amount=Decimal("22.00"), occurred_at=now - timedelta(days=1))
    InteractionFactory(customer=customer, summary="中间的拜访", occurred_at=now - timedelta(days=5))
    body = (
        client_for(tea.owner)
        .get(reverse("admin:customers_customer_change", args=[customer.pk]))
        .content.decode()
    )
    timeline = body[body.index('class="xw-timeline"') :]
    assert timeline.index("22.00") < timeline.index("中间的拜访") < timeline.index("11.00")
    assert "33.00" in body  # total spent
