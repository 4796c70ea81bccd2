"""Campaigns in the REST API (issue 15): drafts, commands through the services, results equal
to the selector's, the live count, read-only members, rights, bounds, and tenancy."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignMember
from campaigns.selectors import campaign_results
from campaigns.services import campaign_finish, campaign_start
from customers.models import Customer
from membership.models import CouponTemplate
from segmentation.models import Tier
from tests.factories import PurchaseFactory, TagFactory, give_score

from .conftest import campaign, customers

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/"
MEMBERS = "/api/v1/campaign-members/"


@pytest.fixture
def session_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


def payload(**extra) -> dict:
    data = {
        "name": "回店有礼",
        "kind": "win_back",
        "message": "{name}您好，{shop}想念您！{offer}",
        "offer": "下次到店立减20元",
        "audience": {"tiers": ["A", "B"], "churn_min": 0.6},
        "control_pct": 20,
    }
    data.update(extra)
    return data


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


# --- drafts ----------------------------------------------------------------------------------


def test_create_retrieve_and_change_a_draft(tea, api_for):
    api = api_for(tea.business)
    tag = TagFactory(business=tea.business, name="常客")
    response = api.post(
        URL, payload(audience={"tiers": ["A"], "tags": [tag.pk], "member_card": False}),
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["audience"] == {"tiers": ["A"], "tags": [tag.pk], "member_card": False}
    c = Campaign.objects.get(pk=body["id"])
    assert c.business == tea.business
    assert c.created_by is None  # a key is nobody
    assert api.get(f"{URL}{c.pk}/").json()["name"] == "回店有礼"
    response = api.patch(f"{URL}{c.pk}/", {"control_pct": 30, "name": "改名"}, format="json")
    assert response.status_code == 200, response.content
    c.refresh_from_db()
    assert (c.control_pct, c.name) == (30, "改名")
    assert c.audience == {"tiers": ["A"], "tags": [tag.pk], "member_card": False}
    assert api.put(f"{URL}{c.pk}/", payload(), format="json").status_code == 405
    assert api.delete(f"{URL}{c.pk}/").status_code in (403, 405)


def test_started_campaign_cannot_be_changed(tea, api_for):
    customers(tea.business, 3)
    c = campaign(tea.business)
    campaign_start(campaign=c)
    api = api_for(tea.business)
    assert_error(api.patch(f"{URL}{c.pk}/", {"name": "改"}, format="json"), 409, "not_draft")
    c.refresh_from_db()
    assert c.name == "回店有礼"


@pytest.mark.parametrize(
    "junk",
    [
        {"audience": {"churn_min": 0.9, "churn_max": 0.1}},
        {"audience": {"segments": ["nope"]}},
        {"audience": {"unknown": 1}},
        {"audience": "everyone"},
        {"audience": {"tags": ["x"]}},
        {"audience": {"tags": list(range(1, 40))}},
        {"audience": {"tags": [10**30]}},
        {"audience": {"birthday_month": 13}},
        {"audience": {"value_at_stake_min": "1e400"}},
        {"audience": {"churn_min": "nan"}},
        {"audience": {"last_visit_before": "1066-10-14"}},
        {"audience": {"member_card": "maybe"}},
        {"message": "{name} {password}"},
        {"message": "{"},
        {"message": "x" * 501},
        {"message": 123},
        {"name": ""},
        {"name": "x" * 61},
        {"control_pct": 0},
        {"control_pct": 51},
        {"control_pct": "1e9"},
        {"window_days": 1000},
        {"cost_per_message": "-1"},
        {"cost_per_message": "1e30"},
        {"cost_per_message": 0.1},
        {"audience": {"value_at_stake_min": ""}},
        {"audience": {"value_at_stake_min": 100}},
        {"churn_threshold": "nan"},
        {"churn_threshold": 5},
        {"points_threshold": 10**20},
        {"days_before": -1},
        {"ends_on": "99999-01-01"},
        {"ends_on": "1900-01-01"},
        {"kind": "spam"},
        {"delivery": "pigeon"},
        {"coupon_template": 10**30},
        {"coupon_template": "abc"},
    ],
)
def test_junk_is_a_400_in_the_error_shape(tea, api_for, junk):
    response = api_for(tea.business).post(URL, payload(**junk), format="json")
    error = assert_error(response, 400, "invalid")
    assert error["fields"]
    assert not Campaign.objects.exists()


def test_junk_bodies_are_refused(tea, api_for):
    api = api_for(tea.business)
    assert_error(api.post(URL, "[1, 2]", content_type="application/json"), 400)
    assert_error(api.post(URL, "{", content_type="application/json"), 400)
    assert_error(api.post(f"{URL}audience-count/", "[]", content_type="application/json"), 400)
    assert_error(api.post(f"{URL}audience-count/", {"audience": []}, format="json"), 400)
    assert api.get(f"{URL}?status=nope").status_code == 400
    assert api.get(f"{MEMBERS}?campaign=99999999999999999999").status_code in (200, 400)
    assert api.get(f"{URL}99999999999999999999/").status_code == 404


def test_another_business_coupon_template_does_not_exist(tea, salon, api_for):
    theirs = CouponTemplate.objects.create(
        business=salon.business, name="沙龙券", kind="amount_off", value=Decimal("5.00")
    )
    error = assert_error(
        api_for(tea.business).post(URL, payload(coupon_template=theirs.pk), format="json"), 400
    )
    assert "coupon_template" in error["fields"]


# --- rights ----------------------------------------------------------------------------------


def test_read_only_key_reads_and_counts_but_never_writes(tea, api_for):
    customers(tea.business, 12)
    c = campaign(tea.business)
    api = api_for(tea.business, read_only=True)
    assert api.get(URL).status_code == 200
    assert api.get(f"{URL}{c.pk}/results/").status_code == 200
    assert api.post(f"{URL}audience-count/", {}, format="json").status_code == 200
    assert_error(api.post(URL, payload(), format="json"), 403)
    assert_error(api.patch(f"{URL}{c.pk}/", {"name": "x"}, format="json"), 403)
    for command in ("start", "pause", "finish"):
        assert_error(api.post(f"{URL}{c.pk}/{command}/"), 403)
    c.refresh_from_db()
    assert c.status == Campaign.Status.DRAFT
    assert not CampaignMember.objects.exists()


def test_staff_session_reads_owner_session_acts(tea, session_for):
    customers(tea.business, 12)
    c = campaign(tea.business)
    staff = session_for(tea.staff)
    assert staff.get(f"{URL}{c.pk}/").status_code == 200
    assert staff.post(f"{URL}audience-count/", {}, format="json").status_code == 200
    assert_error(staff.post(f"{URL}{c.pk}/start/"), 403)
    assert_error(staff.post(URL, payload(), format="json"), 403)
    c.refresh_from_db()
    assert c.status == Campaign.Status.DRAFT
    owner = session_for(tea.owner)
    response = owner.post(URL, payload(), format="json")
    assert response.status_code == 201
    assert Campaign.objects.get(pk=response.json()["id"]).created_by == tea.owner
    response = owner.post(f"{URL}{c.pk}/start/")
    assert response.status_code == 200
    assert response.json()["entered"] == 12


# --- commands --------------------------------------------------------------------------------


def test_start_pause_finish_through_the_services(tea, api_for):
    customers(tea.business, 20)
    c = campaign(tea.business, control_pct=25)
    api = api_for(tea.business)
    response = api.post(f"{URL}{c.pk}/start/")
    assert response.status_code == 200, response.content
    assert response.json()["entered"] == 20
    assert response.json()["campaign"]["status"] == "running"
    assert CampaignMember.objects.filter(campaign=c).count() == 20
    assert api.post(f"{URL}{c.pk}/pause/").json()["status"] == "paused"
    # Resuming a one-off enrols nobody new: it is sent once.
    Customer.objects.create(business=tea.business, name="新客", phone="+8613900000001",
                            marketing_consent=True)  # fmt: skip
    response = api.post(f"{URL}{c.pk}/start/")
    assert response.status_code == 200, response.content
    assert response.json()["entered"] == 0
    assert response.json()["campaign"]["status"] == "running"
    assert CampaignMember.objects.filter(campaign=c).count() == 20
    response = api.post(f"{URL}{c.pk}/finish/")
    assert response.status_code == 200
    scheduled = CampaignMember.objects.filter(campaign=c, group="treatment").count()
    assert response.json()["not_sent"] == scheduled
    assert response.json()["campaign"]["status"] == "finished"
    assert api.post(f"{URL}{c.pk}/finish/").json()["not_sent"] == 0  # idempotent
    assert_error(api.post(f"{URL}{c.pk}/pause/"), 409, "finished")
    assert_error(api.post(f"{URL}{c.pk}/start/"), 409, "finished")


def test_api_start_honours_consent_and_the_frequency_cap(tea, api_for):
    b = tea.business
    willing = customers(b, 10)
    customers(b, 4, start=100, consent=False)
    customers(b, 2, start=200, status=Customer.Status.BLOCKED)
    Customer.objects.bulk_create(  # unreachable: neither phone nor WeChat
        [Customer(business=b, name=f"无号{i}", marketing_consent=True) for i in range(3)]
    )
    earlier = campaign(b, name="上次")
    campaign_start(campaign=earlier, now=timezone.now() - timedelta(days=3))
    recently = earlier.members.filter(group="treatment").first()
    CampaignMember.objects.filter(pk=recently.pk).update(
        status="sent", sent_at=timezone.now() - timedelta(days=3)
    )
    campaign_finish(campaign=earlier)
    c = campaign(b, name="这次")
    response = api_for(b).post(f"{URL}{c.pk}/start/")
    assert response.status_code == 200
    entered = set(CampaignMember.objects.filter(campaign=c).values_list("customer_id", flat=True))
    assert entered == {p.pk for p in willing} - {recently.customer_id}
    assert response.json()["entered"] == 9


# --- results and counts ----------------------------------------------------------------------


def test_results_through_the_api_equal_the_selector(tea, api_for):
    b = tea.business
    people = customers(b, 80)
    c = campaign(b, control_pct=30, cost_per_message=Decimal("0.10"))
    start = timezone.now() - timedelta(days=20)
    campaign_start(campaign=c, now=start)
    for p in people[:30]:
        PurchaseFactory(customer=p, occurred_at=start + timedelta(days=3), amount=Decimal("90"))
    body = api_for(b).get(f"{URL}{c.pk}/results/").json()
    r = campaign_results(c)
    assert body["summary"] == r.summary
    assert body["came_back_words"] == r.came_back_words
    assert (body["entered"], body["treated"], body["control"]) == (r.entered, r.treated, r.control)
    assert (body["sent"], body["to_send"], body["not_sent"]) == (r.sent, r.to_send, r.not_sent)
    assert body["came_back"]["difference"] == pytest.approx(r.came_back.diff)
    assert body["came_back"]["half_width"] == pytest.approx(r.came_back.half_width)
    assert body["margin"]["treated_mean"] == pytest.approx(r.margin.treated_mean)
    assert body["extra_visits"]["value"] == pytest.approx(r.extra_visits[0])
    assert body["extra_margin"]["half_width"] == pytest.approx(r.extra_margin[1])
    assert Decimal(body["cost"]) == r.cost
    assert Decimal(body["net"]) == Decimal(str(round(r.net, 2)))
    assert body["window_complete"] is True


def test_results_with_too_few_customers_have_no_interval(tea, api_for):
    customers(tea.business, 4)
    c = campaign(tea.business)
    campaign_start(campaign=c)
    body = api_for(tea.business).get(f"{URL}{c.pk}/results/").json()
    assert body["came_back"]["half_width"] is None
    assert body["came_back"]["low"] is None
    assert body["came_back_words"] == ""
    assert "Too few customers" in body["summary"]


def test_audience_count(tea, salon, api_for):
    b = tea.business
    for p in customers(b, 12):
        give_score(p, churn_risk=0.8, value_tier=Tier.A)
    customers(b, 5, start=100, consent=False)
    customers(salon.business, 30, start=200)
    api = api_for(b)
    body = api.post(
        f"{URL}audience-count/",
        {"audience": {"churn_min": 0.6}, "control_pct": 25, "delivery": "staff"},
        format="json",
    ).json()
    assert body == {"matching": 12, "messageable": 12, "control": 3, "recipients": 9}
    body = api.post(f"{URL}audience-count/", {}, format="json").json()
    assert (body["matching"], body["messageable"]) == (17, 12)
    error = assert_error(
        api.post(f"{URL}audience-count/", {"audience": {"churn_min": 2}}, format="json"), 400
    )
    assert "audience" in error["fields"]


# --- members ---------------------------------------------------------------------------------


def test_members_are_listed_read_only_with_filters(tea, api_for):
    customers(tea.business, 30)
    c = campaign(tea.business, control_pct=30)
    other = campaign(tea.business, name="另一个", seed=99)
    campaign_start(campaign=c)
    api = api_for(tea.business)
    rows = api.get(f"{MEMBERS}?campaign={c.pk}&page_size=200").json()["results"]
    assert len(rows) == 30
    control = api.get(f"{MEMBERS}?campaign={c.pk}&group=control&page_size=200").json()
    assert {r["group"] for r in control["results"]} == {"control"}
    assert {r["status"] for r in control["results"]} == {"held_out"}
    held = CampaignMember.objects.filter(campaign=c, group="control").count()
    assert len(control["results"]) == held
    assert api.get(f"{MEMBERS}?campaign={other.pk}").json()["results"] == []
    scheduled = api.get(f"{MEMBERS}?status=scheduled&page_size=200").json()["results"]
    assert len(scheduled) == 30 - held
    member = rows[0]["id"]
    assert api.get(f"{MEMBERS}{member}/").status_code == 200
    assert api.post(MEMBERS, {}, format="json").status_code == 405
    assert api.patch(f"{MEMBERS}{member}/", {"status": "sent"}, format="json").status_code == 405
    assert api.delete(f"{MEMBERS}{member}/").status_code in (403, 405)


# --- tenancy ---------------------------------------------------------------------------------


def test_another_business_campaigns_are_invisible_and_unusable(tea, salon, api_for):
    customers(salon.business, 12)
    theirs = campaign(salon.business, name="沙龙秘密活动")
    campaign_start(campaign=theirs)
    draft = campaign(salon.business, name="沙龙草稿", seed=5)
    member = theirs.members.first()
    api = api_for(tea.business)
    assert api.get(URL).json()["results"] == []
    assert api.get(MEMBERS).json()["results"] == []
    assert api.get(f"{MEMBERS}?campaign={theirs.pk}").json()["results"] == []
    assert_error(api.get(f"{MEMBERS}{member.pk}/"), 404)
    for c in (theirs, draft):
        assert_error(api.get(f"{URL}{c.pk}/"), 404)
        assert_error(api.get(f"{URL}{c.pk}/results/"), 404)
        assert_error(api.patch(f"{URL}{c.pk}/", {"name": "x"}, format="json"), 404)
        for command in ("start", "pause", "finish"):
            assert_error(api.post(f"{URL}{c.pk}/{command}/"), 404)
    theirs.refresh_from_db()
    draft.refresh_from_db()
    assert (theirs.status, draft.status) == ("running", "draft")
    assert draft.name == "沙龙草稿"
    # Their customers are never counted.
    body = api.post(f"{URL}audience-count/", {}, format="json").json()
    assert body["matching"] == 0


def test_another_business_tag_ids_match_nobody(tea, salon, api_for):
    theirs = TagFactory(business=salon.business, name="沙龙标签")
    for p in customers(salon.business, 5):
        p.tags.add(theirs)
    mine = customers(tea.business, 5, start=100)
    api = api_for(tea.business)
    body = api.post(
        f"{URL}audience-count/", {"audience": {"tags": [theirs.pk]}}, format="json"
    ).json()
    assert body["matching"] == 0
    # A campaign aimed at their tag enrols nobody, not even our own customers.
    response = api.post(URL, payload(kind="one_off", audience={"tags": [theirs.pk]}), format="json")
    assert response.status_code == 201
    c = Campaign.objects.get(pk=response.json()["id"])
    assert api.post(f"{URL}{c.pk}/start/").json()["entered"] == 0
    assert not CampaignMember.objects.filter(customer__in=mine).exists()
