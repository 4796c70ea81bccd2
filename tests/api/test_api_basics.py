from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts.models import BusinessAPIKey
from customers.models import Customer, Purchase
from tests.factories import CustomerFactory, PurchaseFactory


def test_create_api_key_command_prints_key_alone_on_last_line(tea, capsys):
    call_command("create_api_key", "tea", "--name", "till", "--read-only")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    stored = BusinessAPIKey.objects.get(name="till")
    assert stored.read_only
    assert stored.business == tea.business
    assert key not in (stored.hashed_key, stored.id)  # only a hash is kept
    assert stored.is_valid(key)


def test_requests_without_or_with_bad_key_are_refused(tea, client):
    assert client.get("/api/v1/customers/").status_code in (401, 403)
    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION="Api-Key nope.nope")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_revoked_key_stops_working(tea, api_for):
    api = api_for(tea.business)
    assert api.get("/api/v1/customers/").status_code == 200
    BusinessAPIKey.objects.update(revoked=True)
    assert api.get("/api/v1/customers/").status_code == 401


def test_customer_crud_with_phone_in_any_format(tea, api_for):
    api = api_for(tea.business)
    response = api.post(
        "/api/v1/customers/",
        {"name": "李白", "phone": "138 0013 8000", "tags": ["熟客", "VIP"], "id": 999},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["phone"] == "+8613800138000"
    assert sorted(body["tags"]) == ["VIP", "熟客"]
    assert body["id"] != 999  # read-only fields are ignored on write
    assert body["score"] is None
    again = api.post(
        "/api/v1/customers/", {"name": "二号", "phone": "+86 138-0013-8000"}, format="json"
    )
    assert again.status_code == 400
    assert "already exists" in str(again.json()["error"]["fields"])
    found = api.get("/api/v1/customers/", {"q": "13800138000"}).json()["results"]
    assert [c["name"] for c in found] == ["李白"]
    patched = api.patch(f"/api/v1/customers/{body['id']}/", {"city": "杭州"}, format="json")
    assert patched.json()["city"] == "杭州"
    assert patched.json()["phone"] == "+8613800138000"


def test_read_only_key_cannot_write(tea, api_for):
    api = api_for(tea.business, read_only=True)
    assert api.get("/api/v1/customers/").status_code == 200
    assert api.post("/api/v1/customers/", {"name": "x"}, format="json").status_code == 403
    assert Customer.objects.count() == 0


def test_keys_cannot_delete_customers_or_purchases(tea, api_for):
    purchase = PurchaseFactory(customer=CustomerFactory(business=tea.business))
    api = api_for(tea.business)
    assert api.delete(f"/api/v1/customers/{purchase.customer_id}/").status_code == 403
    assert api.delete(f"/api/v1/purchases/{purchase.pk}/").status_code == 403
    assert Purchase.objects.count() == 1


def test_session_roles_follow_the_admin(tea, client_for):
    customer = CustomerFactory(business=tea.business)
    staff = client_for(tea.staff)
    assert staff.get("/api/v1/customers/").status_code == 200
    assert staff.delete(f"/api/v1/customers/{customer.pk}/").status_code == 403
    owner = client_for(tea.owner)
    assert owner.delete(f"/api/v1/customers/{customer.pk}/").status_code == 204


def test_errors_have_one_shape_in_callers_language(tea, api_for):
    api = api_for(tea.business)
    response = api.post(
        "/api/v1/customers/", {"phone": "garbage"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) >= {"name"}
    assert "该字段是必填项" in str(error["fields"]["name"])


@pytest.mark.parametrize(
    "payload", [{"amount": "-1"}, {"amount": "abc"}, {"occurred_at": "yesterday"}]
)
def test_bad_purchase_payload_writes_nothing(tea, api_for, payload):
    CustomerFactory(business=tea.business, customer_no="001")
    good = {
        "customer_no": "001",
        "occurred_at": "2026-01-01T10:00:00+08:00",
        "amount": "10",
        "external_id": "T-1",
    }
    response = api_for(tea.business).post("/api/v1/purchases/", {**good, **payload}, format="json")
    assert response.status_code == 400
    assert Purchase.objects.count() == 0


def test_single_purchase_is_idempotent_on_external_id(tea, api_for):
    CustomerFactory(business=tea.business, customer_no="001")
    api = api_for(tea.business)
    sale = {
        "customer_no": "001",
        "occurred_at": "2026-01-01T10:00:00+08:00",
        "amount": "10.50",
        "external_id": "T-1",
    }
    first = api.post("/api/v1/purchases/", sale, format="json")
    second = api.post("/api/v1/purchases/", sale, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Purchase.objects.get().amount == Decimal("10.50")


def test_schema_and_docs_are_served(db, client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/purchases/bulk/" in text
    assert "ApiKey" in text
    assert client.get("/api/docs/").status_code == 200


def test_schema_generates_without_warnings(db, tmp_path):
    # Any warning (an undescribed field, an ambiguous enum) fails here and in check --deploy.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/api/v1/customers/" in (tmp_path / "s.yml").read_text()


def test_throttle_per_key_answers_429(tea, api_for, settings):
    from django.core.cache import cache

    from accounts.api import ApiKeyThrottle

    cache.clear()
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": "3/min"}
    original = ApiKeyThrottle.THROTTLE_RATES
    ApiKeyThrottle.THROTTLE_RATES = rates
    try:
        api, other = api_for(tea.business), api_for(tea.business)
        codes = [api.get("/api/v1/tags/").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        assert other.get("/api/v1/tags/").status_code == 200  # counted per key
        response = api.get("/api/v1/tags/")
        assert response.json()["error"]["code"] == "throttled"
        assert int(response["Retry-After"]) <= 61
    finally:
        ApiKeyThrottle.THROTTLE_RATES = original
        cache.clear()
