"""Tenancy of the phone app: another business's ids are 404 on every screen and partial,
nothing of theirs shows up, and owner-only screens are 403 for staff."""

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import FollowUp, Interaction, Purchase
from feedback.models import Feedback

pytestmark = pytest.mark.django_db


@pytest.fixture
def salon_feedback(salon, salon_world):
    return Feedback.objects.create(
        business=salon.business, customer=salon_world["customer"], nps=2, comment="沙龙差评"
    )


def _foreign_urls(world, feedback):
    c, f = world["customer"].pk, world["follow_up"].pk
    return [
        ("get", reverse("shop:customer", args=[c]), {}),
        ("get", reverse("shop:timeline", args=[c]), {}),
        ("post", reverse("shop:add_note", args=[c]), {"summary": "x"}),
        ("post", reverse("shop:add_interaction", args=[c]), {"kind": "call"}),
        ("post", reverse("shop:add_follow_up", args=[c]), {"task": "x", "due_on": "2030-01-01"}),
        ("post", reverse("shop:follow_up_done", args=[f]), {}),
        ("post", reverse("shop:follow_up_snooze", args=[f]), {"days": "1"}),
        ("post", reverse("shop:feedback_reply", args=[feedback.pk]), {"status": "resolved"}),
        ("get", reverse("shop:sale") + f"?customer={c}", {}),
        ("post", reverse("shop:sale"), {"key": str(uuid.uuid4()), "customer": c, "amount": "9"}),
    ]


@pytest.mark.parametrize("role", ["owner", "staff"])
@pytest.mark.parametrize("htmx", [False, True])
def test_another_business_ids_are_404_and_change_nothing(
    client_for, tea, salon_world, salon_feedback, role, htmx
):
    client = client_for(getattr(tea, role))
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for method, url, data in _foreign_urls(salon_world, salon_feedback):
        response = getattr(client, method)(url, data, **headers)
        assert response.status_code == 404, (method, url)
    assert Interaction.objects.filter(customer=salon_world["customer"]).count() == 1
    assert Purchase.objects.filter(customer=salon_world["customer"]).count() == 1
    follow_up = FollowUp.objects.get(pk=salon_world["follow_up"].pk)
    assert follow_up.done_at is None
    assert follow_up.due_on == timezone.localdate()
    salon_feedback.refresh_from_db()
    assert salon_feedback.status == Feedback.Status.NEW


def test_no_screen_shows_another_business_rows(client_for, tea, salon_world, salon_feedback):
    client = client_for(tea.owner)
    pages = [
        reverse("shop:today"),
        reverse("shop:search") + "?q=8000",
        reverse("shop:search") + "?q=沙龙",
        reverse("shop:search") + "?q=S-001",
        reverse("shop:customers"),
        reverse("shop:customers") + f"?tag={salon_world['tag'].pk}",
        reverse("shop:follow_ups") + "?who=all",
        reverse("shop:feedback") + "?show=all",
        reverse("shop:owner"),
        reverse("shop:poster"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for secret in ("沙龙秘密客户", "沙龙回访", "沙龙差评", "沙龙标签", "salon_staff"):
            assert secret not in html, (url, secret)


def test_owner_only_screens_are_403_for_staff(client_for, tea):
    client = client_for(tea.staff)
    for name in ("shop:owner", "shop:poster"):
        assert client.get(reverse(name)).status_code == 403
        assert client.get(reverse(name), HTTP_HX_REQUEST="true").status_code == 403


def test_users_without_an_active_business_get_403(client_for, tea, django_user_model):
    loner = django_user_model.objects.create_user("loner", password="pw-loner-1")
    assert client_for(loner).get(reverse("shop:today")).status_code == 403
    tea.business.is_active = False
    tea.business.save()
    assert client_for(tea.owner).get(reverse("shop:today")).status_code == 403


def test_sale_cannot_reuse_another_business_key(client_for, tea, salon, salon_world):
    """The idempotency key is per business: a salon key never returns the salon's sale."""
    key = str(uuid.uuid4())
    salon_client = client_for(salon.staff)
    data = {"key": key, "customer": salon_world["customer"].pk, "amount": "30"}
    assert salon_client.post(reverse("shop:sale"), data).status_code == 302
    tea_client = client_for(tea.staff)
    new = {"key": key, "name": "茶客", "phone": "13711112222", "amount": "8"}
    response = tea_client.post(reverse("shop:sale"), new)
    assert response.status_code == 302
    assert Purchase.objects.filter(business=tea.business, amount=8).count() == 1
