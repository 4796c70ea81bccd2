"""The member-card API: same keys, scoping, idempotency and error shape as /api/v1/."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.services import api_key_create
from customers.models import Purchase
from membership.models import LedgerEntry, MemberAccount
from tests.conftest import make_tenant
from tests.membership.conftest import open_card

BASE = "/api/v1/member-accounts/"


def post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_open_top_up_checkout_and_read_the_ledger(tea, api_for):
    from tests.factories import CustomerFactory

    api = api_for(tea.business)
    customer = CustomerFactory(business=tea.business)
    opened = api.post(BASE, {"customer": customer.pk}, format="json")
    assert opened.status_code == 201, opened.content
    account_id = opened.json()["id"]
    top = post(api, f"{BASE}{account_id}/top-up/", {"pay": "100.00", "bonus": "10.00"}, "t1")
    assert top.status_code == 201
    assert top.json()["balance"]["stored_value"] == "110.00"
    sale = post(api, f"{BASE}{account_id}/checkout/",
                {"amount": "55.00", "stored_value": "55.00", "items": "茶"}, "c1")  # fmt: skip
    assert sale.status_code == 201, sale.content
    body = sale.json()
    assert body["balance"]["stored_value"] == "55.00"
    assert Purchase.objects.get(pk=body["purchase"]).amount == Decimal("55.00")
    again = post(api, f"{BASE}{account_id}/checkout/",
                 {"amount": "55.00", "stored_value": "55.00", "items": "茶"}, "c1")  # fmt: skip
    assert again.status_code == 200
    assert again.json()["operation"] == body["operation"]
    assert again.json()["replayed"] is True
    conflict = post(api, f"{BASE}{account_id}/checkout/", {"amount": "1.00"}, "c1")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    entries = api.get("/api/v1/ledger-entries/", {"account": account_id}).json()["results"]
    assert {e["kind"] for e in entries} == {"top_up", "bonus", "spend", "points_earned"}
    found = api.get(BASE, {"card_no": opened.json()["card_no"]}).json()["results"]
    assert [a["id"] for a in found] == [account_id]


def test_overdraft_answers_409_with_a_clear_message(tea, api_for):
    account = open_card(tea, stored="20")
    response = post(api_for(tea.business), f"{BASE}{account.pk}/checkout/",
                    {"amount": "30.00", "stored_value": "30.00"}, "o1")  # fmt: skip
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_balance"
    assert "Not enough stored value" in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "1.005"},
        {"amount": "-1"},
        {"amount": "1e9"},
        {"amount": "x"},
        {"amount": "10", "points": -1},
        {"amount": "10", "visit_package": 10**30},
        [],
    ],
)
def test_bad_bodies_answer_400_and_write_nothing(tea, api_for, body):
    account = open_card(tea, stored="20")
    before = LedgerEntry.objects.count()
    response = post(api_for(tea.business), f"{BASE}{account.pk}/checkout/", body, "b1")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["status"] == 400
    assert LedgerEntry.objects.count() == before


def test_commands_need_an_idempotency_key(tea, api_for):
    account = open_card(tea, stored="20")
    response = api_for(tea.business).post(
        f"{BASE}{account.pk}/checkout/", {"amount": "1"}, format="json"
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["message"]


def test_read_only_key_cannot_spend(tea, api_for):
    account = open_card(tea, stored="20")
    response = post(api_for(tea.business, read_only=True), f"{BASE}{account.pk}/checkout/",
                    {"amount": "1", "stored_value": "1"}, "r1")  # fmt: skip
    assert response.status_code == 403


def test_another_business_card_ledger_and_operations_are_404(tea, salon, api_for):
    theirs = open_card(salon, stored="50")
    entry = LedgerEntry.objects.filter(account=theirs).first()
    api = api_for(tea.business)
    for url in (
        f"{BASE}{theirs.pk}/",
        f"/api/v1/ledger-entries/{entry.pk}/",
        f"/api/v1/ledger-operations/{entry.operation_id}/",
    ):
        assert api.get(url).status_code == 404, url
    assert post(api, f"{BASE}{theirs.pk}/checkout/", {"amount": "1"}, "x").status_code == 404
    assert post(api, f"{BASE}{theirs.pk}/top-up/", {"pay": "1"}, "y").status_code == 404
    reverse = post(api, f"/api/v1/ledger-operations/{entry.operation_id}/reverse/",
                   {"reason": "steal"}, "z")  # fmt: skip
    assert reverse.status_code == 404
    assert api.get(BASE).json()["results"] == []
    assert api.get("/api/v1/ledger-entries/").json()["results"] == []
    # Their customer cannot be given a card by us, nor their package used on our card.
    mine = open_card(tea, stored="10")
    assert api.post(BASE, {"customer": theirs.customer_id}, format="json").status_code == 400
    theirs.refresh_from_db()
    assert theirs.principal == Decimal("50.00")
    assert mine.business_id == tea.business.pk


def test_reverse_through_the_api(tea, api_for):
    account = open_card(tea, stored="50")
    api = api_for(tea.business)
    sale = post(api, f"{BASE}{account.pk}/checkout/",
                {"amount": "20", "stored_value": "20"}, "s1").json()  # fmt: skip
    response = post(api, f"/api/v1/ledger-operations/{sale['operation']}/reverse/",
                    {"reason": "wrong card"}, "rv1")  # fmt: skip
    assert response.status_code == 201
    account.refresh_from_db()
    assert account.principal == Decimal("50.00")


@pytest.mark.postgres
def test_16_concurrent_api_spends_of_30_against_100_on_postgresql(transactional_db):
    if connection.vendor != "postgresql":  # the PostgreSQL run covers it (SQLite: threads test)
        pytest.skip("runs in the PostgreSQL run of the suite")
    tenant = make_tenant("apirace", "并发API")
    account = open_card(tenant, stored="100")
    _obj, key = api_key_create(business=tenant.business, name="till")
    barrier = threading.Barrier(16)
    codes: list[int] = []
    messages: list[str] = []

    def run(i: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        try:
            barrier.wait()
            response = post(client, f"{BASE}{account.pk}/checkout/",
                            {"amount": "30.00", "stored_value": "30.00"}, f"race-{i}")  # fmt: skip
            codes.append(response.status_code)
            if response.status_code == 409:
                messages.append(response.json()["error"]["message"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [201] * 3 + [409] * 13
    assert all("Not enough stored value" in m for m in messages)
    account = MemberAccount.objects.get(pk=account.pk)
    assert account.principal + account.bonus == Decimal("10.00")
