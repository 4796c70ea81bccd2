import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from customers.models import Customer
from customers.phones import normalize_phone
from tests.factories import CustomerFactory


@pytest.mark.parametrize("typed", ["138 0013 8000", "+86 138-0013-8000", "13800138000"])
def test_every_format_finds_the_one_customer(tea, client_for, typed):
    CustomerFactory(business=tea.business, name="李白", phone="13800138000")
    CustomerFactory(business=tea.business, name="杜甫", phone="13900139000")
    response = client_for(tea.owner).get(
        reverse("admin:customers_customer_changelist"), {"q": typed}
    )
    body = response.content.decode()
    assert "李白" in body
    assert "杜甫" not in body


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("(021) 6123 4567", "+862161234567"),
        ("", ""),
    ],
)
def test_phone_normalised_to_e164(typed, stored):
    assert normalize_phone(typed, "CN") == stored


def test_garbage_phone_is_refused_with_message():
    with pytest.raises(ValidationError, match="phone"):
        normalize_phone("hello", "CN")


def test_duplicate_phone_refused_in_same_business_with_clear_message(tea, client_for):
    CustomerFactory(business=tea.business, name="李白", phone="13800138000")
    response = client_for(tea.owner).post(
        reverse("admin:customers_customer_add"),
        {"name": "李白二号", "phone": "+86 138-0013-8000", "status": "active", **_no_inlines()},
    )
    assert response.status_code == 200
    assert "already exists in this business" in response.content.decode()
    assert Customer.objects.filter(business=tea.business).count() == 1


def test_same_phone_accepted_in_other_business(tea, salon, client_for):
    CustomerFactory(business=salon.business, name="沙龙李白", phone="13800138000")
    response = client_for(tea.owner).post(
        reverse("admin:customers_customer_add"),
        {"name": "茶馆李白", "phone": "138 0013 8000", "status": "active", **_no_inlines()},
    )
    assert response.status_code == 302
    assert Customer.objects.get(business=tea.business).phone == "+8613800138000"


def test_model_validation_refuses_duplicate_phone(tea):
    CustomerFactory(business=tea.business, phone="13800138000")
    twin = Customer(business=tea.business, name="x", phone="138 0013 8000")
    with pytest.raises(ValidationError, match="already exists"):
        twin.full_clean()


def _no_inlines() -> dict:
    data = {}
    for prefix in ("purchases", "interactions", "follow_ups"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def test_last_four_digits_and_customer_number_find_customers(tea, client_for):
    CustomerFactory(business=tea.business, name="李白", phone="13800138000", customer_no="00042")
    CustomerFactory(business=tea.business, name="杜甫", phone="13900139111")
    client = client_for(tea.owner)
    url = reverse("admin:customers_customer_changelist")
    body = client.get(url, {"q": "8000"}).content.decode()
    assert "李白" in body
    assert "杜甫" not in body
    body = client.get(url, {"q": "00042"}).content.decode()
    assert "李白" in body
    assert "杜甫" not in body
