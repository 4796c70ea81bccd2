"""Saving a customer unchanged changes nothing; pickers tell namesakes apart."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib.admin.models import LogEntry
from django.urls import reverse

from customers.models import Customer
from tests.admin_forms import admin_form_data
from tests.factories import CustomerFactory, PurchaseFactory


def test_saving_a_customer_unchanged_keeps_the_consent_time(tea, client_for):
    given = datetime(2026, 3, 1, 16, 10, 21, 947000, tzinfo=ZoneInfo("Asia/Shanghai"))
    customer = CustomerFactory(business=tea.business, name="沈刚", marketing_consent=True)
    Customer.objects.filter(pk=customer.pk).update(marketing_consent_at=given)
    PurchaseFactory(customer=customer)
    client = client_for(tea.owner)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    data = admin_form_data(client.get(url))
    data["_save"] = "Save"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.marketing_consent_at == given
    entry = LogEntry.objects.filter(object_id=str(customer.pk)).latest("action_time")
    assert "consent" not in entry.get_change_message().lower()


def test_namesakes_differ_in_the_customer_picker(tea, client_for):
    CustomerFactory(business=tea.business, name="沈刚", phone="13800138000")
    CustomerFactory(business=tea.business, name="沈刚", phone="13900139111")
    CustomerFactory(business=tea.business, name="沈刚", phone="")
    response = client_for(tea.owner).get(
        reverse("admin:autocomplete"),
        {
            "term": "沈刚",
            "app_label": "customers",
            "model_name": "purchase",
            "field_name": "customer",
        },
    )
    labels = sorted(r["text"] for r in response.json()["results"])
    assert labels == ["沈刚", "沈刚 (…8000)", "沈刚 (…9111)"]
