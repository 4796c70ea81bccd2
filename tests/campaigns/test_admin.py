"""Campaign admin (issue 15): the audience as form fields, the live count, start / pause /
finish through the services (owners only), results on the change page, read-only members,
and tenancy on every URL."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignMember
from campaigns.selectors import campaign_results
from campaigns.services import campaign_start
from customers.models import Customer
from membership.models import CouponTemplate
from segmentation.models import Tier
from tests.factories import PurchaseFactory, TagFactory, give_score

from .conftest import campaign, customers

pytestmark = pytest.mark.django_db


def form_data(**extra) -> dict:
    data = {
        "name": "回店有礼",
        "kind": "one_off",
        "message": "{name}您好，{shop}想念您！{offer}",
        "offer": "下次到店立减20元",
        "coupon_template": "",
        "delivery": "staff",
        "control_pct": "10",
        "window_days": "14",
        "cost_per_message": "0.00",
        "churn_threshold": "0.6",
        "days_before": "7",
        "points_threshold": "500",
        "ends_on": "",
    }
    data.update(extra)
    return data


def change_url(obj) -> str:
    return reverse("admin:campaigns_campaign_change", args=[obj.pk])


def command_url(obj, command: str) -> str:
    return reverse("admin:campaigns_campaign_command", args=[obj.pk, command])


COUNT_URL = "/admin/campaigns/campaign/count/"


# --- the form --------------------------------------------------------------------------------


def test_owner_builds_the_audience_from_fields(tea, client_for):
    b = tea.business
    tag = TagFactory(business=b, name="常客")
    client = client_for(tea.owner)
    response = client.post(
        reverse("admin:campaigns_campaign_add"),
        form_data(
            segments=["at_risk", "cant_lose"], tiers=["A"], churn_min="0.6", churn_max="0.95",
            value_at_stake_min="100", birthday_month="5", sources=["walk_in"], tags=[tag.pk],
            last_visit_before="2026-11-01", last_visit_after="2025-01-01", member_card="yes",
        ),
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    c = Campaign.objects.get(business=b)
    assert c.audience == {
        "segments": ["at_risk", "cant_lose"],
        "tiers": ["A"],
        "churn_min": 0.6,
        "churn_max": 0.95,
        "value_at_stake_min": "100.00",
        "birthday_month": 5,
        "sources": ["walk_in"],
        "tags": [tag.pk],
        "last_visit_before": "2026-11-01",
        "last_visit_after": "2025-01-01",
        "member_card": True,
    }
    assert c.created_by == tea.owner
    assert c.status == Campaign.Status.DRAFT
    # The change form shows the stored audience back in its fields, and the count.
    page = client.get(change_url(c))
    form = page.context["adminform"].form
    assert form.initial["segments"] == ["at_risk", "cant_lose"]
    assert form.initial["member_card"] == "yes"
    assert "customers match" in page.content.decode()


def test_bad_audience_gives_field_errors_and_writes_nothing(tea, salon, client_for):
    other_tag = TagFactory(business=salon.business, name="沙龙标签")
    response = client_for(tea.owner).post(
        reverse("admin:campaigns_campaign_add"),
        form_data(churn_min="0.8", churn_max="0.2", tags=[other_tag.pk], birthday_month="13"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "churn_max" in errors
    assert "tags" in errors  # another business's tag is not a choice
    assert "birthday_month" in errors
    assert not Campaign.objects.exists()


def test_tag_choices_are_the_business_own(tea, salon, client_for):
    TagFactory(business=tea.business, name="茶客")
    TagFactory(business=salon.business, name="沙龙标签")
    page = client_for(tea.owner).get(reverse("admin:campaigns_campaign_add")).content.decode()
    assert "茶客" in page
    assert "沙龙标签" not in page


def test_coupon_template_choices_are_scoped(tea, salon, client_for):
    CouponTemplate.objects.create(business=tea.business, name="茶馆券", kind="amount_off",
                                  value=Decimal("5.00"))  # fmt: skip
    theirs = CouponTemplate.objects.create(
        business=salon.business, name="沙龙券", kind="amount_off", value=Decimal("5.00")
    )
    client = client_for(tea.owner)
    page = client.get(reverse("admin:campaigns_campaign_add")).content.decode()
    assert "茶馆券" in page
    assert "沙龙券" not in page
    response = client.post(
        reverse("admin:campaigns_campaign_add"), form_data(coupon_template=theirs.pk)
    )
    assert response.status_code == 200
    assert "coupon_template" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


# --- the live count --------------------------------------------------------------------------


def test_count_view_answers_for_the_form_values(tea, salon, client_for):
    b = tea.business
    at_risk = customers(b, 12)
    for c in at_risk:
        give_score(c, churn_risk=0.8, value_tier=Tier.A)
    customers(b, 5, start=100)  # unscored
    customers(b, 3, start=200, consent=False)
    customers(salon.business, 40, start=300)  # never counted
    client = client_for(tea.owner)
    data = client.post(COUNT_URL, {"churn_min": "0.6", "control_pct": "25"}).json()
    assert data["matching"] == 12
    assert data["messageable"] == 12
    assert data["control"] == 3
    assert data["recipients"] == 9
    assert "12" in data["words"]
    everyone = client.post(COUNT_URL, {}).json()
    assert (everyone["matching"], everyone["messageable"]) == (20, 17)
    # E-mail delivery: nobody has an address.
    assert client.post(COUNT_URL, {"delivery": "email"}).json()["messageable"] == 0


def test_count_view_refuses_bad_values_and_other_tags(tea, salon, client_for):
    theirs = TagFactory(business=salon.business, name="沙龙标签")
    client = client_for(tea.owner)
    response = client.post(COUNT_URL, {"churn_min": "0.9", "churn_max": "0.1"})
    assert response.status_code == 400
    assert "churn_max" in response.json()["errors"]
    response = client.post(COUNT_URL, {"tags": [theirs.pk]})
    assert response.status_code == 400
    assert "tags" in response.json()["errors"]
    assert client.get(COUNT_URL).status_code == 405


def test_staff_may_count_but_not_add(tea, client_for):
    client = client_for(tea.staff)
    assert client.post(COUNT_URL, {}).status_code == 200
    assert client.get(reverse("admin:campaigns_campaign_add")).status_code == 403


# --- start, pause, finish --------------------------------------------------------------------


def test_owner_starts_pauses_and_finishes_through_the_services(tea, client_for):
    b = tea.business
    customers(b, 30)
    c = campaign(b)
    client = client_for(tea.owner)
    response = client.post(command_url(c, "start"), follow=True)
    c.refresh_from_db()
    assert c.status == Campaign.Status.RUNNING
    assert CampaignMember.objects.filter(campaign=c).count() == 30
    assert "30" in " ".join(str(m) for m in response.context["messages"])
    # Started: read-only, and no second start.
    page = client.get(change_url(c)).content.decode()
    assert 'name="message"' not in page
    assert client.post(command_url(c, "pause")).status_code == 302
    c.refresh_from_db()
    assert c.status == Campaign.Status.PAUSED
    assert client.post(command_url(c, "finish")).status_code == 302
    c.refresh_from_db()
    assert c.status == Campaign.Status.FINISHED
    assert not CampaignMember.objects.filter(campaign=c, status="scheduled").exists()
    # A finished campaign refuses to start: the refusal is a message, nothing changes.
    response = client.post(command_url(c, "start"), follow=True)
    assert any(m.level_tag == "error" for m in response.context["messages"])
    c.refresh_from_db()
    assert c.status == Campaign.Status.FINISHED


def test_commands_need_post(tea, client_for):
    c = campaign(tea.business)
    assert client_for(tea.owner).get(command_url(c, "start")).status_code == 405
    c.refresh_from_db()
    assert c.status == Campaign.Status.DRAFT


def test_admin_start_honours_consent_and_the_frequency_cap(tea, client_for):
    b = tea.business
    willing = customers(b, 10)
    unwilling = customers(b, 5, start=100, consent=False)
    blocked = customers(b, 2, start=200, status=Customer.Status.BLOCKED)
    earlier = campaign(b, name="上次")
    campaign_start(campaign=earlier, now=timezone.now() - timedelta(days=3))
    recently = earlier.members.filter(group="treatment").first()
    CampaignMember.objects.filter(pk=recently.pk).update(
        status="sent", sent_at=timezone.now() - timedelta(days=3)
    )
    services.campaign_finish(campaign=earlier)  # the others were never sent
    c = campaign(b, name="这次")
    client_for(tea.owner).post(command_url(c, "start"))
    entered = set(CampaignMember.objects.filter(campaign=c).values_list("customer_id", flat=True))
    assert entered == {p.pk for p in willing} - {recently.customer_id}
    assert not entered & {p.pk for p in unwilling + blocked}


def test_staff_may_view_but_not_start_or_finish(tea, client_for):
    customers(tea.business, 12)
    c = campaign(tea.business)
    client = client_for(tea.staff)
    assert client.get(change_url(c)).status_code == 200
    assert client.post(command_url(c, "start")).status_code == 403
    c.refresh_from_db()
    assert c.status == Campaign.Status.DRAFT
    changelist = reverse("admin:campaigns_campaign_changelist")
    response = client.post(changelist, {"action": "start_selected", "_selected_action": [c.pk]})
    c.refresh_from_db()
    assert c.status == Campaign.Status.DRAFT
    assert response.status_code in (200, 302)
    page = client.get(changelist).content.decode()
    assert "start_selected" not in page
    # Change is refused too.
    response = client.post(change_url(c), form_data(name="改名"))
    c.refresh_from_db()
    assert c.name != "改名"


def test_changelist_actions_start_and_finish(tea, client_for):
    customers(tea.business, 12)
    a, z = campaign(tea.business, name="A"), campaign(tea.business, name="Z", seed=7)
    changelist = reverse("admin:campaigns_campaign_changelist")
    client = client_for(tea.owner)
    client.post(changelist, {"action": "start_selected", "_selected_action": [a.pk]})
    a.refresh_from_db()
    assert a.status == Campaign.Status.RUNNING
    client.post(changelist, {"action": "finish_selected", "_selected_action": [a.pk, z.pk]})
    assert set(Campaign.objects.values_list("status", flat=True)) == {"finished"}


def test_started_campaign_cannot_be_deleted(tea, client_for):
    customers(tea.business, 3)
    c = campaign(tea.business)
    campaign_start(campaign=c)
    client = client_for(tea.owner)
    response = client.post(reverse("admin:campaigns_campaign_delete", args=[c.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Campaign.objects.filter(pk=c.pk).exists()


# --- results ---------------------------------------------------------------------------------


def test_change_page_shows_the_results(tea, client_for):
    b = tea.business
    people = customers(b, 60)
    c = campaign(b, control_pct=30, window_days=14)
    start = timezone.now() - timedelta(days=20)
    campaign_start(campaign=c, now=start)
    for p in people[:25]:
        PurchaseFactory(customer=p, occurred_at=start + timedelta(days=2), amount=Decimal("80"))
    page = client_for(tea.owner).get(change_url(c))
    html = page.content.decode()
    results = campaign_results(c)
    assert results.known
    assert results.summary in html
    assert results.came_back_words in html
    table = page.context["xw_results_table"]
    assert table[0]["treated"] == str(results.treated)
    assert table[0]["control"] == str(results.control)
    assert "±" in table[1]["difference"]
    assert "Share who came back" in html


def test_not_sent_reasons_are_in_words(tea, client_for):
    b = tea.business
    customers(b, 12)
    c = campaign(b)
    campaign_start(campaign=c)
    member = c.members.filter(group="treatment").first()
    CampaignMember.objects.filter(pk=member.pk).update(status="skipped", reason="no_consent")
    html = client_for(tea.owner).get(change_url(c)).content.decode()
    assert "no marketing consent any more: 1" in html


# --- members ---------------------------------------------------------------------------------


def test_members_are_read_only_and_filterable(tea, salon, client_for):
    customers(tea.business, 12)
    customers(salon.business, 12, start=100)
    mine = campaign(tea.business, name="茶馆活动")
    theirs = campaign(salon.business, name="沙龙活动")
    campaign_start(campaign=mine)
    campaign_start(campaign=theirs)
    client = client_for(tea.owner)
    url = reverse("admin:campaigns_campaignmember_changelist")
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "茶馆活动" in html
    assert "沙龙活动" not in html
    assert client.get(f"{url}?group=control").status_code == 200
    assert client.get(f"{url}?campaign__id__exact={mine.pk}").status_code == 200
    member = mine.members.first()
    assert client.get(reverse("admin:campaigns_campaignmember_add")).status_code == 403
    response = client.post(
        reverse("admin:campaigns_campaignmember_change", args=[member.pk]), {"status": "sent"}
    )
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.status != "sent"
    assert (
        client.post(
            reverse("admin:campaigns_campaignmember_delete", args=[member.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


# --- tenancy ---------------------------------------------------------------------------------


def test_another_business_campaign_is_invisible_and_unusable(tea, salon, client_for):
    customers(salon.business, 12)
    theirs = campaign(salon.business, name="沙龙秘密活动")
    client = client_for(tea.owner)
    changelist = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    assert "沙龙秘密活动" not in changelist
    assert client.get(change_url(theirs)).status_code in (302, 404)
    for command in ("start", "pause", "finish"):
        assert client.post(command_url(theirs, command)).status_code == 404
    client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "start_selected", "_selected_action": [theirs.pk]},
    )
    theirs.refresh_from_db()
    assert theirs.status == Campaign.Status.DRAFT
    assert not CampaignMember.objects.exists()
    # Their members are not listed, not openable.
    campaign_start(campaign=theirs)
    member = theirs.members.first()
    url = reverse("admin:campaigns_campaignmember_changelist")
    assert "沙龙秘密活动" not in client.get(url).content.decode()
    assert client.get(
        reverse("admin:campaigns_campaignmember_change", args=[member.pk])
    ).status_code in (302, 404)
    # The campaign filter offers only own campaigns.
    assert "沙龙秘密活动" not in client.get(f"{url}?group=treatment").content.decode()


def test_count_view_counts_only_own_customers(tea, salon, client_for):
    customers(salon.business, 15)
    data = client_for(tea.owner).post(COUNT_URL, {}).json()
    assert data["matching"] == 0


def test_change_page_reads_in_chinese(tea, client_for):
    people = customers(tea.business, 40)
    c = campaign(tea.business, control_pct=30)
    start = timezone.now() - timedelta(days=20)
    campaign_start(campaign=c, now=start)
    for p in people[:15]:
        PurchaseFactory(customer=p, occurred_at=start + timedelta(days=1), amount=Decimal("50"))
    client = client_for(tea.owner)
    html = client.get(change_url(c), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "回店率" in html
    assert "对照组" in html
    assert "已核销优惠券" in html
    draft = campaign(tea.business, name="草稿", seed=9)
    html = client.get(change_url(draft), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "符合条件的客户" in html


def test_audience_in_words_never_names_another_business_tag(tea, salon, client_for):
    secret = TagFactory(business=salon.business, name="沙龙机密标签")
    own = TagFactory(business=tea.business, name="茶馆常客")
    c = campaign(tea.business, audience={"tags": [secret.pk, own.pk]})
    campaign_start(campaign=c, now=timezone.now() - timedelta(days=1))
    html = client_for(tea.owner).get(change_url(c)).content.decode()
    assert "茶馆常客" in html
    assert "沙龙机密标签" not in html
