import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Business, Membership
from customers.models import Customer, Purchase
from segmentation.models import CustomerScore, ScoringRun


def test_owner_adds_staff_into_own_business(tea, client_for):
    client = client_for(tea.owner)
    response = client.post(
        reverse("admin:accounts_teammember_add"),
        {
            "username": "tea_new",
            "password1": "Long-enough-pw-42",
            "password2": "Long-enough-pw-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    new = User.objects.get(username="tea_new")
    assert new.is_staff
    assert not new.is_superuser
    assert new.membership.business == tea.business
    assert new.membership.role == Membership.Role.STAFF


def test_owner_deactivates_and_resets_password_of_own_staff(tea, client_for):
    client = client_for(tea.owner)
    url = reverse("admin:accounts_teammember_change", args=[tea.staff.pk])
    response = client.post(url, {"first_name": "小", "last_name": "王", "email": ""})
    assert response.status_code == 302
    tea.staff.refresh_from_db()
    assert not tea.staff.is_active
    response = client.post(
        reverse("admin:auth_user_password_change", args=[tea.staff.pk]).replace(
            "auth/user", "accounts/teammember"
        ),
        {"password1": "Another-long-pw-77", "password2": "Another-long-pw-77"},
    )
    assert response.status_code == 302
    tea.staff.refresh_from_db()
    assert tea.staff.check_password("Another-long-pw-77")


def test_owner_cannot_touch_other_business_staff(tea, salon, client_for):
    client = client_for(tea.owner)
    listing = client.get(reverse("admin:accounts_teammember_changelist")).content.decode()
    assert "salon_staff" not in listing
    assert "tea_staff" in listing
    url = reverse("admin:accounts_teammember_change", args=[salon.staff.pk])
    client.post(url, {"first_name": "x"})
    password_url = url.replace("/change/", "/password/")
    response = client.post(
        password_url, {"password1": "Hijack-pw-12345", "password2": "Hijack-pw-12345"}
    )
    assert response.status_code == 404
    salon.staff.refresh_from_db()
    assert salon.staff.is_active
    assert not salon.staff.check_password("Hijack-pw-12345")


def test_staff_cannot_manage_team_or_business(tea, client_for):
    client = client_for(tea.staff)
    assert client.get(reverse("admin:accounts_teammember_changelist")).status_code == 403
    assert client.get(reverse("admin:accounts_business_changelist")).status_code == 403


def test_owner_sees_only_own_business_settings(tea, salon, client_for):
    client = client_for(tea.owner)
    body = client.get(reverse("admin:accounts_business_changelist")).content.decode()
    assert "清风茶馆" in body
    assert "美尚发艺" not in body
    response = client.get(reverse("admin:accounts_business_change", args=[salon.business.pk]))
    assert response.status_code == 302  # bounced to the index: no such object for this user


def test_create_business_command(db, capsys):
    call_command(
        "create_business",
        "bakery",
        "--name",
        "小面包",
        "--owner",
        "baker",
        "--password",
        "Pw-bakery-2026",
    )
    business = Business.objects.get(slug="bakery")
    owner = User.objects.get(username="baker")
    assert owner.membership.business == business
    assert owner.membership.is_owner
    assert owner.check_password("Pw-bakery-2026")
    assert owner.is_staff
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_business", "bakery", "--name", "x", "--owner", "other")


def test_seed_demo_twice_changes_nothing(db):
    call_command("seed_demo", "--customers", "40")
    counts = (Business.objects.count(), Customer.objects.count(), Purchase.objects.count())
    assert counts[0] == 2
    assert counts[1] == 80
    assert counts[2] > 80
    for username in ("tea_owner", "tea_staff", "salon_owner", "salon_staff"):
        assert User.objects.get(username=username).check_password("xiaowei-demo")
    runs = list(ScoringRun.objects.values_list("business__slug", "status"))
    assert sorted(runs) == [("salon", "succeeded"), ("tea", "succeeded")]  # a scored demo
    assert CustomerScore.objects.count() == 80
    call_command("seed_demo", "--customers", "40")
    assert (Business.objects.count(), Customer.objects.count(), Purchase.objects.count()) == counts
    assert ScoringRun.objects.count() == 2  # no rescoring on a second run
    CustomerScore.objects.all().delete()  # a demo seeded before scores existed gets them
    ScoringRun.objects.all().delete()
    call_command("seed_demo", "--customers", "40")
    assert ScoringRun.objects.filter(status="succeeded").count() == 2
    # repeat, lapsed and one-time buyers all present
    per_customer = [c.purchases.count() for c in Customer.objects.all()]
    assert min(per_customer) <= 1
    assert max(per_customer) >= 5


def test_member_language_overrides_browser(tea, client_for):
    Membership.objects.filter(user=tea.owner).update(language="zh-hans")
    client = client_for(tea.owner)
    body = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans"' in body


def test_browser_language_is_used_without_preference(tea, client_for):
    client = client_for(tea.owner)
    body = client.get(
        reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()
    assert '<html lang="zh-hans"' in body
    body = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert '<html lang="en"' in body
