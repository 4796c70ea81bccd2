"""Campaigns in the phone app (issue 15): the owner's list, new campaign (presets, live count,
bad input), campaign page (results, start / pause / finish) and today's messages for staff
(SMS and WeChat in one tap, refusals), with tenancy, roles and CSRF."""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock
from urllib.parse import quote, unquote

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign, CampaignMember
from campaigns.services import campaign_check_assignment, campaign_start
from customers.models import Customer
from membership.models import Coupon, CouponTemplate
from segmentation.models import Tier
from tests.campaigns.conftest import NOON, SHANGHAI, campaign, customers
from tests.factories import PurchaseFactory, TagFactory, give_score

pytestmark = pytest.mark.django_db
Status = CampaignMember.Status
LATE = datetime(2026, 12, 3, 22, 30, tzinfo=SHANGHAI)  # quiet hours (21:00–09:00)


@pytest.fixture
def at():
    """at(moment): the views' clock (django.utils.timezone.now) reads `moment`."""
    with mock.patch("django.utils.timezone.now") as clock:

        def set_clock(moment):
            clock.return_value = moment

        yield set_clock


@pytest.fixture
def noon(at):
    at(NOON)
    return NOON


@pytest.fixture
def shop(tea):
    """40 valuable customers at risk (tier A/B), 10 steady tier-C ones, a coupon."""
    b = tea.business
    at_risk = customers(b, 40)
    for i, c in enumerate(at_risk):
        give_score(c, value_tier=Tier.A if i % 2 else Tier.B, churn_risk=0.8)
    steady = customers(b, 10, start=100)
    for c in steady:
        give_score(c, value_tier=Tier.C, churn_risk=0.1)
    tag = TagFactory(business=b, name="常客")
    for c in at_risk[:5]:
        c.tags.add(tag)
    template = CouponTemplate.objects.create(
        business=b, name="立减20", kind="amount_off", value=Decimal("20.00"), validity_days=30
    )
    return {"at_risk": at_risk, "steady": steady, "coupon": template, "tag": tag}


@pytest.fixture
def salon_campaign(salon):
    """The salon's customers (who match any audience) and a running campaign of theirs."""
    b = salon.business
    for c in customers(b, 30, start=500):
        give_score(c, value_tier=Tier.A, churn_risk=0.9)
    c = campaign(b, name="沙龙秘密活动")
    campaign_start(campaign=c, now=NOON)
    member = CampaignMember.objects.filter(campaign=c, status=Status.SCHEDULED).first()
    return {"campaign": c, "member": member}


def win_back_post(**extra) -> dict:
    data = {
        "name": "想念您",
        "kind": "one_off",
        "tiers": ["A", "B"],
        "churn_band": "high",
        "message": "{name}您好，{shop}想念您！{offer}",
        "offer": "下次到店立减20元",
        "control_pct": "10",
        "window_days": "14",
        "delivery": "staff",
        "go": "start",
    }
    data.update(extra)
    return data


def field_error(html: str, field: str) -> str:
    """The error shown in `field`'s own box (its label or legend, input and message)."""
    for box in re.split(r'(?=<(?:div|fieldset) class="field)', html)[1:]:
        box = box.split("</div>\n", 1)[0] if box.startswith("<div") else box
        if f'name="{field}"' in box and "invalid" in box.split(">", 1)[0]:
            found = re.search(r'<p class="error"[^>]*>([^<]+)</p>', box)
            if found:
                return found.group(1)
    return ""


def started(tea, **fields) -> Campaign:
    c = campaign(tea.business, **fields)
    campaign_start(campaign=c, now=NOON)
    return c


def scheduled(c) -> CampaignMember:
    return CampaignMember.objects.filter(campaign=c, status=Status.SCHEDULED).order_by("pk")[0]


# --- roles, tenancy, CSRF ---------------------------------------------------------------------


def test_owner_campaign_screens_are_403_for_staff(client_for, tea, shop, noon):
    c = started(tea)
    client = client_for(tea.staff)
    for url in (
        reverse("shop:campaigns"),
        reverse("shop:campaign_new"),
        reverse("shop:campaign_count") + "?tiers=A",
        reverse("shop:campaign", args=[c.pk]),
    ):
        assert client.get(url).status_code == 403, url
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 403, url
    assert client.post(reverse("shop:campaign_new"), win_back_post()).status_code == 403
    for action in ("start", "pause", "finish"):
        url = reverse("shop:campaign_action", args=[c.pk, action])
        assert client.post(url).status_code == 403
    c.refresh_from_db()
    assert c.status == Campaign.Status.RUNNING
    assert Campaign.objects.filter(business=tea.business).count() == 1
    # Staff do see today's messages.
    assert client.get(reverse("shop:send")).status_code == 200


@pytest.mark.parametrize("htmx", [False, True])
def test_another_business_campaigns_and_messages_are_404_and_unchanged(
    client_for, tea, shop, salon_campaign, noon, htmx
):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    salon_c, member = salon_campaign["campaign"], salon_campaign["member"]
    owner = client_for(tea.owner)
    assert owner.get(reverse("shop:campaign", args=[salon_c.pk]), **headers).status_code == 404
    for action in ("start", "pause", "finish"):
        url = reverse("shop:campaign_action", args=[salon_c.pk, action])
        assert owner.post(url, **headers).status_code == 404
    for role in ("owner", "staff"):
        client = client_for(getattr(tea, role))
        for name in ("shop:send_sms", "shop:send_wechat"):
            response = client.post(reverse(name, args=[member.pk]), **headers)
            assert response.status_code == 404
    salon_c.refresh_from_db()
    member.refresh_from_db()
    assert salon_c.status == Campaign.Status.RUNNING
    assert member.status == Status.SCHEDULED
    assert member.sent_at is None


def test_no_campaign_screen_shows_or_counts_another_business(
    client_for, tea, shop, salon_campaign, noon
):
    tea_c = started(tea, name="茶馆活动")
    owner = client_for(tea.owner)
    for url in (
        reverse("shop:campaigns"),
        reverse("shop:campaign", args=[tea_c.pk]),
        reverse("shop:send"),
        reverse("shop:today"),
        reverse("shop:campaign_new"),
    ):
        html = owner.get(url).content.decode()
        assert "沙龙秘密活动" not in html, url
        assert not re.search(r"客5\d\d", html), url  # the salon's customers: 客500…客529
    # No filter at all: only the tea house's 50 customers (those of the started campaign
    # are waiting for its message, so they cannot be messaged by another one now).
    html = owner.get(reverse("shop:campaign_count"), HTTP_HX_REQUEST="true").content.decode()
    assert "50 match" in html
    assert "<html" not in html


def test_posts_need_the_csrf_token(tea, shop, noon):
    c = started(tea)
    member = scheduled(c)
    for user, url, data in (
        (tea.owner, reverse("shop:campaign_new"), win_back_post()),
        (tea.owner, reverse("shop:campaign_action", args=[c.pk, "finish"]), {}),
        (tea.staff, reverse("shop:send_sms", args=[member.pk]), {}),
        (tea.staff, reverse("shop:send_wechat", args=[member.pk]), {}),
    ):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        assert client.post(url, data).status_code == 403, url
    member.refresh_from_db()
    c.refresh_from_db()
    assert member.status == Status.SCHEDULED
    assert c.status == Campaign.Status.RUNNING
    assert Campaign.objects.filter(business=tea.business).count() == 1


# --- the owner's screens --------------------------------------------------------------------


def test_owner_screen_links_to_campaigns_and_the_list_groups_them(client_for, tea, shop, noon):
    running = started(tea, name="回店有礼")
    campaign(tea.business, name="草稿活动")
    owner = client_for(tea.owner)
    assert reverse("shop:campaigns") in owner.get(reverse("shop:owner")).content.decode()
    html = owner.get(reverse("shop:campaigns")).content.decode()
    running_part = html.split('id="h-running"')[1].split("</section>")[0]
    drafts_part = html.split('id="h-drafts"')[1].split("</section>")[0]
    assert "回店有礼" in running_part
    assert "草稿活动" in drafts_part
    treated = CampaignMember.objects.filter(campaign=running, group="treatment").count()
    assert f"0 sent · {treated} to send" in running_part


def test_new_campaign_shows_presets_and_the_win_back_preset_fills_the_form(
    client_for, tea, shop, noon
):
    owner = client_for(tea.owner)
    html = owner.get(reverse("shop:campaign_new")).content.decode()
    for title in (
        "Win back valuable customers at risk",
        "Birthday",
        "Welcome new customers",
        "One message to a group",
    ):
        assert title in html
    html = owner.get(reverse("shop:campaign_new") + "?preset=win_back").content.decode()
    assert 'value="A" checked' in html.replace('id="id_tiers_0" ', "")
    assert '<option value="high" selected>' in html
    # The live count of the preset, at once: 40 tier A/B at risk, 10 % held out.
    assert "40 match" in html
    assert "40 can be messaged" in html
    assert "4 held out at random" in html
    assert "36 get it" in html
    assert "Preview for 客0" in html
    assert 'inputmode="numeric"' in html
    birthday = owner.get(reverse("shop:campaign_new") + "?preset=birthday").content.decode()
    assert '<option value="birthday" selected>' in birthday


def test_live_count_and_preview_follow_the_filters(client_for, tea, shop, noon):
    owner = client_for(tea.owner)
    url = reverse("shop:campaign_count")
    html = owner.get(
        url,
        {"tiers": ["C"], "message": "{name}：{offer}", "offer": "免费续杯", "control_pct": "20"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "10 match" in html
    assert "2 held out at random" in html
    assert "8 get it" in html
    assert "客100：免费续杯" in html  # the first matching customer, message filled in
    assert 'hx-swap-oob="true"' in html
    by_tag = owner.get(url, {"tags": [shop["tag"].pk]}, HTTP_HX_REQUEST="true")
    assert "5 match" in by_tag.content.decode()
    with_coupon = owner.get(
        url, {"message": "{name}", "coupon_template": shop["coupon"].pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "A1B2C3D4E5" in with_coupon  # a sample code where the coupon's code will be
    for bad, words in (
        ({"birthday_month": "13"}, "Select a valid choice"),
        ({"segments": ["nope"]}, "Select a valid choice"),
        ({"value_at_stake_min": "1e400"}, "Ensure"),
        ({"last_visit_after": "2026-02-31"}, "Enter a valid date"),
    ):
        response = owner.get(url, bad, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert words in response.content.decode(), bad


def test_start_a_win_back_campaign_from_the_app_enrols_with_a_control_group(
    client_for, tea, shop, noon
):
    owner = client_for(tea.owner)
    response = owner.post(reverse("shop:campaign_new"), win_back_post())
    c = Campaign.objects.get(business=tea.business)
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:campaign", args=[c.pk])
    assert c.status == Campaign.Status.RUNNING
    assert c.kind == Campaign.Kind.ONE_OFF
    assert c.audience == {"tiers": ["A", "B"], "churn_min": 0.6}
    assert c.created_by == tea.owner
    members = CampaignMember.objects.filter(campaign=c)
    assert members.count() == 40  # the tier-C customers are not in it
    # Each customer's group is the campaign's recorded hash (the seed is random, so how many
    # of 40 are held out varies: none at all in 1.5 % of runs); held out = not messaged.
    assert c.control_pct == 10
    assert campaign_check_assignment(c) == 0
    for member in members:
        held_out = member.group == "control"
        assert member.status == (Status.HELD_OUT if held_out else Status.SCHEDULED)
    assert members.filter(group="treatment").exists()
    html = owner.get(response["Location"]).content.decode()
    assert "Campaign started: 40 customers entered." in html
    assert "Too few customers to tell yet" in html or "extra visits" in html


def test_save_draft_then_start_from_the_campaign_page(client_for, tea, shop, noon):
    owner = client_for(tea.owner)
    owner.post(reverse("shop:campaign_new"), win_back_post(go="draft"))
    c = Campaign.objects.get(business=tea.business)
    assert c.status == Campaign.Status.DRAFT
    assert not CampaignMember.objects.filter(campaign=c).exists()
    html = owner.get(reverse("shop:campaign", args=[c.pk])).content.decode()
    assert "Who would get it now" in html
    assert "36 get it" in html
    owner.post(reverse("shop:campaign_action", args=[c.pk, "start"]))
    c.refresh_from_db()
    assert c.status == Campaign.Status.RUNNING
    assert CampaignMember.objects.filter(campaign=c).count() == 40


def test_count_again_without_javascript_saves_nothing(client_for, tea, shop, noon):
    response = client_for(tea.owner).post(
        reverse("shop:campaign_new"), win_back_post(go="count", name="")
    )
    assert response.status_code == 200
    assert "36 get it" in response.content.decode()
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"message": "x" * 10_000}, "message"),
        ({"message": "{nope}"}, "message"),
        ({"message": "{name"}, "message"),
        ({"name": ""}, "name"),
        ({"name": "名" * 500}, "name"),
        ({"control_pct": "999"}, "control_pct"),
        ({"control_pct": "1"}, "control_pct"),
        ({"control_pct": "9" * 40}, "control_pct"),
        ({"window_days": "1e9"}, "window_days"),
        ({"window_days": "2"}, "window_days"),
        ({"value_at_stake_min": "1e400"}, "value_at_stake_min"),
        ({"value_at_stake_min": "-5"}, "value_at_stake_min"),
        ({"last_visit_before": "2026-13-45"}, "last_visit_before"),
        ({"last_visit_after": "1899-01-01"}, "last_visit_after"),
        ({"segments": ["unknown_segment"]}, "segments"),
        ({"tiers": ["Z"]}, "tiers"),
        ({"tags": ["99999999999999999999"]}, "tags"),
        ({"sources": ["<script>"]}, "sources"),
        ({"birthday_month": "0"}, "birthday_month"),
        ({"churn_band": "everything"}, "churn_band"),
        ({"member_card": "maybe"}, "member_card"),
        ({"coupon_template": "99999999999999999999999"}, "coupon_template"),
        ({"delivery": "pigeon"}, "delivery"),
        ({"kind": "spam"}, "kind"),
        ({"cost_per_message": "1000"}, "cost_per_message"),
        ({"churn_threshold_pct": "100"}, "churn_threshold_pct"),
        ({"days_before": "99999"}, "days_before"),
        ({"ends_on": "tomorrow"}, "ends_on"),
    ],
)
def test_bad_input_is_a_message_next_to_the_field_and_saves_nothing(
    client_for, tea, shop, noon, changes, field
):
    response = client_for(tea.owner).post(reverse("shop:campaign_new"), win_back_post(**changes))
    assert response.status_code == 400
    html = response.content.decode()
    assert field_error(html, field), field
    assert not Campaign.objects.exists()
    assert not CampaignMember.objects.exists()


def test_another_business_coupon_is_not_a_choice(client_for, tea, salon, shop, noon):
    foreign = CouponTemplate.objects.create(
        business=salon.business, name="沙龙券", kind="amount_off", value=Decimal("5")
    )
    response = client_for(tea.owner).post(
        reverse("shop:campaign_new"), win_back_post(coupon_template=foreign.pk)
    )
    assert response.status_code == 400
    assert "沙龙券" not in response.content.decode()
    assert not Campaign.objects.exists()


def test_one_off_campaign_offers_finish_but_no_pause(client_for, tea, shop, noon):
    """The core sends a one-off once: paused, it could never start again."""
    c = started(tea)
    html = client_for(tea.owner).get(reverse("shop:campaign", args=[c.pk])).content.decode()
    assert reverse("shop:campaign_action", args=[c.pk, "finish"]) in html
    assert reverse("shop:campaign_action", args=[c.pk, "pause"]) not in html


def test_campaign_page_shows_results_costs_and_the_buttons_work(client_for, tea, shop, at):
    at(NOON)
    c = started(tea, window_days=7, kind="win_back")
    owner = client_for(tea.owner)
    staff = client_for(tea.staff)
    first = scheduled(c)
    staff.post(reverse("shop:send_sms", args=[first.pk]))
    # A week later some customers came back, treated and held out alike.
    for m in CampaignMember.objects.filter(campaign=c)[:12]:
        PurchaseFactory(
            customer=m.customer, amount=Decimal("50.00"), occurred_at=NOON + timedelta(days=3)
        )
    at(NOON + timedelta(days=8))  # the window is over (and the session still valid)
    html = owner.get(reverse("shop:campaign", args=[c.pk])).content.decode()
    assert "What it really earned" in html
    assert "Got it" in html
    assert "Held out" in html
    assert "Came back" in html
    assert "What worked in this shop" in html
    assert "1</dd>" in html.split("Sent</dt>")[1]
    for action, status in (
        ("pause", Campaign.Status.PAUSED),
        ("finish", Campaign.Status.FINISHED),
    ):
        response = owner.post(reverse("shop:campaign_action", args=[c.pk, action]))
        assert response.status_code == 302
        c.refresh_from_db()
        assert c.status == status
    html = owner.get(reverse("shop:campaign", args=[c.pk])).content.decode()
    assert "/pause/" not in html
    assert "/finish/" not in html
    # A finished campaign cannot be started again: a message, nothing changes.
    response = owner.post(reverse("shop:campaign_action", args=[c.pk, "start"]), follow=True)
    assert "This campaign has finished." in response.content.decode()
    c.refresh_from_db()
    assert c.status == Campaign.Status.FINISHED


def test_campaign_page_shows_the_latest_backtest_beside_its_baseline(client_for, tea, shop, noon):
    from segmentation.models import ScoringRun

    run = ScoringRun.objects.filter(business=tea.business).first()
    run.backtest = {
        "as_of": "2026-09-01",
        "days": 90,
        "customers": 50,
        "came_back": 20,
        "churn": {"auc": 0.74},
        "recency_baseline": {"auc": 0.66},
    }
    run.save()
    c = started(tea)
    html = client_for(tea.owner).get(reverse("shop:campaign", args=[c.pk])).content.decode()
    assert "AUC 0.74" in html
    assert "0.66" in html


# --- today's messages -----------------------------------------------------------------------


def test_today_links_to_the_messages_to_send_with_their_count(client_for, tea, shop, noon):
    client = client_for(tea.staff)
    assert "campaign message" not in client.get(reverse("shop:today")).content.decode()
    c = started(tea)
    n = CampaignMember.objects.filter(campaign=c, status=Status.SCHEDULED).count()
    html = client.get(reverse("shop:today")).content.decode()
    assert f"{n} campaign messages to send" in html
    assert reverse("shop:send") in html


def test_send_list_rows_show_name_last_digits_campaign_and_message(client_for, tea, shop, noon):
    c = started(tea, name="回店有礼")
    member = scheduled(c)
    html = client_for(tea.staff).get(reverse("shop:send")).content.decode()
    row = html.split(f'id="send-{member.pk}"')[1].split("</li>")[0]
    customer = member.customer
    assert customer.name in row
    assert f"…{customer.phone[-4:]}" in row
    assert customer.phone not in row  # the last four digits only
    assert "回店有礼" in row
    assert f"{customer.name}您好，清风茶馆想念您！下次到店立减20元" in row
    assert reverse("shop:send_sms", args=[member.pk]) in row
    assert reverse("shop:send_wechat", args=[member.pk]) in row


def test_send_list_is_paginated(client_for, tea, shop, noon):
    c = started(tea)
    client = client_for(tea.staff)
    n = CampaignMember.objects.filter(campaign=c, status=Status.SCHEDULED).count()
    assert n > 20
    first = client.get(reverse("shop:send")).content.decode()
    assert first.count('class="send"') == 20
    assert "?page=2" in first
    second = client.get(reverse("shop:send") + "?page=2").content.decode()
    assert second.count('class="send"') == min(20, n - 20)
    for junk in ("abc", "9" * 40, "-3", "0"):
        assert client.get(reverse("shop:send"), {"page": junk}).status_code == 200


def test_sms_tap_sends_once_and_opens_the_sms_app_with_the_text(client_for, tea, shop, noon):
    c = started(tea, coupon_template=shop["coupon"], message="{name}，送您{offer}，券码{code}")
    member = scheduled(c)
    client = client_for(tea.staff)
    url = reverse("shop:send_sms", args=[member.pk])
    response = client.post(url)
    assert response.status_code == 303
    location = response["Location"]
    assert location.startswith(f"sms:{member.customer.phone}?body=")
    member.refresh_from_db()
    assert member.status == Status.SENT
    assert member.sent_by == tea.staff
    assert member.channel == "sms"
    coupon = Coupon.objects.get(account__customer=member.customer)
    text = unquote(location.split("?body=", 1)[1])
    assert text == f"{member.customer.name}，送您下次到店立减20元，券码{coupon.code}"
    assert location.split("?body=", 1)[1] == quote(text, safe="")
    # A second tap: "already sent", no second coupon, nothing else changes.
    again = client.post(url, follow=True)
    assert "This message was already sent." in again.content.decode()
    assert again.redirect_chain == [(reverse("shop:send"), 303)]
    assert Coupon.objects.filter(account__customer=member.customer).count() == 1
    member.refresh_from_db()
    assert member.sent_by == tea.staff


def test_sms_tap_through_htmx_answers_with_hx_redirect(client_for, tea, shop, noon):
    member = scheduled(started(tea))
    response = client_for(tea.owner).post(
        reverse("shop:send_sms", args=[member.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(f"sms:{member.customer.phone}?body=")
    assert f"send-{member.pk}" in response["HX-Trigger"]
    again = client_for(tea.owner).post(
        reverse("shop:send_sms", args=[member.pk]), HTTP_HX_REQUEST="true"
    )
    assert again.status_code == 200
    assert "HX-Redirect" not in again
    html = again.content.decode()
    assert "This message was already sent." in html
    assert f'id="send-{member.pk}"' in html
    assert "<html" not in html


@pytest.mark.parametrize("htmx", [False, True])
def test_wechat_tap_marks_sent_and_shows_the_text_to_copy(client_for, tea, shop, noon, htmx):
    member = scheduled(started(tea))
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client_for(tea.staff).post(reverse("shop:send_wechat", args=[member.pk]), **headers)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{member.customer.name}您好，清风茶馆想念您！下次到店立减20元</textarea>" in html
    assert f'data-copy="#wx-{member.pk}"' in html
    assert ("<html" in html) is not htmx
    member.refresh_from_db()
    assert member.status == Status.SENT
    assert member.channel == "wechat"


def test_quiet_hours_hide_the_list_and_refuse_a_send(client_for, tea, shop, at):
    at(NOON)
    c = started(tea)
    member = scheduled(c)
    at(LATE)
    client = client_for(tea.staff)
    html = client.get(reverse("shop:send")).content.decode()
    assert "Quiet hours" in html
    assert "you can send from 09:00" in html
    assert 'class="send"' not in html
    today = client.get(reverse("shop:today")).content.decode()
    assert "to send from 09:00 (quiet hours)" in today
    response = client.post(reverse("shop:send_sms", args=[member.pk]), follow=True)
    assert "Quiet hours: no messages before 09:00." in response.content.decode()
    member.refresh_from_db()
    assert member.status == Status.SCHEDULED
    assert member.sent_at is None


def test_withdrawn_consent_is_refused_with_a_clear_message(client_for, tea, shop, noon):
    c = started(tea, coupon_template=shop["coupon"])
    member = scheduled(c)
    Customer.objects.filter(pk=member.customer_id).update(marketing_consent=False)
    response = client_for(tea.staff).post(
        reverse("shop:send_sms", args=[member.pk]), HTTP_HX_REQUEST="true"
    )
    assert "withdrew their consent" in response.content.decode()
    assert "HX-Redirect" not in response
    member.refresh_from_db()
    assert member.status == Status.SKIPPED
    assert not Coupon.objects.filter(account__customer_id=member.customer_id).exists()


def test_frequency_cap_is_refused_with_a_clear_message(client_for, tea, shop, noon):
    first = started(tea, name="第一")
    second = campaign(tea.business, name="第二")
    member = scheduled(first)
    # The same customer entered a second campaign too (e.g. from the admin before the cap).
    other = CampaignMember.objects.create(
        business=tea.business,
        campaign=second,
        customer=member.customer,
        group="treatment",
        status=Status.SCHEDULED,
        entered_at=NOON,
        due_at=NOON,
    )
    Campaign.objects.filter(pk=second.pk).update(status=Campaign.Status.RUNNING)
    client = client_for(tea.staff)
    client.post(reverse("shop:send_sms", args=[member.pk]))
    response = client.post(reverse("shop:send_sms", args=[other.pk]), follow=True)
    assert "already got a campaign message" in response.content.decode()
    other.refresh_from_db()
    assert other.status == Status.SKIPPED


def test_junk_ids_and_methods_are_404_or_405_never_500(client_for, tea, shop, noon):
    c = started(tea)
    owner = client_for(tea.owner)
    huge = "9" * 30
    for url in (f"/app/owner/campaigns/{huge}/", f"/app/owner/campaigns/{huge}/start/"):
        assert owner.get(url).status_code in {404, 405}, url
    for url in (
        f"/app/owner/campaigns/{huge}/start/",
        f"/app/send/{huge}/sms/",
        f"/app/send/{huge}/wechat/",
        f"/app/owner/campaigns/{c.pk}/explode/",
    ):
        assert owner.post(url).status_code == 404, url
    assert owner.get(reverse("shop:send_sms", args=[scheduled(c).pk])).status_code == 405
    assert owner.get(reverse("shop:campaign_action", args=[c.pk, "finish"])).status_code == 405
    c.refresh_from_db()
    assert c.status == Campaign.Status.RUNNING
