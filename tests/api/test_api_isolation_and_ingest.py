import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, Purchase
from feedback.models import Feedback
from segmentation.services import scoring_run_execute
from tests.factories import (
    CustomerFactory,
    FollowUpFactory,
    InteractionFactory,
    PurchaseFactory,
    TagFactory,
)

LISTS = [
    "customers", "tags", "purchases", "interactions", "follow-ups", "feedback", "scoring-runs",
]  # fmt: skip


@pytest.fixture
def two_worlds(tea, salon):
    worlds = {}
    for tenant, prefix in ((tea, "+86138"), (salon, "+86139")):
        customer = CustomerFactory(business=tenant.business, phone=f"{prefix}00000001")
        worlds[tenant.business.slug] = {
            "customers": customer,
            "tags": TagFactory(business=tenant.business),
            "purchases": PurchaseFactory(customer=customer),
            "interactions": InteractionFactory(customer=customer),
            "follow-ups": FollowUpFactory(customer=customer),
            "feedback": Feedback.objects.create(
                business=tenant.business, customer=customer, nps=3, comment="秘密"
            ),
            "scoring-runs": scoring_run_execute(business=tenant.business),
        }
    return worlds


@pytest.mark.parametrize("resource", LISTS)
def test_tea_key_sees_only_tea_rows_and_salon_ids_are_404(tea, two_worlds, api_for, resource):
    api = api_for(tea.business)
    response = api.get(f"/api/v1/{resource}/")
    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [row["id"] for row in rows] == [two_worlds["tea"][resource].pk]
    salon_id = two_worlds["salon"][resource].pk
    for method in ("get", "patch", "put", "delete"):
        answer = getattr(api, method)(f"/api/v1/{resource}/{salon_id}/", {}, format="json")
        assert answer.status_code in (404, 403, 405), (method, answer.status_code)
        assert answer.status_code != 403 or method == "delete"  # keys never delete; never a leak
        assert str(two_worlds["salon"]["customers"].name) not in answer.content.decode()
    assert api.get(f"/api/v1/{resource}/{salon_id}/").status_code == 404


def test_purchase_for_salon_customer_is_refused(tea, two_worlds, api_for):
    api = api_for(tea.business)
    salon_customer = two_worlds["salon"]["customers"]
    before = Purchase.objects.count()
    response = api.post(
        "/api/v1/purchases/",
        {"phone": salon_customer.phone, "occurred_at": "2026-01-01T10:00:00Z", "amount": "5",
         "external_id": "X-1"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert Purchase.objects.count() == before
    # through an interaction's customer id as well
    response = api.post(
        "/api/v1/interactions/", {"customer": salon_customer.pk, "kind": "call"}, format="json"
    )
    assert response.status_code == 400
    assert "customer" in response.json()["error"]["fields"]


def test_merge_command_is_scoped(tea, two_worlds, api_for):
    api = api_for(tea.business)
    other = CustomerFactory(business=tea.business)
    response = api.post(
        "/api/v1/customers/merge/",
        {"source": two_worlds["salon"]["customers"].pk, "target": other.pk},
        format="json",
    )
    assert response.status_code == 400
    assert Customer.objects.filter(pk=two_worlds["salon"]["customers"].pk).exists()
    keep = two_worlds["tea"]["customers"]
    response = api.post(
        "/api/v1/customers/merge/", {"source": other.pk, "target": keep.pk}, format="json"
    )
    assert response.status_code == 200
    assert not Customer.objects.filter(pk=other.pk).exists()


def test_rescore_is_queued_and_runs(tea, two_worlds, api_for, django_capture_on_commit_callbacks):
    api = api_for(tea.business)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/scoring-runs/rescore/")
    assert response.status_code == 202
    runs = api.get("/api/v1/scoring-runs/").json()["results"]
    assert len(runs) == 2
    assert runs[0]["trigger"] == "manual"


def _batch(start: int, n: int) -> list[dict]:
    return [
        {"customer_no": f"C{i % 500:04d}", "phone": f"+86137{i % 500:08d}", "name": f"客{i % 500}",
         "occurred_at": "2026-01-01T10:00:00+08:00", "amount": f"{i % 97 + 1}.50",
         "external_id": f"SALE-{i}"}
        for i in range(start, start + n)
    ]  # fmt: skip


def test_ten_thousand_purchases_twice_change_nothing(tea, api_for):
    api = api_for(tea.business)
    for round_ in range(2):
        for n in range(10):
            response = api.post(
                "/api/v1/purchases/bulk/?create_customers=true",
                _batch(n * 1000, 1000),
                format="json",
            )
            assert response.status_code == 200, response.json()
            body = response.json()
            expected_created = 1000 if round_ == 0 else 0
            assert (body["created"], body["existing"]) == (
                expected_created,
                1000 - expected_created,
            )
        assert Purchase.objects.count() == 10_000
        assert Customer.objects.count() == 500


def test_bulk_with_invalid_object_writes_nothing_and_names_index_and_field(tea, api_for):
    api = api_for(tea.business)
    batch = _batch(0, 5)
    batch[3]["amount"] = "-2"
    batch[4].pop("occurred_at")
    response = api.post("/api/v1/purchases/bulk/?create_customers=true", batch, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"3", "4"}
    assert "amount" in fields["3"]
    assert "occurred_at" in fields["4"]
    assert Purchase.objects.count() == Customer.objects.count() == 0


def test_bulk_without_create_customers_refuses_unknown_customers(tea, api_for):
    response = api_for(tea.business).post("/api/v1/purchases/bulk/", _batch(0, 3), format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"0", "1", "2"}
    assert Purchase.objects.count() == 0


def test_bulk_limit_and_shape(tea, api_for):
    api = api_for(tea.business)
    assert api.post("/api/v1/purchases/bulk/", _batch(0, 1001), format="json").status_code == 400
    assert api.post("/api/v1/purchases/bulk/", {"not": "a list"}, format="json").status_code == 400


def test_customer_list_queries_constant_across_pages(tea, api_for):
    people = [
        CustomerFactory.build(business=tea.business, phone=f"+86135{i:08d}") for i in range(120)
    ]
    Customer.objects.bulk_create(people)
    tag = TagFactory(business=tea.business)
    for c in Customer.objects.all()[:50]:
        c.tags.add(tag)
    scoring_run_execute(business=tea.business)
    api = api_for(tea.business)
    counts = []
    url = "/api/v1/customers/?page_size=50"
    api.get(url)  # the key's last-used time is written once a minute, not on every request
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            body = api.get(url).json()
        counts.append(len(queries))
        url = body["next"]
        assert body["results"][0]["score"] is not None
    assert counts[0] == counts[1] == counts[2]
    assert counts[0] <= 6


def test_customer_filters(tea, api_for):
    a = CustomerFactory(business=tea.business, status="lost", source="wechat")
    a.tags.add(TagFactory(business=tea.business, name="VIP"))
    CustomerFactory(business=tea.business, status="active")
    api = api_for(tea.business)

    def ids(**params):
        return [c["id"] for c in api.get("/api/v1/customers/", params).json()["results"]]

    assert ids(status="lost") == [a.pk]
    assert ids(tag="VIP") == [a.pk]
    assert ids(source="wechat") == [a.pk]
    assert len(ids(updated_since="2000-01-01T00:00:00Z")) == 2
    assert ids(updated_since="2999-01-01T00:00:00Z") == []


def test_customer_filters_share_nothing_between_requests(tea, salon, api_for):
    # The filterset's form class is shared and its filters copied shallowly: every request
    # still filters with its own values, within its own business.
    from segmentation.api import ScoredCustomerFilter

    mine = CustomerFactory(business=tea.business, name="王一", status="lost")
    CustomerFactory(business=tea.business, name="李二", status="active")
    CustomerFactory(business=salon.business, name="王三", status="lost")
    api, other = api_for(tea.business), api_for(salon.business)

    def names(client, **params):
        return [c["name"] for c in client.get("/api/v1/customers/", params).json()["results"]]

    assert names(api, q="王", status="lost") == [mine.name]
    assert names(api, q="李") == ["李二"]
    assert names(other, q="王") == ["王三"]
    assert names(api, status="lost") == [mine.name]
    assert api.get("/api/v1/customers/", {"status": "nope"}).status_code == 400
    assert all(
        getattr(f, "parent", None) is None for f in ScoredCustomerFilter.base_filters.values()
    )


def test_ingested_recent_sale_asks_consenting_customer_for_feedback(
    tea, api_for, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from feedback.models import FeedbackRequest

    CustomerFactory(business=tea.business, customer_no="OK", marketing_consent=True)
    CustomerFactory(business=tea.business, customer_no="NO", marketing_consent=False)
    now = timezone.now().isoformat()
    sales = [
        {"customer_no": "OK", "occurred_at": now, "amount": "9", "external_id": "F-1"},
        {"customer_no": "NO", "occurred_at": now, "amount": "9", "external_id": "F-2"},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(tea.business).post("/api/v1/purchases/bulk/", sales, format="json")
    assert response.status_code == 200
    requests = FeedbackRequest.objects.all()
    assert [r.customer.customer_no for r in requests] == ["OK"]


def test_feedback_triage_through_the_api(tea, two_worlds, api_for, client_for):
    entry = two_worlds["tea"]["feedback"]
    api = api_for(tea.business)
    detractors = api.get("/api/v1/feedback/", {"nps_group": "detractor"}).json()["results"]
    assert [f["id"] for f in detractors] == [entry.pk]
    assert api.get("/api/v1/feedback/", {"nps_group": "promoter"}).json()["results"] == []
    response = api.patch(
        f"/api/v1/feedback/{entry.pk}/",
        {"status": "resolved", "reply": "已致电道歉", "nps": 10, "comment": "改写"},
        format="json",
    )
    assert response.status_code == 200
    entry.refresh_from_db()
    assert (entry.status, entry.reply, entry.nps, entry.comment) == (
        "resolved",
        "已致电道歉",
        3,
        "秘密",
    )
    assert entry.replied_at is not None
    owner = client_for(tea.owner)
    owner.patch(
        f"/api/v1/feedback/{entry.pk}/", {"reply": "再次回复"}, content_type="application/json"
    )
    entry.refresh_from_db()
    assert entry.replied_by == tea.owner
    assert api.post("/api/v1/feedback/", {"nps": 9}, format="json").status_code == 405


def test_api_search_by_phone_fragment_and_whole_number(tea, api_for):
    CustomerFactory(business=tea.business, name="李白", phone="13800138000")
    CustomerFactory(business=tea.business, name="杜甫", phone="13900139000")
    api = api_for(tea.business)

    def names(q):
        return [c["name"] for c in api.get("/api/v1/customers/", {"q": q}).json()["results"]]

    assert names("138 0013") == ["李白"]
    assert names("+86 138-0013-8000") == ["李白"]
    assert names("8000") == ["李白"]


def test_fast_score_rendering_matches_drf(tea, api_for):
    from rest_framework import serializers

    from segmentation.api import CustomerScoreSerializer
    from segmentation.models import CustomerScore
    from tests.segmentation.conftest import make_history

    make_history(tea.business, customers=30)
    scoring_run_execute(business=tea.business)
    for score in CustomerScore.objects.all():
        fast = CustomerScoreSerializer(score).data
        drf = serializers.ModelSerializer.to_representation(CustomerScoreSerializer(), score)
        assert dict(fast) == dict(drf)
