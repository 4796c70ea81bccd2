"""Issue 9: the sales ingest's rules — the amount bound (item 1), conflicting duplicates
(item 3), naming a customer by id (item 19), batched feedback requests (item 8)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Interaction, Purchase
from customers.money import AMOUNT_MAX
from feedback.models import FeedbackRequest
from tests.factories import CustomerFactory, PurchaseFactory

SALE = {"customer_no": "001", "occurred_at": "2026-01-01T10:00:00+08:00", "external_id": "T-1"}


@pytest.fixture
def known(tea):
    return CustomerFactory(business=tea.business, customer_no="001")


# --- item 1: one bound for a sale amount ----------------------------------------------------


@pytest.mark.parametrize("field", ["amount", "cost"])
def test_amount_over_the_bound_is_refused_with_400(tea, known, api_for, field):
    sale = {**SALE, "amount": "10", field: "1000000.01"}
    response = api_for(tea.business).post("/api/v1/purchases/", sale, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]["0"]
    assert "1000000" in str(response.json()["error"]["fields"]["0"][field])
    assert Purchase.objects.count() == 0


def test_amount_at_the_bound_is_accepted(tea, known, api_for):
    response = api_for(tea.business).post(
        "/api/v1/purchases/", {**SALE, "amount": "1000000.00"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Purchase.objects.get().amount == AMOUNT_MAX


def test_bulk_names_the_item_over_the_bound_and_writes_nothing(tea, known, api_for):
    batch = [
        {**SALE, "amount": "10", "external_id": "A"},
        {**SALE, "amount": "9999999999.99", "external_id": "B"},
    ]
    response = api_for(tea.business).post("/api/v1/purchases/bulk/", batch, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"1"}
    assert Purchase.objects.count() == 0


def test_model_and_database_refuse_amounts_over_the_bound(tea, known):
    purchase = Purchase(
        business=tea.business, customer=known, amount=Decimal("1000000.01"), external_id="X"
    )
    with pytest.raises(ValidationError) as caught:
        purchase.full_clean()
    assert "amount" in caught.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        purchase.save()  # the CHECK constraint holds even where validation is skipped
    with pytest.raises(IntegrityError), transaction.atomic():
        Interaction.objects.create(
            business=tea.business, customer=known, cost_amount=Decimal("1000000.01")
        )


def test_patch_over_the_bound_through_the_api_is_refused(tea, known, api_for):
    purchase = PurchaseFactory(customer=known)
    response = api_for(tea.business).patch(
        f"/api/v1/purchases/{purchase.pk}/", {"amount": "8197449450.00"}, format="json"
    )
    assert response.status_code == 400
    assert "amount" in response.json()["error"]["fields"]


# --- item 3: conflicting duplicates ---------------------------------------------------------


def test_identical_resend_stays_idempotent(tea, known, api_for):
    api = api_for(tea.business)
    first = api.post("/api/v1/purchases/bulk/", [{**SALE, "amount": "10"}], format="json")
    again = api.post("/api/v1/purchases/bulk/", [{**SALE, "amount": "10.00"}], format="json")
    assert first.json()["created"] == 1
    row = again.json()["results"][0]
    assert (row["status"], row["id"]) == ("exists", first.json()["results"][0]["id"])
    assert "stored" not in row
    assert Purchase.objects.count() == 1


def test_resend_with_a_different_amount_is_a_conflict_with_stored_values(tea, known, api_for):
    api = api_for(tea.business)
    api.post("/api/v1/purchases/bulk/", [{**SALE, "amount": "10"}], format="json")
    response = api.post("/api/v1/purchases/bulk/", [{**SALE, "amount": "99"}], format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["existing"], body["conflicts"]) == (0, 0, 1)
    row = body["results"][0]
    assert row["status"] == "conflict"
    assert row["id"] == Purchase.objects.get().pk
    assert row["stored"]["amount"] == "10.00"
    assert row["stored"]["customer"] == known.pk
    assert Purchase.objects.get().amount == Decimal("10")


def test_same_external_id_twice_in_one_batch(tea, known, api_for):
    batch = [
        {**SALE, "amount": "10"},
        {**SALE, "amount": "10"},
        {**SALE, "amount": "20", "occurred_at": "2026-01-02T10:00:00+08:00"},
    ]
    body = api_for(tea.business).post("/api/v1/purchases/bulk/", batch, format="json").json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "exists", "conflict"]
    stored_id = Purchase.objects.get().pk
    assert [r["id"] for r in body["results"]] == [stored_id] * 3
    assert body["results"][2]["stored"]["amount"] == "10.00"


def test_single_post_conflict_answers_409_with_stored_values(tea, known, api_for):
    api = api_for(tea.business)
    api.post("/api/v1/purchases/", {**SALE, "amount": "10"}, format="json")
    response = api.post("/api/v1/purchases/", {**SALE, "amount": "11"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["stored"]["amount"] == "10.00"
    assert "external_id" in error["fields"]


# --- item 19: the customer by its API id ----------------------------------------------------


def test_purchase_names_customer_by_id(tea, api_for):
    api = api_for(tea.business)
    created = api.post("/api/v1/customers/", {"name": "只有名字"}, format="json").json()
    sale = {"customer": created["id"], "occurred_at": "2026-01-01T10:00:00Z", "amount": "5",
            "external_id": "BY-ID"}  # fmt: skip
    response = api.post("/api/v1/purchases/", sale, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["customer"] == created["id"]


def test_customer_id_of_another_business_is_not_found(tea, salon, api_for):
    other = CustomerFactory(business=salon.business)
    sale = {"customer": other.pk, "occurred_at": "2026-01-01T10:00:00Z", "amount": "5",
            "external_id": "BY-ID"}  # fmt: skip
    response = api_for(tea.business).post("/api/v1/purchases/", sale, format="json")
    assert response.status_code == 400
    assert "customer" in response.json()["error"]["fields"]["0"]
    assert Purchase.objects.count() == 0


# --- item 8: per-batch work once per batch --------------------------------------------------


def test_feedback_requests_for_a_batch_cost_a_constant_number_of_queries(
    tea, api_for, django_capture_on_commit_callbacks
):
    people = [
        CustomerFactory(business=tea.business, customer_no=f"N{i}", marketing_consent=True)
        for i in range(60)
    ]
    now = timezone.now().isoformat()
    api = api_for(tea.business)
    api.get("/api/v1/tags/")  # the key's last use is written once a minute

    def post(n: int, prefix: str) -> int:
        batch = [
            {"customer_no": c.customer_no, "occurred_at": now, "amount": "9",
             "external_id": f"{prefix}-{c.pk}"}
            for c in people[:n]
        ]  # fmt: skip
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert api.post("/api/v1/purchases/bulk/", batch, format="json").status_code == 200
        return len(queries)

    post(5, "W")  # creates the business's feedback settings once
    FeedbackRequest.objects.all().delete()
    small = post(5, "S")
    FeedbackRequest.objects.all().delete()
    large = post(60, "L")
    assert large == small
    assert FeedbackRequest.objects.count() == 60
    assert large <= 20


# --- item 20: rescore answers with its run and never queues twice ---------------------------


def test_rescore_returns_run_and_location_and_does_not_queue_twice(
    tea, api_for, django_capture_on_commit_callbacks
):
    from segmentation.models import ScoringRun

    CustomerFactory(business=tea.business)
    api = api_for(tea.business)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = api.post("/api/v1/scoring-runs/rescore/")
        second = api.post("/api/v1/scoring-runs/rescore/")
    assert (first.status_code, second.status_code) == (202, 202)
    run_id = first.json()["id"]
    assert second.json()["id"] == run_id
    assert first.json()["status"] == "queued"
    assert first["Location"].endswith(f"/api/v1/scoring-runs/{run_id}/")
    assert ScoringRun.objects.count() == 1
    assert len(callbacks) == 1  # one task queued
    callbacks[0]()  # the worker runs it (eager in tests)
    done = api.get(f"/api/v1/scoring-runs/{run_id}/").json()
    assert done["status"] == "succeeded"
    assert ScoringRun.objects.count() == 1
    third = api.post("/api/v1/scoring-runs/rescore/")
    assert third.json()["id"] != run_id  # nothing pending any more: a new run


# --- item 8: the fast validation gives what the serializer gives, or hands over -------------

FAST_CASES = [
    {**SALE, "amount": "12.5"},
    {**SALE, "amount": "0012.50", "cost": "3", "channel": " 门店 ", "items": "茶", "name": "x"},
    {**SALE, "amount": "1", "cost": None, "customer": 5, "customer_no": ""},
    {"phone": "138 0013 8000", "occurred_at": "2026-01-01T10:00:00.123456+05:45",
     "amount": "1000000.00", "external_id": " E-1 "},
    {**SALE, "amount": "1", "occurred_at": "2026-01-01T02:00:00Z"},
]  # fmt: skip
HANDED_OVER = [
    {**SALE, "amount": 12.5},
    {**SALE, "amount": "1000000.01"},
    {**SALE, "amount": "1e3"},
    {**SALE, "amount": "1", "occurred_at": "2026-01-01T10:00:00"},
    {**SALE, "amount": "1", "occurred_at": "2026-01-01T10:00:00+20:29"},
    {**SALE, "amount": "1", "external_id": "  "},
    {**SALE, "amount": "1", "customer_no": "a\x00b"},
    {**SALE, "amount": "1", "customer": True},
    {**SALE, "amount": "1", "unknown": 1},
    {"occurred_at": "2026-01-01T10:00:00Z", "amount": "1", "external_id": "X"},
    {**SALE, "amount": "1", "phone": ["138"]},
]


@pytest.mark.parametrize("data", FAST_CASES)
def test_fast_ingest_validation_matches_the_serializer(tea, data):
    from customers.api import IngestItemSerializer, fast_ingest_items

    serializer = IngestItemSerializer(data=[data], many=True, context={"business": tea.business})
    assert serializer.is_valid(), serializer.errors
    assert fast_ingest_items([data], tea.business.phone_region) == [
        dict(serializer.validated_data[0])
    ]


@pytest.mark.parametrize("data", HANDED_OVER)
def test_fast_ingest_validation_hands_anything_unusual_to_the_serializer(tea, data):
    from customers.api import fast_ingest_items

    assert fast_ingest_items([{**SALE, "amount": "1"}, data], tea.business.phone_region) is None


# --- issue 9, speed: the write comes first, recorded sales are read only when needed ---------


def test_batch_mixing_new_recorded_and_conflicting_sales(tea, known, api_for):
    api = api_for(tea.business)
    first = api.post("/api/v1/purchases/bulk/", [{**SALE, "amount": "10"}], format="json")
    stored_id = first.json()["results"][0]["id"]
    batch = [
        {**SALE, "external_id": "T-2", "amount": "5"},
        {**SALE, "amount": "10"},  # recorded before: exists
        {**SALE, "amount": "11"},  # recorded before with 10: conflict
        {**SALE, "external_id": "T-2", "amount": "5"},  # twice in this batch
        {**SALE, "external_id": "T-0", "amount": "7"},
    ]
    body = api.post("/api/v1/purchases/bulk/", batch, format="json").json()
    assert [r["status"] for r in body["results"]] == [
        "created", "exists", "conflict", "exists", "created"
    ]  # fmt: skip
    assert (body["created"], body["existing"], body["conflicts"]) == (2, 2, 1)
    t2 = Purchase.objects.get(external_id="T-2").pk
    t0 = Purchase.objects.get(external_id="T-0").pk
    assert [r["id"] for r in body["results"]] == [t2, stored_id, stored_id, t2, t0]
    assert body["results"][2]["stored"]["amount"] == "10.00"
    assert Purchase.objects.count() == 3
    assert Purchase.objects.get(pk=stored_id).amount == Decimal("10")


def test_resend_naming_a_customer_that_no_longer_exists_is_still_recognised(tea, known, api_for):
    api = api_for(tea.business)
    api.post("/api/v1/purchases/bulk/", [{**SALE, "amount": "10"}], format="json")
    known.customer_no = "002"  # renumbered since: the till still sends the old number
    known.save()
    body = api.post("/api/v1/purchases/bulk/", [{**SALE, "amount": "10"}], format="json").json()
    assert [r["status"] for r in body["results"]] == ["exists"]
    assert Purchase.objects.count() == 1


def test_a_fresh_batch_reads_no_recorded_sales(tea, known, api_for):
    api = api_for(tea.business)
    api.get("/api/v1/tags/")  # the key's last use is written once a minute
    batch = [{**SALE, "external_id": f"F-{i}", "amount": "3"} for i in range(20)]
    with CaptureQueriesContext(connection) as queries:
        assert api.post("/api/v1/purchases/bulk/", batch, format="json").status_code == 200
    purchase_reads = [
        q["sql"] for q in queries if q["sql"].startswith('SELECT "customers_purchase"')
    ]
    assert purchase_reads == []
    assert Purchase.objects.count() == 20
