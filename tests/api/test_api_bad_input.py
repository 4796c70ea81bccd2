"""Issue 9: bad input never answers 500 (item 5), datetimes (item 6), size and count bounds
(item 15), page_size (item 18), throttling of wrong API keys (item 14)."""

import json
import logging

import pytest
from django.core.cache import cache

from customers.models import Customer, Purchase, Tag
from tests.factories import CustomerFactory, TagFactory

LISTS = ["customers", "tags", "purchases", "interactions", "follow-ups", "feedback",
         "scoring-runs"]  # fmt: skip
FORGED = ["cD1hYmM=", "cD0xZTk5OTk5OTk5OTk5OTk5OTk5OQ==", "not-base64!", "cj0xJnA9eA=="]


@pytest.mark.parametrize("resource", LISTS)
@pytest.mark.parametrize("cursor", FORGED)
def test_forged_cursor_is_a_400_in_the_error_shape(tea, api_for, resource, cursor):
    CustomerFactory(business=tea.business)
    TagFactory(business=tea.business)
    response = api_for(tea.business).get(f"/api/v1/{resource}/", {"cursor": cursor})
    if resource == "tags" and cursor != "not-base64!":
        # Tags page by name: any text is a position there ("after 'abc'"), never an error.
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]


def test_deeply_nested_json_is_a_400(tea, api_for):
    body = "[" * 4096 + "]" * 4096
    response = api_for(tea.business).generic(
        "POST", "/api/v1/purchases/bulk/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_patch_tag_with_empty_body_keeps_it(tea, api_for):
    tag = TagFactory(business=tea.business, name="VIP")
    response = api_for(tea.business).patch(f"/api/v1/tags/{tag.pk}/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "VIP"


def test_oversized_body_gets_413_in_the_json_shape(tea, api_for, settings):
    settings.XW_API_BODY_MAX = 10_000
    body = json.dumps([{"items": "x" * 200}] * 100)
    response = api_for(tea.business).generic(
        "POST", "/api/v1/purchases/bulk/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "too_large"
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize(
    "when",
    ["2026-01-01T10:00:00+20:29", "2026-01-01T10:00:00+23:59", "2026-01-01T10:00:00+08:07",
     "1899-12-31T23:59:59Z", "1969-12-31T23:59:59Z", "2200-01-01T00:00:00Z"],
)  # fmt: skip
def test_odd_offsets_and_far_dates_are_refused(tea, api_for, when):
    CustomerFactory(business=tea.business, customer_no="001")
    sale = {"customer_no": "001", "occurred_at": when, "amount": "1", "external_id": "D"}
    response = api_for(tea.business).post("/api/v1/purchases/", sale, format="json")
    assert response.status_code == 400
    assert "occurred_at" in response.json()["error"]["fields"]["0"]
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize("when", ["2026-01-01T10:00:00+05:45", "2026-01-01T10:00:00-09:30"])
def test_real_zone_offsets_are_accepted(tea, api_for, when):
    CustomerFactory(business=tea.business, customer_no="001")
    sale = {"customer_no": "001", "occurred_at": when, "amount": "1", "external_id": "D"}
    response = api_for(tea.business).post("/api/v1/purchases/", sale, format="json")
    assert response.status_code == 201, response.json()


def test_too_many_tags_in_one_request_are_refused(tea, api_for):
    tags = [f"t{i}" for i in range(51)]
    response = api_for(tea.business).post(
        "/api/v1/customers/", {"name": "多标签", "tags": tags}, format="json"
    )
    assert response.status_code == 400
    assert "tags" in response.json()["error"]["fields"]
    assert Tag.objects.count() == Customer.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/v1/customers/", "notes"), ("/api/v1/interactions/", "summary")],
)
def test_long_text_is_refused(tea, api_for, path, field):
    customer = CustomerFactory(business=tea.business)
    body = {"name": "x", "customer": customer.pk, field: "长" * 5001}
    response = api_for(tea.business).post(path, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_feedback_reply_is_bounded(tea, api_for):
    from feedback.models import Feedback

    entry = Feedback.objects.create(business=tea.business, nps=3)
    response = api_for(tea.business).patch(
        f"/api/v1/feedback/{entry.pk}/", {"reply": "x" * 2_000_000}, format="json"
    )
    assert response.status_code in (400, 413)
    entry.refresh_from_db()
    assert entry.reply == ""


def test_tags_are_paginated_and_page_size_is_honoured_up_to_its_max(tea, api_for):
    Tag.objects.bulk_create(Tag(business=tea.business, name=f"T{i:03d}") for i in range(230))
    api = api_for(tea.business)
    body = api.get("/api/v1/tags/").json()
    assert len(body["results"]) == 50
    assert body["results"][0]["name"] == "T000"
    assert len(api.get("/api/v1/tags/", {"page_size": 7}).json()["results"]) == 7
    for wrong in ("10000", "0", "abc", "2.5"):
        refused = api.get("/api/v1/tags/", {"page_size": wrong})
        assert refused.status_code == 400
        assert "page_size" in refused.json()["error"]["fields"]
    big = api.get("/api/v1/tags/", {"page_size": 200}).json()
    assert len(big["results"]) == 200
    names = [t["name"] for t in big["results"]]
    names += [t["name"] for t in api.get(big["next"]).json()["results"]]
    assert len(set(names)) == 230


def test_wrong_api_keys_are_throttled_per_ip_and_logged(
    tea, api_for, client, settings, caplog, monkeypatch
):
    from accounts.api import FailedKeyThrottle

    settings.XW_API_FAILED_KEYS_PER_MIN = 5
    # One clock minute for the whole test, wherever the real clock is.
    monkeypatch.setattr(FailedKeyThrottle, "timer", staticmethod(lambda: 1_800_000_030.0))
    cache.clear()
    good = api_for(tea.business)
    try:
        with caplog.at_level(logging.WARNING, logger="accounts.api"):
            codes = [
                client.get("/api/v1/tags/", HTTP_AUTHORIZATION=f"Api-Key wrong.{i}").status_code
                for i in range(7)
            ]
        assert codes == [401] * 5 + [429] * 2
        assert "Failed API key from 127.0.0.1" in caplog.text
        throttled = good.get("/api/v1/tags/")  # the same IP: guessing cannot go on
        assert throttled.status_code == 429
        assert int(throttled["Retry-After"]) == 30
        other_ip = good.get("/api/v1/tags/", REMOTE_ADDR="10.0.0.9")
        assert other_ip.status_code == 200
    finally:
        cache.clear()


def test_unknown_api_url_is_a_json_404(tea, api_for):
    response = api_for(tea.business).get("/api/v1/customers/abc/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/v1/customers/", {"name": 123}), ("/api/v1/customers/", {"name": "x",
      "marketing_consent": "yes"}), ("/api/v1/tags/", {"name": ["a"]})],
)  # fmt: skip
def test_wrong_json_types_are_refused_not_coerced(tea, api_for, path, body):
    response = api_for(tea.business).post(path, body, format="json")
    assert response.status_code == 400
    assert Customer.objects.count() == Tag.objects.count() == 0


@pytest.mark.parametrize("query", [{"open": "maybe"}, {"stars": "2.5"}])
def test_filter_values_of_the_wrong_type_are_a_400(tea, api_for, query):
    path = "/api/v1/follow-ups/" if "open" in query else "/api/v1/feedback/"
    assert api_for(tea.business).get(path, query).status_code == 400


def test_fast_customer_rendering_matches_drf(tea, api_for):
    from rest_framework import serializers

    from segmentation.api import ScoredCustomerSerializer
    from segmentation.services import scoring_run_execute
    from tests.segmentation.conftest import make_history

    make_history(tea.business, customers=12)
    first = Customer.objects.order_by("id").first()
    first.tags.add(TagFactory(business=tea.business, name="VIP"))
    Customer.objects.filter(pk=first.pk).update(
        assigned_to=tea.staff, marketing_consent=True, birthday="1990-02-03"
    )
    scoring_run_execute(business=tea.business)
    CustomerFactory(business=tea.business)  # no score yet
    rows = Customer.objects.select_related("score").prefetch_related("tags")
    for customer in rows:
        fast = ScoredCustomerSerializer(customer).data
        drf = serializers.ModelSerializer.to_representation(ScoredCustomerSerializer(), customer)
        assert dict(fast) == dict(drf)


def test_customer_list_rows_render_as_the_detail(tea, api_for):
    # The list reads tags with its rows (TagNames), the detail from the relation: the same
    # JSON for scored and unscored customers, tags in name order.
    from segmentation.services import scoring_run_execute
    from tests.segmentation.conftest import make_history

    make_history(tea.business, customers=6)
    tagged = Customer.objects.order_by("id").first()
    tagged.tags.add(
        TagFactory(business=tea.business, name="VIP"),
        TagFactory(business=tea.business, name="A 常客"),
        TagFactory(business=tea.business, name="B"),
    )
    Customer.objects.filter(pk=tagged.pk).update(
        assigned_to=tea.staff, marketing_consent=True, birthday="1990-02-03"
    )
    scoring_run_execute(business=tea.business)
    plain = CustomerFactory(business=tea.business)  # no score, no tags
    api = api_for(tea.business)
    listed = {c["id"]: c for c in api.get("/api/v1/customers/").json()["results"]}
    assert listed[tagged.pk]["tags"] == ["A 常客", "B", "VIP"]
    assert listed[tagged.pk]["score"] is not None
    assert (listed[plain.pk]["tags"], listed[plain.pk]["score"]) == ([], None)
    assert len(listed) == Customer.objects.count()
    for pk, row in listed.items():
        detail = api.get(f"/api/v1/customers/{pk}/")
        assert json.dumps(row) == json.dumps(detail.json())
