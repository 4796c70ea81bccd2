"""Free text has a bound on every surface (issue 9, item 15): a 2 MB reply is refused with a
clear message and changes nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import api_key_create
from customers.models import ITEMS_MAX, NOTES_MAX, Customer
from feedback.models import REPLY_MAX, Feedback
from feedback.services import feedback_reply
from tests.factories import CustomerFactory

HUGE = "长" * (2 * 1024 * 1024 // 3)  # a 2 MB reply


@pytest.fixture
def entry(tea):
    return Feedback.objects.create(business=tea.business, nps=3, stars=2, comment="慢")


def test_admin_refuses_an_oversized_reply(client_for, tea, entry):
    url = reverse("admin:feedback_feedback_change", args=[entry.pk])
    response = client_for(tea.owner).post(url, {"status": "in_progress", "reply": HUGE})
    assert response.status_code == 200
    assert f"at most {REPLY_MAX} characters" in response.content.decode()
    entry.refresh_from_db()
    assert (entry.reply, entry.status) == ("", "new")


def test_api_refuses_an_oversized_reply(tea, entry):
    _key, key = api_key_create(business=tea.business, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    reply = "x" * (REPLY_MAX + 1)
    response = api.patch(f"/api/v1/feedback/{entry.pk}/", {"reply": reply}, format="json")
    assert response.status_code == 400
    assert "reply" in response.json()["error"]["fields"]
    entry.refresh_from_db()
    assert entry.reply == ""


def test_service_refuses_an_oversized_reply(tea, entry):
    with pytest.raises(ValidationError, match="at most"):
        feedback_reply(feedback=entry, status="resolved", reply=HUGE, actor=tea.owner)
    entry.refresh_from_db()
    assert entry.reply == ""


def test_customer_notes_are_bounded_in_admin_and_api(client_for, tea):
    customer = CustomerFactory(business=tea.business, name="甲", phone="")
    _key, key = api_key_create(business=tea.business, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    too_long = "n" * (NOTES_MAX + 1)
    response = api.patch(f"/api/v1/customers/{customer.pk}/", {"notes": too_long}, format="json")
    assert response.status_code == 400
    assert "notes" in response.json()["error"]["fields"]
    customer.notes = too_long
    with pytest.raises(ValidationError) as caught:
        customer.full_clean()
    assert "notes" in caught.value.message_dict
    assert Customer.objects.get(pk=customer.pk).notes == ""
    assert Customer.purchases.rel.related_model._meta.get_field("items").max_length == ITEMS_MAX
