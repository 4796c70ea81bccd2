"""Campaign core: audiences, random control groups, exactly-once sends, consent, frequency
cap, quiet hours, coupons, automatic triggers and the worker (issue 15)."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import override_settings

from campaigns import services, tasks
from campaigns.audience import AudienceError, audience_count, parse_audience
from campaigns.models import Campaign, CampaignMember
from campaigns.selectors import campaign_results, staff_day_list
from campaigns.services import CampaignRefused, campaign_start, member_send, member_send_by_staff
from customers.models import Customer
from membership.models import Coupon, CouponTemplate, MemberAccount
from membership.services import account_open, checkout
from segmentation.models import Segment, Tier
from tests.factories import PurchaseFactory, TagFactory, give_score

from .conftest import NOON, SHANGHAI, campaign, customers

pytestmark = pytest.mark.django_db
Status = CampaignMember.Status


# --- audiences -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"segments": ["nope"]},
        {"tiers": "Z"},
        {"churn_min": "1.5"},
        {"churn_min": "nan"},
        {"churn_min": 0.8, "churn_max": 0.2},
        {"value_at_stake_min": "-3"},
        {"value_at_stake_min": "1e400"},
        {"birthday_month": 13},
        {"tags": ["x"]},
        {"tags": list(range(1, 30))},
        {"last_visit_before": "2026-13-01"},
        {"last_visit_after": date(1899, 1, 1)},
        {"member_card": "maybe"},
        {"unknown_filter": 1},
        ["not", "an", "object"],
    ],
)
def test_bad_audience_is_refused_with_a_message(raw):
    with pytest.raises(AudienceError) as err:
        parse_audience(raw)
    assert err.value.messages
    assert all(m for m in err.value.messages)


def test_audience_filters_and_live_count(tea, salon):
    b = tea.business
    tag = TagFactory(business=b, name="常客")
    at_risk, loyal, no_score, blocked = customers(b, 4)
    give_score(at_risk, churn_risk=0.8, value_tier=Tier.A)
    give_score(loyal, churn_risk=0.1, rfm_segment=Segment.LOYAL, value_tier=Tier.B)
    give_score(blocked, churn_risk=0.9)
    Customer.objects.filter(pk=blocked.pk).update(status=Customer.Status.BLOCKED)
    no_score.birthday = date(1990, 5, 4)
    no_score.save()
    no_score.tags.add(tag)
    customers(salon.business, 3)  # another business: never counted

    def count(**raw):
        return audience_count(b, parse_audience(raw))

    assert count().matching == 4
    assert count().messageable == 3
    c = count(churn_min=0.6)
    assert (c.matching, c.messageable) == (2, 1)  # the blocked one may not be messaged
    assert count(tiers=["A"], segments=["at_risk"]).messageable == 1
    assert count(birthday_month=5).matching == 1
    assert count(tags=[tag.pk]).matching == 1
    other_tag = TagFactory(business=salon.business)
    assert count(tags=[other_tag.pk]).matching == 0  # another business's tag matches nobody
    assert count(value_at_stake_min="500").matching == 2  # 900 × 0.8 and 900 × 0.9
    account_open(customer=loyal)
    assert count(member_card=True).matching == 1
    assert count(member_card="false").matching == 3


def test_last_visit_filters_use_the_business_day(tea):
    b = tea.business
    old, recent = customers(b, 2)
    PurchaseFactory(customer=old, occurred_at=datetime(2026, 9, 1, 10, tzinfo=SHANGHAI))
    # 00:30 on 1 November in Shanghai is still 31 October in UTC.
    PurchaseFactory(customer=recent, occurred_at=datetime(2026, 11, 1, 0, 30, tzinfo=SHANGHAI))
    before = audience_count(b, parse_audience({"last_visit_before": "2026-11-01"}))
    after = audience_count(b, parse_audience({"last_visit_after": "2026-10-31"}))
    assert before.matching == 1
    assert after.matching == 1


def test_message_placeholders_are_checked(tea):
    with pytest.raises(ValidationError) as err:
        campaign(tea.business, message="Hi {nmae}")
    assert "{nmae}" in str(err.value)
    with pytest.raises(ValidationError):
        campaign(tea.business, message="Hi {")
    with pytest.raises(ValidationError):
        campaign(tea.business, control_pct=0)


# --- control group, exactly once -------------------------------------------------------------


def test_one_off_start_assigns_a_reproducible_random_control_group(tea):
    b = tea.business
    customers(b, 1000)
    customers(b, 50, consent=False, start=5000)
    c = campaign(b)
    entered = campaign_start(campaign=c, now=NOON)
    assert entered == 1000  # no consent, no message and no place in either group
    control = CampaignMember.objects.filter(campaign=c, group="control").count()
    assert 60 <= control <= 140  # 10 % ± 4.2 standard deviations
    assert services.campaign_check_assignment(c) == 0
    assert (
        not CampaignMember.objects.filter(campaign=c, group="control")
        .exclude(status=Status.HELD_OUT)
        .exists()
    )
    # Same seed, same draw: the assignment can be recomputed by anyone.
    again = {
        m.customer_id: services.group_for(c, m.customer_id)
        for m in CampaignMember.objects.filter(campaign=c)
    }
    assert sum(g == "control" for g in again.values()) == control
    # Starting again enrols nobody twice.
    assert campaign_start(campaign=c, now=NOON) == 0
    # Paused and resumed: what is left is sent, nobody new enters (a one-off is sent once).
    services.campaign_pause(campaign=c)
    customers(b, 5, start=9000)
    assert campaign_start(campaign=c, now=NOON) == 0
    c.refresh_from_db()
    assert c.status == Campaign.Status.RUNNING
    assert CampaignMember.objects.filter(campaign=c).count() == 1000


def test_staff_send_once_with_coupon_and_the_rules(tea, salon):
    b = tea.business
    template = CouponTemplate.objects.create(
        business=b, name="立减20", kind="amount_off", value=Decimal("20.00"), validity_days=30
    )
    customers(b, 30)
    c = campaign(b, coupon_template=template, message="{name}，送您{offer}，券码{code}")
    campaign_start(campaign=c, now=NOON)
    rows = list(staff_day_list(b, NOON))
    assert rows
    assert all(r.group == "treatment" for r in rows)
    first = rows[0]
    # Another business's staff cannot see or send it.
    assert not staff_day_list(salon.business, NOON).exists()
    with pytest.raises(CampaignRefused):
        member_send_by_staff(
            business=salon.business, member_id=first.pk, user=salon.staff, channel="sms", now=NOON
        )
    prepared = member_send_by_staff(
        business=b, member_id=first.pk, user=tea.staff, channel="sms", now=NOON
    )
    assert prepared.sent
    assert "券码" in prepared.text
    coupon = Coupon.objects.get(pk=prepared.member.coupon_id)
    assert coupon.code in prepared.text
    assert coupon.account.customer_id == first.customer_id
    with pytest.raises(CampaignRefused) as err:
        member_send_by_staff(
            business=b, member_id=first.pk, user=tea.staff, channel="sms", now=NOON
        )
    assert err.value.refusal == "already_sent"
    assert Coupon.objects.filter(account__customer_id=first.customer_id).count() == 1
    # Quiet hours (21:00–09:00 in the business's zone): refused, nothing written.
    late = datetime(2026, 12, 3, 22, 0, tzinfo=SHANGHAI)
    with pytest.raises(CampaignRefused) as err:
        member_send_by_staff(
            business=b, member_id=rows[1].pk, user=tea.staff, channel="sms", now=late
        )
    assert err.value.refusal == "quiet_hours"
    # Consent withdrawn after entering: skipped, not sent.
    Customer.objects.filter(pk=rows[1].customer_id).update(marketing_consent=False)
    skipped = member_send_by_staff(
        business=b, member_id=rows[1].pk, user=tea.staff, channel="wechat", now=NOON
    )
    assert not skipped.sent
    assert skipped.refusal == "no_consent"
    assert CampaignMember.objects.get(pk=rows[1].pk).status == Status.SKIPPED


def test_frequency_cap_across_campaigns(tea):
    b = tea.business
    people = customers(b, 20)
    first = campaign(b, name="一")
    campaign_start(campaign=first, now=NOON)
    member = staff_day_list(b, NOON).first()
    member_send_by_staff(business=b, member_id=member.pk, user=tea.owner, channel="sms", now=NOON)
    # A second campaign five days later: whoever got or awaits a message is not in it.
    second = campaign(b, name="二")
    campaign_start(campaign=second, now=NOON + timedelta(days=5))
    in_second = set(
        CampaignMember.objects.filter(campaign=second).values_list("customer", flat=True)
    )
    in_first = set(
        CampaignMember.objects.filter(campaign=first, group="treatment").values_list(
            "customer", flat=True
        )
    )
    assert not in_second & in_first
    assert in_second == {p.pk for p in people} - in_first
    # Fifteen days later the cap is over for those sent, but pending ones still wait.
    services.campaign_finish(campaign=first, now=NOON + timedelta(days=15))
    third = campaign(b, name="三")
    campaign_start(campaign=third, now=NOON + timedelta(days=15))
    assert CampaignMember.objects.filter(campaign=third, customer=member.customer_id).exists()


def test_frequency_cap_checked_again_at_send(tea):
    """Two campaigns that enrolled the same customer before either sent: only one message."""
    b = tea.business
    customers(b, 1)
    a, z = (
        campaign(b, name="A", control_pct=5, seed=1),
        campaign(b, name="Z", control_pct=5, seed=1),
    )
    Campaign.objects.filter(pk__in=[a.pk, z.pk]).update(status="running", started_at=NOON)
    a.refresh_from_db(), z.refresh_from_db()
    services._enrol(a, [(Customer.objects.get(business=b).pk, "")], NOON)
    services._enrol(z, [(Customer.objects.get(business=b).pk, "")], NOON)
    # Both drew the message (whatever the hash said for this customer id).
    CampaignMember.objects.update(group="treatment", status=Status.SCHEDULED)
    ma, mz = CampaignMember.objects.get(campaign=a), CampaignMember.objects.get(campaign=z)
    assert member_send_by_staff(
        business=b, member_id=ma.pk, user=tea.owner, channel="sms", now=NOON
    ).sent
    second = member_send_by_staff(
        business=b, member_id=mz.pk, user=tea.owner, channel="sms", now=NOON
    )
    assert not second.sent
    assert second.refusal == "frequency_cap"


# --- the worker ------------------------------------------------------------------------------


def test_worker_sends_email_once_and_waits_out_quiet_hours(tea, salon):
    b = tea.business
    people = customers(b, 40)
    Customer.objects.filter(pk__in=[p.pk for p in people[:30]]).update(email="k@example.com")
    customers(salon.business, 5, start=900, email="s@example.com")
    c = campaign(b, delivery="email")
    entered = campaign_start(campaign=c, now=NOON)
    assert entered == 30  # e-mail reaches only those with an address
    treated = CampaignMember.objects.filter(campaign=c, group="treatment").count()
    ids = services.members_claim_due(now=NOON)
    assert len(ids) == treated
    assert services.members_claim_due(now=NOON) == []  # claimed: not again within 30 minutes
    for member_id in ids + ids:  # a duplicated task sends nothing more
        member_send(member_id=member_id, now=NOON)
    assert len(mail.outbox) == treated
    assert CampaignMember.objects.filter(campaign=c, status="sent").count() == treated
    assert all(m.to == ["k@example.com"] for m in mail.outbox)

    # Entered at 22:00 local: due at 09:00 the next morning, local time.
    late = datetime(2026, 12, 4, 22, 0, tzinfo=SHANGHAI)
    d = campaign(b, name="late", delivery="email", seed=2)
    services.campaign_finish(campaign=c, now=late)
    campaign_start(campaign=d, now=late + timedelta(days=20))
    # (the cap of 14 days has passed) – shift one row into the quiet hours by hand:
    m = CampaignMember.objects.filter(campaign=d, group="treatment").first()
    m.due_at = late
    m.save()
    services.member_send(member_id=m.pk, now=late)
    m.refresh_from_db()
    assert m.status == Status.SCHEDULED
    assert m.due_at == datetime(2026, 12, 5, 9, 0, tzinfo=SHANGHAI)


def test_dispatch_task_fans_out_per_business(tea, salon, django_capture_on_commit_callbacks):
    for tenant in (tea, salon):
        people = customers(tenant.business, 12, start=tenant.business.pk * 100)
        Customer.objects.filter(pk__in=[p.pk for p in people]).update(email="x@example.com")
        c = campaign(tenant.business, delivery="email")
        campaign_start(campaign=c, now=NOON - timedelta(hours=1))
    quiet_off = override_settings(XW_CAMPAIGN_QUIET_HOURS=(0, 0))
    # Quiet hours stay off until the sends queued on commit have run (any hour of the day).
    with quiet_off, django_capture_on_commit_callbacks(execute=True):
        result = tasks.campaigns_dispatch()
    assert result["businesses"] == 2
    sent = CampaignMember.objects.filter(status="sent")
    assert sent.count() == len(mail.outbox) == result["messages"] > 0
    assert set(sent.values_list("business", flat=True)) == {tea.business.pk, salon.business.pk}


# --- automatic campaigns ---------------------------------------------------------------------


def test_win_back_enrols_when_churn_risk_crosses_the_threshold(tea):
    b = tea.business
    slipping, steady = customers(b, 2)
    give_score(slipping, churn_risk=0.7)
    score = give_score(steady, churn_risk=0.3)
    c = campaign(b, kind="win_back", churn_threshold=0.6, audience={"tiers": ["A"]})
    assert campaign_start(campaign=c, now=NOON) == 1
    score.churn_risk = 0.65
    score.save()
    assert services.campaigns_plan_business(business=b, now=NOON + timedelta(hours=1)) == 1
    assert services.campaigns_plan_business(business=b, now=NOON + timedelta(hours=2)) == 0
    assert CampaignMember.objects.filter(campaign=c).count() == 2


def test_birthday_campaign_once_per_year_and_others(tea):
    b = tea.business
    bday, other = customers(b, 2)
    bday.birthday = date(1990, 12, 10)
    bday.save()
    c = campaign(b, kind="birthday", days_before=7)
    assert campaign_start(campaign=c, now=NOON) == 1  # 3 Dec + 7 days = 10 Dec
    assert services.campaigns_plan_business(business=b, now=NOON) == 0
    member = CampaignMember.objects.get(campaign=c)
    assert member.occasion == "2026"
    next_year = NOON.replace(year=2027)
    # (the frequency cap has long passed; the row of 2026 is still "scheduled", so finish it)
    CampaignMember.objects.filter(pk=member.pk).update(status="sent", sent_at=NOON)
    assert services.campaigns_plan_business(business=b, now=next_year) == 1

    welcome = campaign(b, kind="welcome", name="welcome")
    campaign_start(campaign=welcome, now=NOON)
    PurchaseFactory(customer=other, occurred_at=NOON + timedelta(hours=1))
    assert services.campaigns_plan_business(business=b, now=NOON + timedelta(hours=2)) == 1
    assert CampaignMember.objects.get(campaign=welcome).customer_id == other.pk


def test_points_and_expiry_triggers(tea):
    b = tea.business
    rich, expiring = customers(b, 2)
    MemberAccount.objects.create(business=b, customer=rich, card_no="A1")
    MemberAccount.objects.filter(customer=rich).update(points=800)
    account = account_open(customer=expiring)
    from membership.models import VisitPackage

    VisitPackage.objects.create(
        business=b, account=account, name="10次卡", visits_total=10,
        expires_at=NOON + timedelta(days=5),
    )  # fmt: skip
    VisitPackage.objects.filter(account=account).update(visits_left=3)
    reward = campaign(b, kind="points_reward", points_threshold=500, name="points")
    expiry = campaign(b, kind="expiring", days_before=7, name="expiry")
    assert campaign_start(campaign=reward, now=NOON) == 1
    assert campaign_start(campaign=expiry, now=NOON) == 1
    assert CampaignMember.objects.get(campaign=expiry).occasion == "2026-12-08"


def test_campaign_end_date_stops_it(tea):
    customers(tea.business, 3)
    c = campaign(tea.business, kind="win_back", ends_on=date(2026, 12, 5))
    campaign_start(campaign=c, now=NOON)
    services.campaigns_plan_business(business=tea.business, now=NOON + timedelta(days=3))
    c.refresh_from_db()
    assert c.status == Campaign.Status.FINISHED
    assert not CampaignMember.objects.filter(campaign=c, status="scheduled").exists()


# --- results ---------------------------------------------------------------------------------


def test_coupon_redemption_counts_as_the_offers_cost(tea):
    b = tea.business
    template = CouponTemplate.objects.create(
        business=b, name="立减20", kind="amount_off", value=Decimal("20.00")
    )
    customers(b, 20)
    c = campaign(b, coupon_template=template, cost_per_message=Decimal("0.10"))
    campaign_start(campaign=c, now=NOON)
    member = staff_day_list(b, NOON).first()
    member_send_by_staff(business=b, member_id=member.pk, user=tea.staff, channel="sms", now=NOON)
    member.refresh_from_db()
    account = MemberAccount.objects.get(customer_id=member.customer_id)
    checkout(
        account=account, amount=Decimal("100.00"), coupon=member.coupon, key="k1",
        occurred_at=NOON + timedelta(days=1),
    )  # fmt: skip
    r = campaign_results(c, NOON + timedelta(days=2))
    assert r.redemptions == 1
    assert r.coupon_cost == Decimal("20.00")
    assert r.message_cost == Decimal("0.10")
    assert r.cost == Decimal("20.10")
    assert r.sent == 1


def test_worker_send_honours_consent_block_and_cap(tea):
    b = tea.business
    people = customers(b, 30)
    Customer.objects.filter(pk__in=[p.pk for p in people]).update(email="k@example.com")
    c = campaign(b, delivery="email", control_pct=5)
    campaign_start(campaign=c, now=NOON)
    withdrawn, blocked, capped, *_rest = CampaignMember.objects.filter(
        campaign=c, group="treatment"
    ).order_by("pk")
    Customer.objects.filter(pk=withdrawn.customer_id).update(marketing_consent=False)
    Customer.objects.filter(pk=blocked.customer_id).update(status=Customer.Status.BLOCKED)
    # Messaged by another campaign since entering this one.
    other = campaign(b, name="other", delivery="email", seed=8)
    Campaign.objects.filter(pk=other.pk).update(status="running", started_at=NOON)
    CampaignMember.objects.create(
        business=b, campaign=other, customer_id=capped.customer_id, group="treatment",
        status=Status.SENT, entered_at=NOON, due_at=NOON, sent_at=NOON + timedelta(hours=1),
    )  # fmt: skip
    later = NOON + timedelta(hours=2)
    for member in (withdrawn, blocked, capped):
        assert member_send(member_id=member.pk, now=later) == (
            CampaignMember.objects.get(pk=member.pk),
            False,
        )
    reasons = dict(
        CampaignMember.objects.filter(pk__in=[withdrawn.pk, blocked.pk, capped.pk]).values_list(
            "pk", "reason"
        )
    )
    assert reasons == {
        withdrawn.pk: "no_consent",
        blocked.pk: "blocked",
        capped.pk: "frequency_cap",
    }
    assert mail.outbox == []


def test_a_loss_is_worded_as_a_change_not_as_negative_gains():
    from campaigns.selectors import summary_words

    figures = {
        "treated": 134, "control": 16, "known": True, "visits": -16.0, "visits_ci": 35.0,
        "margin": -500.0, "margin_ci": 1128.96, "cost": "0.00", "net": -500.0,
        "significant": False, "window_complete": True,
    }  # fmt: skip
    words = summary_words(figures, lambda v: f"¥{v:,.2f}")
    assert "extra" not in words
    assert "changed visits by -16 (±35)" in words
    assert "could still be chance" in words
    figures.update(significant=True)
    assert "held-out customers did better" in summary_words(figures, str)
    figures.update(visits=12.0, margin=1450.0, net=850.0, cost="600.00")
    assert "brought +12 extra visits (±35)" in summary_words(figures, str)
