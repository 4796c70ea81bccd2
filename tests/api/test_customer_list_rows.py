"""The customer list's fast path (issue 9, item 9): a page renders from plain rows read with
.values(), tag names come from precompiled SQL, the wording is cached per language, and on
PostgreSQL timestamptz values are parsed by psycopg's compiled loader. Each must give the
same JSON as the slow path it replaces."""

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import translation

from customers.models import Customer
from customers.selectors import TAG_NAMES_ATTR, TagNames
from tests.factories import CustomerFactory, TagFactory


@pytest.fixture
def scored_shop(tea):
    from segmentation.services import scoring_run_execute
    from tests.segmentation.conftest import make_history

    make_history(tea.business, customers=8)
    first, second = Customer.objects.order_by("id")[:2]
    vip = TagFactory(business=tea.business, name="VIP")
    first.tags.add(vip, TagFactory(business=tea.business, name="A 常客"))
    second.tags.add(vip)
    Customer.objects.filter(pk=first.pk).update(
        assigned_to=tea.staff, marketing_consent=True, birthday="1990-02-03"
    )
    scoring_run_execute(business=tea.business)
    CustomerFactory(business=tea.business)  # no score, no tags
    return tea


QUERIES = (
    {},
    {"tag": "VIP"},
    {"ordering": "updated_at"},
    {"ordering": "-created_at"},
    {"status": "active", "page_size": 3},
    {"segment": "lost"},
    {"churn_risk_min": "0.1"},
)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("query", QUERIES)
def test_list_rows_render_as_the_detail(scored_shop, api_for, query, language):
    api = api_for(scored_shop.business)
    listed = api.get("/api/v1/customers/", query, HTTP_ACCEPT_LANGUAGE=language)
    assert listed.status_code == 200
    rows = listed.json()["results"]
    if query.get("tag") == "VIP":
        assert len(rows) == 2
        assert all("VIP" in row["tags"] for row in rows)
    for row in rows:
        detail = api.get(f"/api/v1/customers/{row['id']}/", HTTP_ACCEPT_LANGUAGE=language)
        assert json.dumps(row) == json.dumps(detail.json())


def test_list_pages_through_the_cursor_from_rows(scored_shop, api_for):
    api = api_for(scored_shop.business)
    seen, url = [], "/api/v1/customers/?page_size=2&ordering=updated_at"
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(Customer.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen))


def test_list_builds_no_model_instances(scored_shop, api_for):
    # The fast path really is taken: a page of customers never goes through Model.from_db.
    api = api_for(scored_shop.business)
    with mock.patch.object(Customer, "from_db", wraps=Customer.from_db) as from_db:
        response = api.get("/api/v1/customers/")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 9
    assert from_db.call_count == 0


def test_list_rows_are_the_business_own(scored_shop, salon, api_for):
    theirs = CustomerFactory(business=salon.business, name="沙龙秘密客户")
    theirs.tags.add(TagFactory(business=salon.business, name="VIP"))
    rows = api_for(scored_shop.business).get("/api/v1/customers/", {"tag": "VIP"}).json()
    assert theirs.pk not in {row["id"] for row in rows["results"]}
    rows = api_for(salon.business).get("/api/v1/customers/").json()["results"]
    assert [(row["id"], row["tags"], row["score"]) for row in rows] == [(theirs.pk, ["VIP"], None)]


def test_tag_names_in_name_order_with_joins_and_inside_a_subquery(tea):
    customer = CustomerFactory(business=tea.business)
    customer.tags.add(*(TagFactory(business=tea.business, name=n) for n in ("b", "VIP", "a")))
    bare = CustomerFactory(business=tea.business)
    names = dict(
        Customer.objects.annotate(**{TAG_NAMES_ATTR: TagNames()}).values_list("pk", TAG_NAMES_ATTR)
    )
    assert names == {customer.pk: ["VIP", "a", "b"], bare.pk: []}
    # Joined to the tags themselves (the tag filter), and relabelled inside a subquery.
    joined = Customer.objects.filter(tags__name="a").annotate(n=TagNames()).values_list("n")
    assert list(joined) == [(["VIP", "a", "b"],)]
    inner = Customer.objects.filter(pk=OuterRef("pk")).annotate(n=TagNames()).values("n")[:1]
    nested = Customer.objects.annotate(n=Subquery(inner)).order_by("pk").values_list("n")
    assert [json.loads(v) if isinstance(v, str) else v for (v,) in nested] == [
        ["VIP", "a", "b"],
        [],
    ]


def test_wording_cache_keeps_each_language_apart(tea):
    from segmentation.wording import churn_phrase, plain_explanation
    from tests.factories import give_score

    score = give_score(CustomerFactory(business=tea.business), frequency=1, recency_days=40)
    said = {}
    for language in ("en", "zh-hans", "en", "zh-hans"):
        with translation.override(language):
            text = (plain_explanation(score, None), churn_phrase(score))
        assert said.setdefault(language, text) == text
    assert said["en"][0].startswith("Bought once, 6 weeks ago")
    assert said["zh-hans"][0] != said["en"][0]
    assert said["zh-hans"][1] != said["en"][1]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="psycopg's timestamptz loader: PostgreSQL only"
)
@pytest.mark.django_db
def test_postgresql_timestamptz_loader_is_compiled_and_reads_as_django_does():
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader
    from psycopg import postgres
    from psycopg.pq import Format

    from accounts.db import _compiled_timestamptz_loader

    connection.ensure_connection()
    oid = postgres.types["timestamptz"].oid
    loader = connection.connection.adapters.get_loader(oid, Format.TEXT)
    assert _compiled_timestamptz_loader() is not None  # psycopg-binary is a requirement
    assert loader.__name__ == "CompiledTzLoader"
    assert issubclass(loader, BaseTzLoader)

    values = [
        datetime(2026, 12, 3, 13, 35, 34, 932144, tzinfo=UTC),
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC) + timedelta(microseconds=1),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v FROM unnest(%s::timestamptz[]) v", [[v.isoformat() for v in values]]
        )
        fast = [row[0] for row in cursor.fetchall()]
        # Django's own loader on a fresh cursor context, for comparison.
        from django.db.backends.postgresql.psycopg_any import register_tzloader

        raw = connection.connection.cursor()
        register_tzloader(connection.timezone, raw)
        raw.execute("SELECT v FROM unnest(%s::timestamptz[]) v", [[v.isoformat() for v in values]])
        django_read = [row[0] for row in raw.fetchall()]
    assert fast == django_read == values
    assert [v.tzinfo for v in fast] == [v.tzinfo for v in django_read]
