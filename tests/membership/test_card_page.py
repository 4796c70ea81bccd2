"""The customer's own card page: signed, revocable, no login, no JavaScript, zh/en."""

from decimal import Decimal

from django.test import Client

from membership.card import card_path, card_token
from membership.models import VisitProduct
from membership.services import card_link_renew, checkout, visit_package_sell
from tests.membership.conftest import open_card


def test_card_page_shows_balances_visits_history_and_links_to_feedback(tea):
    account = open_card(tea, stored="100", bonus="10", name="李雷")
    product = VisitProduct.objects.create(
        business=tea.business, name="洗车十次", visits=10, price=Decimal("200")
    )
    visit_package_sell(account=account, product=product)
    checkout(account=account, amount=Decimal("30"), stored_value=Decimal("30"))
    response = Client().get(card_path(account), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    html = response.content.decode()
    account.refresh_from_db()
    assert "李雷" in html
    assert f"{account.stored_value:.2f}" in html
    assert "洗车十次" in html
    assert "10 / 10" in html
    assert account.card_no in html
    assert "储值" in html  # Chinese labels
    assert "/f/" in html  # links to the feedback form
    assert "<script" not in html
    english = Client().get(card_path(account) + "?lang=en").content.decode()
    assert "Stored value" in english
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_tampered_old_and_other_tokens_are_404(tea, salon):
    account = open_card(tea, stored="10")
    token = card_token(account)
    client = Client()
    assert client.get(f"/m/{token}x/").status_code == 404
    assert client.get("/m/not-a-token/").status_code == 404
    assert client.get(f"/m/{'a' * 300}/").status_code == 404
    card_link_renew(account=account)
    assert client.get(f"/m/{token}/").status_code == 404  # revoked
    account.refresh_from_db()
    assert client.get(card_path(account)).status_code == 200


def test_card_of_an_inactive_business_is_404(tea):
    account = open_card(tea, stored="10")
    tea.business.is_active = False
    tea.business.save()
    assert Client().get(card_path(account)).status_code == 404


def test_card_page_takes_no_posts(tea):
    account = open_card(tea)
    assert Client().post(card_path(account)).status_code == 405
