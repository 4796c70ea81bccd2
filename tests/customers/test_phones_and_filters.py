"""Phones must be real numbers on every surface (issue 9, item 13), existing bad ones are
findable; the tag filter stays light with thousands of tags (item 15)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import api_key_create
from customers.importing import import_file
from customers.models import Customer
from customers.phones import normalize_phone
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.usefixtures("media_in_tmp")

NOT_REAL = ["12345", "1391234567", "14000138000", "+86 123", "+44 20 7946"]


@pytest.mark.parametrize("typed", NOT_REAL)
def test_numbers_that_cannot_be_real_are_refused(typed):
    with pytest.raises(ValidationError, match="not a valid phone number for CN"):
        normalize_phone(typed, "CN")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("13800138000", "+8613800138000"), ("+44 20 7946 0000", "+442079460000"),
     ("010 6552 9988", "+861065529988")],
)  # fmt: skip
def test_real_local_and_international_numbers_are_kept(typed, stored):
    assert normalize_phone(typed, "CN") == stored


def test_import_reports_unreal_phones_as_row_errors(tea, make_file):
    path = make_file(
        [["姓名", "手机"], ["甲", "12345"], ["乙", "1391234567"], ["丙", "14000138000"],
         ["丁", "13800138000"]]
    )  # fmt: skip
    report = import_file(path, business=tea.business, kind="customers")
    assert [(e["row"], e["column"]) for e in report.errors] == [
        (2, "手机"),
        (3, "手机"),
        (4, "手机"),
    ]
    assert "not a valid phone number" in report.errors[0]["message"]
    assert not report.written
    assert not Customer.objects.exists()


def test_purchase_import_refuses_unreal_phones_too(tea, make_file):
    path = make_file([["日期", "手机", "金额"], ["2025-03-01", "12345", "10"]])
    report = import_file(path, business=tea.business, kind="purchases", create_customers=True)
    assert [(e["row"], e["column"]) for e in report.errors] == [(2, "手机")]
    assert not Customer.objects.exists()


def test_admin_form_refuses_an_unreal_phone(tea, client_for):
    response = client_for(tea.owner).post(
        reverse("admin:customers_customer_add"),
        {"name": "甲", "phone": "12345", "status": "active", "source": "walk_in"},
    )
    assert response.status_code == 200
    assert "not a valid phone number" in response.content.decode()
    assert not Customer.objects.exists()


def test_api_refuses_an_unreal_phone_with_a_clear_400(tea):
    _key, key = api_key_create(business=tea.business, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = api.post("/api/v1/customers/", {"name": "甲", "phone": "12345"}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()["error"]["fields"]
    assert not Customer.objects.exists()


def _stored_unchecked(business, name, phone):
    """A customer saved before phones were validated (bypassing clean())."""
    customer = CustomerFactory(business=business, name=name, phone="")
    Customer.objects.filter(pk=customer.pk).update(phone=phone)
    return customer


def test_phone_needs_checking_filter_lists_only_own_invalid_phones(tea, salon, client_for):
    good = CustomerFactory(business=tea.business, name="好号码", phone="13800138000")
    _stored_unchecked(tea.business, "短号码", "+8612345")
    _stored_unchecked(tea.business, "十位数", "+861391234567")
    _stored_unchecked(salon.business, "沙龙坏号码", "+8699")
    url = reverse("admin:customers_customer_changelist")
    body = client_for(tea.owner).get(url, {"phone_check": "needs_checking"}).content.decode()
    assert "短号码" in body
    assert "十位数" in body
    assert good.name not in body
    assert "沙龙坏号码" not in body
    assert Customer.objects.count() == 4  # nothing deleted or changed
    assert Customer.objects.get(name="短号码").phone == "+8612345"


def test_tag_filter_searches_instead_of_listing_every_tag(tea, salon_world, client_for):
    tags = [TagFactory(business=tea.business, name=f"标签{i:04d}") for i in range(300)]
    vip = TagFactory(business=tea.business, name="VIP")
    CustomerFactory(business=tea.business, name="贵宾客户", tags=[vip])
    CustomerFactory(business=tea.business, name="普通客户", tags=[tags[0]])
    client = client_for(tea.owner)
    url = reverse("admin:customers_customer_changelist")
    body = client.get(url).content.decode()
    assert body.count("标签0") <= 15  # a few quick links, not all 300
    assert 'name="tag"' in body
    found = client.get(url, {"tag": "vi"}).content.decode()
    assert "贵宾客户" in found
    assert "普通客户" not in found
    # The salon's tag name finds nothing of the salon.
    salon_tag = salon_world["tag"]
    assert "沙龙秘密客户" not in client.get(url, {"tag": salon_tag.name}).content.decode()
    by_id = client.get(url, {"tags__id__exact": vip.pk})
    assert by_id.status_code == 200
    assert "贵宾客户" in by_id.content.decode()
    assert "普通客户" not in by_id.content.decode()
