"""Automatic campaigns through real Celery workers on Redis (issue 15): beat's dispatcher
fans out one planning task per business, due messages are sent exactly once, and a message
claimed by a worker that died is claimed again later."""

from datetime import timedelta

import pytest

from campaigns import services
from campaigns.models import Campaign, CampaignMember
from tests.conftest import wait_until
from tests.factories import give_score

from .conftest import NOON, campaign, customers

DISPATCH = "campaigns.tasks.campaigns_dispatch"
SEND = "campaigns.tasks.campaign_member_send"
TIMEOUT = 60


@pytest.fixture
def run_task(task_runner):
    # No quiet hours in the worker: the test may run at any hour of the day.
    return task_runner(XW_CAMPAIGN_QUIET_HOURS="0,0")


@pytest.mark.celery_worker
def test_win_back_runs_from_beat_and_sends_each_message_once(tea, salon, run_task, settings):
    settings.XW_CAMPAIGN_QUIET_HOURS = (0, 0)
    plans = {}
    for tenant in (tea, salon):
        people = customers(tenant.business, 25, start=tenant.business.pk * 1000)
        for person in people[:20]:
            give_score(person, churn_risk=0.8)
        c = campaign(tenant.business, kind="win_back", delivery="sms", control_pct=20)
        Campaign.objects.filter(pk=c.pk).update(status="running", started_at=NOON, seed=99)
        plans[tenant.business.pk] = (c, people)

    # First pass: one planning task per business enrols the at-risk customers.
    assert run_task(DISPATCH)["businesses"] == 2
    wait_until(lambda: CampaignMember.objects.count() == 40, what="both businesses planned")
    for business_id, (c, _people) in plans.items():
        assert set(
            CampaignMember.objects.filter(campaign=c).values_list("business", flat=True)
        ) == {business_id}
    treated = CampaignMember.objects.filter(group="treatment").count()
    # Second pass: the due messages go out through the SMS sender.
    assert run_task(DISPATCH)["messages"] == treated
    wait_until(
        lambda: CampaignMember.objects.filter(status="sent").count() == treated,
        what="every treated customer messaged",
    )
    assert set(CampaignMember.objects.filter(status="sent").values_list("channel", flat=True)) == {
        "sms_log"
    }
    # Again: nobody enters twice, nothing is sent twice.
    assert run_task(DISPATCH)["messages"] == 0
    first = CampaignMember.objects.filter(status="sent").first()
    assert [run_task(SEND, first.pk) for _ in range(3)] == [False, False, False]
    assert CampaignMember.objects.count() == 40

    # A customer whose churn risk rises later enters on the next pass, once.
    c, people = plans[tea.business.pk]
    give_score(people[24], churn_risk=0.9)
    run_task(DISPATCH)
    wait_until(lambda: CampaignMember.objects.filter(campaign=c).count() == 21, what="newcomer")


@pytest.mark.celery_worker
def test_concurrent_duplicate_sends_send_once(tea, run_task, settings):
    settings.XW_CAMPAIGN_QUIET_HOURS = (0, 0)
    people = customers(tea.business, 1)
    people[0].email = "a@example.com"
    people[0].save()
    c = campaign(tea.business, delivery="email", control_pct=5, seed=1)
    while services.group_for(c, people[0].pk) != "treatment":  # a seed that draws them for it
        c.seed += 1
    c.save()
    services.campaign_start(campaign=c, now=NOON - timedelta(days=1))
    member = CampaignMember.objects.get(campaign=c)
    assert member.group == "treatment"
    pending = [run_task.app.send_task(SEND, args=[member.pk]) for _ in range(4)]
    assert sorted(p.get(timeout=TIMEOUT) for p in pending) == [False, False, False, True]


@pytest.mark.django_db
def test_a_claim_lost_with_its_worker_is_claimed_again(tea):
    people = customers(tea.business, 12)
    for person in people:
        person.email = "x@example.com"
        person.save()
    c = campaign(tea.business, delivery="email")
    services.campaign_start(campaign=c, now=NOON)
    claimed = services.members_claim_due(now=NOON)
    assert claimed
    # The worker holding those tasks was killed: nothing was sent. Within 30 minutes they
    # stay claimed (a slow worker may still be on them); after that they are claimed again.
    assert services.members_claim_due(now=NOON + timedelta(minutes=10)) == []
    again = services.members_claim_due(now=NOON + timedelta(minutes=31))
    assert sorted(again) == sorted(claimed)
    for member_id in again:
        services.member_send(member_id=member_id, now=NOON + timedelta(minutes=31))
    assert CampaignMember.objects.filter(campaign=c, status="sent").count() == len(claimed)
