"""The shop's checkout pays with the member card (issue 13 §4) through membership's checkout
service; the customer card shows the member card; the search finds a card number."""

import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Purchase
from membership.models import LedgerEntry, LedgerOperation, MemberAccount
from membership.services import coupon_issue, visit_package_sell
from tests.membership.conftest import open_card, products  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(tea, products):  # noqa: F811
    """王芳's card: ¥100 paid + ¥20 bonus, a 10-visit package and a ¥20-off coupon."""
    account = open_card(tea, stored="100", bonus="20")
    visit_package_sell(account=account, product=products["visits"], key="v1", actor=tea.owner)
    coupon_issue(account=account, template=products["coupon"], key="c1", actor=tea.owner)
    account.refresh_from_db()
    return account


def _key(client, customer) -> str:
    html = client.get(reverse("shop:sale"), {"customer": customer.pk}).content.decode()
    return re.search(r'name="key" value="([0-9a-f-]+)"', html).group(1)


def test_sale_form_offers_the_card_to_a_member_only(client_for, tea, member, tea_day):
    client = client_for(tea.staff)
    html = client.get(reverse("shop:sale"), {"customer": member.customer_id}).content.decode()
    assert member.card_no in html
    assert "¥120.00" in html  # stored value, paid + bonus
    for name in ("stored_value", "visit_package", "points", "coupon"):
        assert f'name="{name}"' in html, name
    assert "洗车10次" in html
    assert "满100减20" in html
    plain = client.get(reverse("shop:sale"), {"customer": tea_day["regular"].pk})
    assert 'name="stored_value"' not in plain.content.decode()


def test_member_pays_from_stored_value_earns_points_once_on_a_double_tap(client_for, tea, member):
    client = client_for(tea.staff)
    post = {"key": _key(client, member.customer), "customer": member.customer_id,
            "amount": "60", "stored_value": "60", "items": "龙井"}  # fmt: skip
    first = client.post(reverse("shop:sale"), post)
    assert first.status_code == 302
    assert first["Location"] == reverse("shop:customer", args=[member.customer_id])
    again = client.post(reverse("shop:sale"), post, follow=True).content.decode()
    assert "Sale recorded for 王芳" in again  # the first tap's message, then the replay's
    assert "already recorded" in again
    member.refresh_from_db()
    assert member.principal + member.bonus == Decimal("60.00")
    assert Purchase.objects.filter(customer=member.customer).count() == 1
    assert Purchase.objects.get(customer=member.customer).amount == Decimal("60.00")
    assert LedgerEntry.objects.filter(account=member, kind=LedgerEntry.Kind.SPEND).count() == 1
    earned = LedgerEntry.objects.get(account=member, kind=LedgerEntry.Kind.POINTS_EARNED)
    assert member.points == earned.points > 0
    assert f"points earned: {earned.points}" in again


def test_member_uses_a_visit_and_a_coupon(client_for, tea, member):
    client = client_for(tea.staff)
    package = member.visit_packages.get()
    coupon = member.coupons.get()
    post = {"key": _key(client, member.customer), "customer": member.customer_id,
            "amount": "120", "coupon": coupon.pk, "visit_package": package.pk}  # fmt: skip
    assert client.post(reverse("shop:sale"), post).status_code == 302
    package.refresh_from_db()
    coupon.refresh_from_db()
    assert package.visits_left == 9
    assert coupon.uses_left == 0
    purchase = Purchase.objects.get(customer=member.customer)
    assert purchase.amount == Decimal("110.00")  # 120 − 20 coupon + one visit's share of ¥100


def test_overdraft_is_refused_with_a_message_and_nothing_written(client_for, tea, member):
    client = client_for(tea.staff)
    post = {"key": _key(client, member.customer), "customer": member.customer_id,
            "amount": "500", "stored_value": "500"}  # fmt: skip
    response = client.post(reverse("shop:sale"), post)
    assert response.status_code == 400
    assert "Not enough stored value" in response.content.decode()
    member.refresh_from_db()
    assert member.principal + member.bonus == Decimal("120.00")
    assert not Purchase.objects.filter(customer=member.customer).exists()
    assert not LedgerOperation.objects.filter(command="checkout").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"points": "5"}, "Not enough points"),
        ({"points": "-1"}, "greater than or equal to 0"),
        ({"stored_value": "abc"}, "Enter a number"),
        ({"coupon": "999999"}, "Select a valid choice"),
        ({"amount": "0"}, "or use a visit"),
    ],
)
def test_bad_card_input_says_why_and_changes_nothing(client_for, tea, member, extra, message):
    client = client_for(tea.staff)
    post = {"key": str(uuid.uuid4()), "customer": member.customer_id, "amount": "30", **extra}
    response = client.post(reverse("shop:sale"), post)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Purchase.objects.filter(customer=member.customer).exists()
    assert not LedgerOperation.objects.filter(command="checkout").exists()


def test_customer_card_shows_the_member_card(client_for, tea, member):
    html = client_for(tea.staff).get(reverse("shop:customer", args=[member.customer_id]))
    html = html.content.decode()
    assert member.card_no in html
    assert "¥120.00" in html
    assert "paid ¥100.00 + bonus ¥20.00" in html
    visits = html.split("Visits left</dt><dd>")[1].split("</dd>")[0]
    assert visits.startswith("10<span>1 package")
    assert "Coupons</dt><dd>1</dd>" in html
    assert "Points</dt><dd>0</dd>" in html


def test_search_finds_a_customer_by_card_number(client_for, tea, member):
    html = client_for(tea.staff).get(reverse("shop:search"), {"q": member.card_no})
    assert member.customer.name in html.content.decode()


def test_another_business_card_is_never_used_or_shown(client_for, tea, salon, member):
    """A salon card number finds nothing at the tea house; the salon's package and coupon
    are not valid choices on a tea-house member's sale; a salon member's sale is a 404."""
    salon_card = open_card(salon, stored="50", name="沙龙会员")
    client = client_for(tea.owner)
    html = client.get(reverse("shop:search"), {"q": salon_card.card_no}).content.decode()
    assert "沙龙会员" not in html
    response = client.get(reverse("shop:sale"), {"customer": salon_card.customer_id})
    assert response.status_code == 404
    post = {"key": str(uuid.uuid4()), "customer": salon_card.customer_id, "amount": "10",
            "stored_value": "10"}  # fmt: skip
    assert client.post(reverse("shop:sale"), post).status_code == 404
    assert client.get(reverse("shop:customer", args=[salon_card.customer_id])).status_code == 404
    salon_card.refresh_from_db()
    assert salon_card.principal == Decimal("50.00")
    # another card's package id is not a choice on this card
    other = open_card(tea, stored="10", name="李四")
    post = {"key": str(uuid.uuid4()), "customer": other.customer_id, "amount": "10",
            "visit_package": member.visit_packages.get().pk}  # fmt: skip
    response = client.post(reverse("shop:sale"), post)
    assert response.status_code == 400
    assert MemberAccount.objects.get(pk=member.pk).visit_packages.get().visits_left == 10


@pytest.mark.parametrize("role", ["owner", "staff"])
def test_member_screens_need_at_most_10_queries_and_fit_14_kb(
    client_for, tea, member, django_assert_max_num_queries, role
):
    import gzip

    from django.contrib.staticfiles import finders

    css = gzip.compress(open(finders.find("shop/app.css"), "rb").read())  # noqa: SIM115
    client = client_for(getattr(tea, role))
    for url in (
        reverse("shop:sale") + f"?customer={member.customer_id}",
        reverse("shop:customer", args=[member.customer_id]),
        reverse("shop:search") + f"?q={member.card_no}",
    ):
        client.get(url)
        with django_assert_max_num_queries(10):
            response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200
        assert len(response.content) + len(css) <= 14 * 1024, (url, len(response.content))
