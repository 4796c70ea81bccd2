"""An owner's first hour: business settings open and save, API keys keep their expiry."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Business, BusinessAPIKey, Membership
from accounts.tenancy import is_operator


def test_owner_opens_and_saves_own_business_settings(tea, client_for):
    client = client_for(tea.owner)
    url = reverse("admin:accounts_business_change", args=[tea.business.pk])
    response = client.get(url)
    assert response.status_code == 200
    response = client.post(
        url,
        {
            "name": "清风茶馆",
            "currency": "HKD",
            "time_zone": "Asia/Hong_Kong",
            "phone_region": "HK",
            "language": "en",
            "default_margin_pct": "35.50",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tea.business.refresh_from_db()
    assert tea.business.currency == "HKD"
    assert str(tea.business.default_margin_pct) == "35.50"
    assert tea.business.slug == "tea"  # read-only for owners


def test_owner_cannot_open_other_business_settings(tea, salon, client_for):
    url = reverse("admin:accounts_business_change", args=[salon.business.pk])
    response = client_for(tea.owner).post(url, {"name": "hijacked", "currency": "USD"})
    assert response.status_code == 302
    salon.business.refresh_from_db()
    assert salon.business.name == "美尚发艺"


def test_api_key_expiry_from_admin_add_form_is_kept(tea, client_for):
    expires = (timezone.localtime() + timedelta(days=30)).replace(microsecond=0, second=0)
    response = client_for(tea.owner).post(
        reverse("admin:accounts_businessapikey_add"),
        {
            "name": "till",
            "expiry_date_0": expires.strftime("%Y-%m-%d"),
            "expiry_date_1": expires.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    key = BusinessAPIKey.objects.get(name="till")
    assert key.business == tea.business
    assert key.expiry_date == expires


def test_api_key_form_is_translated(tea, client_for):
    client = client_for(tea.owner)
    body = client.get(
        reverse("admin:accounts_businessapikey_add"), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    assert "过期时间" in body
    assert "Once API key expires" not in body


def test_create_business_with_existing_owner_keeps_their_password(tea, capsys):
    call_command("create_business", "bakery2", "--name", "面包", "--owner", "lonely")
    user = User.objects.get(username="lonely")
    user.set_password("Own-secret-pw-1")
    user.save()
    Membership.objects.filter(user=user).delete()
    capsys.readouterr()
    call_command("create_business", "bakery3", "--name", "面包三", "--owner", "lonely")
    user.refresh_from_db()
    assert user.check_password("Own-secret-pw-1")
    assert user.membership.business.slug == "bakery3"
    assert "password unchanged" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "create_business", "bakery4", "--name", "x", "--owner", "lonely", "--password", "Pw-9x"
        )
    assert not Business.objects.filter(slug="bakery4").exists()


def test_superuser_of_deactivated_business_is_not_an_operator(tea, salon_world, client_for):
    tea.owner.is_superuser = True
    tea.owner.save()
    assert not is_operator(User.objects.get(pk=tea.owner.pk))
    Business.objects.filter(pk=tea.business.pk).update(is_active=False)
    owner = User.objects.get(pk=tea.owner.pk)
    assert not is_operator(owner)
    body = client_for(owner).get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "沙龙秘密客户" not in body
