"""The tea owner must never see, open, edit, autocomplete or filter to a salon row."""

import pytest
from django.urls import reverse

from customers.models import Customer, Purchase
from tests.admin_forms import admin_form_data
from tests.factories import (
    CustomerFactory,
    FollowUpFactory,
    InteractionFactory,
    PurchaseFactory,
    TagFactory,
)

SECRETS = ("沙龙秘密客户", "沙龙标签", "SALON-1", "沙龙互动", "沙龙回访", "13800138000")


def assert_no_salon(response) -> None:
    body = response.content.decode()
    for secret in SECRETS:
        assert secret not in body, f"{secret!r} leaked at {response.request['PATH_INFO']}"


def admin_url(obj, view: str) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])


@pytest.mark.parametrize("key", ["customer", "tag", "purchase", "interaction", "follow_up"])
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_guessed_ids_of_other_business_do_not_open(tea, salon_world, client_for, key, view):
    client = client_for(tea.owner)
    response = client.get(admin_url(salon_world[key], view), follow=True)
    assert response.status_code in (200, 404)
    assert response.redirect_chain or response.status_code == 404  # bounced, never rendered
    assert_no_salon(response)


TEXT_FIELDS = ("name", "task", "items", "summary")


def tea_world(tea) -> dict:
    customer = CustomerFactory(business=tea.business, name="茶客", phone="+8613900139000")
    return {
        "customer": customer,
        "tag": TagFactory(business=tea.business, name="茶标签"),
        "purchase": PurchaseFactory(customer=customer, items="绿茶"),
        "interaction": InteractionFactory(customer=customer, summary="喝茶"),
        "follow_up": FollowUpFactory(customer=customer, task="回访"),
    }


@pytest.mark.parametrize("key", ["customer", "tag", "purchase", "interaction", "follow_up"])
def test_posting_to_other_business_row_changes_nothing(tea, salon_world, client_for, key):
    client = client_for(tea.owner)
    # A form that saves: the owner's own row of the same kind, posted back with one change.
    own = tea_world(tea)[key]
    data = admin_form_data(client.get(admin_url(own, "change")))
    for name in TEXT_FIELDS:
        if name in data:
            data[name] = "hijacked"
    assert client.post(admin_url(own, "change"), data).status_code == 302
    own.refresh_from_db()
    assert "hijacked" in str(own.__dict__)  # the same post does change the owner's own row

    obj = salon_world[key]
    client.post(admin_url(obj, "change"), data)
    client.post(admin_url(obj, "delete"), {"post": "yes"})
    obj.refresh_from_db()  # still there, unchanged
    assert "hijacked" not in str(obj.__dict__)


@pytest.mark.parametrize(
    "model", ["customer", "tag", "purchase", "interaction", "followup", "customermerge"]
)
def test_changelists_show_only_own_rows(tea, salon_world, client_for, model):
    CustomerFactory(business=tea.business, name="茶馆客户")
    client = client_for(tea.owner)
    url = reverse(f"admin:customers_{model}_changelist")
    response = client.get(url)
    assert response.status_code == 200
    assert_no_salon(response)
    response = client.get(url, {"q": "13800138000"})
    body = response.content.decode()
    assert "沙龙秘密客户" not in body
    assert "SALON-1" not in body


def test_own_rows_are_listed(tea, salon_world, client_for):
    CustomerFactory(business=tea.business, name="茶馆客户")
    response = client_for(tea.owner).get(reverse("admin:customers_customer_changelist"))
    assert "茶馆客户" in response.content.decode()


def test_list_filters_offer_and_apply_only_own_choices(tea, salon_world, client_for):
    client = client_for(tea.owner)
    url = reverse("admin:customers_customer_changelist")
    assert_no_salon(client.get(url))
    # Filtering to a guessed salon tag or salon staff id shows nothing of salon.
    response = client.get(url, {"tags__id__exact": salon_world["tag"].pk})
    assert_no_salon(response)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("model", "field"),
    [("purchase", "customer"), ("interaction", "customer"), ("customer", "tags")],
)
def test_autocomplete_returns_only_own_rows(tea, salon_world, client_for, model, field):
    CustomerFactory(business=tea.business, name="沙龙秘密客户的茶友")
    client = client_for(tea.owner)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "customers", "model_name": model, "field_name": field, "term": "沙龙"},
    )
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert str(salon_world["customer"].pk) not in ids
    assert str(salon_world["tag"].pk) not in ids


def test_cannot_record_purchase_for_other_business_customer(tea, salon_world, client_for):
    client = client_for(tea.owner)
    before = Purchase.objects.count()
    response = client.post(
        reverse("admin:customers_purchase_add"),
        {
            "customer": salon_world["customer"].pk,
            "occurred_at_0": "2026-01-01",
            "occurred_at_1": "10:00:00",
            "amount": "10",
        },
    )
    assert response.status_code == 200  # the form comes back with an error
    assert "Select a valid choice" in response.content.decode()
    assert Purchase.objects.count() == before


def test_saving_puts_rows_in_own_business(tea, client_for):
    client = client_for(tea.owner)
    response = client.post(
        reverse("admin:customers_customer_add"),
        {
            "name": "新客",
            "phone": "139 0000 1111",
            "status": "active",
            "source": "walk_in",
            **_empty_inlines(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    customer = Customer.objects.get(name="新客")
    assert customer.business == tea.business
    assert customer.phone == "+8613900001111"


def _empty_inlines() -> dict:
    data = {}
    for prefix in ("purchases", "interactions", "follow_ups"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


def test_staff_sees_own_data_but_cannot_delete_customers_or_purchases(tea, client_for):
    customer = CustomerFactory(business=tea.business, name="茶客")
    from tests.factories import PurchaseFactory

    purchase = PurchaseFactory(customer=customer)
    client = client_for(tea.staff)
    assert "茶客" in client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert client.get(admin_url(customer, "delete")).status_code == 403
    assert client.post(admin_url(customer, "delete"), {"post": "yes"}).status_code == 403
    assert client.get(admin_url(purchase, "delete")).status_code == 403
    response = client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "delete_selected", "_selected_action": [customer.pk], "post": "yes"},
    )
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert response.status_code in (200, 302)
    # the owner may
    owner = client_for(tea.owner)
    assert owner.post(admin_url(customer, "delete"), {"post": "yes"}).status_code == 302
    assert not Customer.objects.filter(pk=customer.pk).exists()


def test_user_without_membership_sees_nothing(db, salon_world, client_for):
    from tests.factories import UserFactory

    stranger = UserFactory(username="stranger")
    response = client_for(stranger).get(reverse("admin:customers_customer_changelist"))
    assert response.status_code in (302, 403)
