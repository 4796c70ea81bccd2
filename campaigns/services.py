"""Every campaign write: start, pause, finish, enrol customers (random control group), the
automatic triggers, the sends (staff from their phones, or the worker by e-mail / SMS).

Exactly once: a `CampaignMember` row is unique per campaign, customer and occasion, created
with `ignore_conflicts`, and a send locks its row and sends only from `scheduled`, so a retried
task, a second tap or a second worker never messages anyone twice (docs/campaigns.md).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Business
from customers.models import Customer, Purchase
from membership.models import LedgerEntry, MemberAccount, VisitPackage
from membership.services import LedgerRefused, account_open, coupon_issue
from segmentation.models import CustomerScore

from .audience import Audience, frequency_gap, matching_customers, messageable, parse_audience
from .models import Campaign, CampaignMember
from .senders import get_sms_sender, render_message, send_email

logger = logging.getLogger(__name__)

Status = CampaignMember.Status
Group = CampaignMember.Group
MAX_SEND_ATTEMPTS = 5
REQUEUE_AFTER = timedelta(minutes=30)
ENROL_CHUNK = 2000


class CampaignRefused(ValidationError):
    """A send or a change the rules do not allow; nothing was written."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message, code=code)
        self.refusal = code


# --- random assignment -----------------------------------------------------------------------


def group_for(campaign: Campaign, customer_id: int, occasion: str = "") -> str:
    """The customer's random group: a hash of the campaign's seed, the customer and the
    occasion, so the assignment is recorded *and* reproducible (`campaign_check_assignment`)."""
    digest = hashlib.sha256(f"{campaign.seed}:{customer_id}:{occasion}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return Group.CONTROL if u < campaign.control_pct / 100 else Group.TREATMENT


def campaign_check_assignment(campaign: Campaign) -> int:
    """How many recorded groups differ from a recomputation (0 unless rows were tampered with)."""
    wrong = 0
    for customer_id, occasion, group in CampaignMember.objects.filter(
        campaign=campaign
    ).values_list("customer_id", "occasion", "group"):
        wrong += group != group_for(campaign, customer_id, occasion)
    return wrong


# --- quiet hours -----------------------------------------------------------------------------


def _quiet_hours() -> tuple[int, int]:
    start, end = settings.XW_CAMPAIGN_QUIET_HOURS
    return int(start), int(end)


def in_quiet_hours(business: Business, now: datetime) -> bool:
    start, end = _quiet_hours()
    if start == end:
        return False
    hour = now.astimezone(business.zone).hour
    return hour >= start or hour < end if start > end else start <= hour < end


def next_send_time(business: Business, now: datetime) -> datetime:
    """`now`, or the end of the quiet hours in the business's own zone."""
    if not in_quiet_hours(business, now):
        return now
    _start, end = _quiet_hours()
    local = now.astimezone(business.zone)
    day = local.date() if local.hour < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end), tzinfo=business.zone)


# --- life cycle ------------------------------------------------------------------------------


def _editable(campaign: Campaign) -> None:
    if campaign.status == Campaign.Status.FINISHED:
        raise CampaignRefused(_("This campaign has finished."), "finished")


EDITABLE_FIELDS = (
    "name", "kind", "audience", "message", "offer", "coupon_template", "delivery", "control_pct",
    "window_days", "cost_per_message", "churn_threshold", "days_before", "points_threshold",
    "ends_on",
)  # fmt: skip


@transaction.atomic
def campaign_save(
    *,
    business: Business,
    data: dict[str, Any],
    instance: Campaign | None = None,
    actor: Any = None,
) -> Campaign:
    """Create a campaign, or change a draft. A started campaign's message, audience and
    control share are fixed: they are what its results measure."""
    if instance is None:
        instance = Campaign(business=business, created_by=actor)
    else:
        instance = Campaign.objects.select_for_update().get(pk=instance.pk, business=business)
        if instance.status != Campaign.Status.DRAFT:
            raise CampaignRefused(_("Only a draft campaign can be changed."), "not_draft")
    for name, value in data.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(name)
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def campaign_start(*, campaign: Campaign, now: datetime | None = None) -> int:
    """Start (or resume) a campaign. A one-off campaign enrols its whole audience now; an
    automatic one enrols whoever meets its trigger now and then every few minutes. Returns
    how many customers entered."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _editable(campaign)
    if campaign.status == Campaign.Status.RUNNING:
        return 0
    if not campaign.seed:
        campaign.seed = secrets.randbits(62)
    if campaign.started_at is None:
        campaign.started_at = now
    if campaign.kind == Campaign.Kind.ONE_OFF and campaign.members.exists():
        if campaign.status != Campaign.Status.PAUSED:
            raise CampaignRefused(_("A one-off campaign is sent once."), "already_sent")
        # Resuming a paused one-off sends what is left; nobody new enters.
        campaign.status = Campaign.Status.RUNNING
        campaign.save(update_fields=["status"])
        return 0
    campaign.status = Campaign.Status.RUNNING
    campaign.save(update_fields=["seed", "started_at", "status"])
    return campaign_enrol_due(campaign=campaign, now=now)


@transaction.atomic
def campaign_pause(*, campaign: Campaign) -> Campaign:
    _editable(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
    campaign.status = Campaign.Status.PAUSED
    return campaign


@transaction.atomic
def campaign_finish(*, campaign: Campaign, now: datetime | None = None, reason: str = "") -> int:
    """Stop a campaign: messages not sent by now are not sent any more. Returns how many."""
    now = now or timezone.now()
    Campaign.objects.filter(pk=campaign.pk).exclude(status=Campaign.Status.FINISHED).update(
        status=Campaign.Status.FINISHED, finished_at=now
    )
    campaign.status, campaign.finished_at = Campaign.Status.FINISHED, now
    return CampaignMember.objects.filter(campaign=campaign, status=Status.SCHEDULED).update(
        status=Status.SKIPPED, reason=reason or "campaign_finished"
    )


# --- enrolment -------------------------------------------------------------------------------


def _occasion_candidates(campaign: Campaign, now: datetime) -> dict[int, str] | QuerySet:
    """Customers whose trigger fires now: a queryset (occasion "") or {customer id: occasion}."""
    business = campaign.business
    kind = campaign.kind
    customers = Customer.objects.for_business(business)
    if kind == Campaign.Kind.ONE_OFF:
        return customers
    if kind == Campaign.Kind.WIN_BACK:
        return customers.filter(score__churn_risk__gte=campaign.churn_threshold)
    if kind == Campaign.Kind.WELCOME:
        purchases = Purchase.objects.for_business(business).filter(customer_id=OuterRef("pk"))
        since = max(campaign.started_at or now, now - timedelta(days=7))
        return customers.filter(Exists(purchases.filter(occurred_at__gte=since))).exclude(
            Exists(purchases.filter(occurred_at__lt=campaign.started_at or now))
        )
    if kind == Campaign.Kind.POINTS_REWARD:
        return customers.filter(member_account__points__gte=campaign.points_threshold)
    today = now.astimezone(business.zone).date()
    if kind == Campaign.Kind.BIRTHDAY:
        target = today + timedelta(days=campaign.days_before)
        q = Q(birthday__month=target.month, birthday__day=target.day)
        if target.month == 2 and target.day == 28 and not _leap(target.year):
            q |= Q(birthday__month=2, birthday__day=29)
        return {pk: str(target.year) for pk in customers.filter(q).values_list("pk", flat=True)}
    if kind == Campaign.Kind.EXPIRING:
        until = now + timedelta(days=campaign.days_before)
        found: dict[int, str] = {}
        points = (
            LedgerEntry.objects.for_business(business)
            .filter(points__gt=0, points_expire_at__gt=now, points_expire_at__lte=until)
            .filter(account__points__gt=0, reverses__isnull=True)
            .values_list("account__customer_id", "points_expire_at")
        )
        packages = (
            VisitPackage.objects.for_business(business)
            .filter(visits_left__gt=0, expires_at__gt=now, expires_at__lte=until)
            .values_list("account__customer_id", "expires_at")
        )
        for customer_id, when in [*points, *packages]:
            day = when.astimezone(business.zone).date().isoformat()
            found[customer_id] = min(found.get(customer_id, day), day)
        return found
    raise ValueError(kind)  # pragma: no cover


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def campaign_enrol_due(*, campaign: Campaign, now: datetime | None = None) -> int:
    """Enrol everyone the campaign's audience and trigger select now, who may be messaged and
    is not in it yet for this occasion. Each gets a random group; the treated get a due time
    (after quiet hours). Returns how many entered."""
    now = now or timezone.now()
    business = campaign.business
    audience = parse_audience(campaign.audience)
    candidates = _occasion_candidates(campaign, now)
    occasions: dict[int, str] | None = None
    if isinstance(candidates, dict):
        occasions = candidates
        candidates = Customer.objects.for_business(business).filter(pk__in=list(candidates))
    chosen = _narrow(business, campaign, candidates, audience, now)
    ids = list(chosen.values_list("pk", flat=True).order_by("pk"))
    already = set(
        CampaignMember.objects.filter(campaign=campaign, customer_id__in=ids).values_list(
            "customer_id", "occasion"
        )
    )
    rows = [(pk, (occasions or {}).get(pk, "")) for pk in ids]
    rows = [(pk, occ) for pk, occ in rows if (pk, occ) not in already]
    if not rows:
        return 0
    # Counted, not assumed: a concurrent pass may have written some of these rows first.
    before = CampaignMember.objects.filter(campaign=campaign).count()
    for start in range(0, len(rows), ENROL_CHUNK):
        _enrol(campaign, rows[start : start + ENROL_CHUNK], now)
    return CampaignMember.objects.filter(campaign=campaign).count() - before


def _narrow(business, campaign, candidates, audience: Audience, now) -> QuerySet[Customer]:
    matching = matching_customers(business, audience).filter(pk__in=candidates.values("pk"))
    return messageable(business, matching, delivery=campaign.delivery, now=now)


def _enrol(campaign: Campaign, rows: list[tuple[int, str]], now: datetime) -> None:
    if not rows:
        return
    business = campaign.business
    scores = {
        s["customer_id"]: s
        for s in CustomerScore.objects.for_business(business)
        .filter(customer_id__in=[pk for pk, _occ in rows])
        .values("customer_id", "rfm_segment", "value_tier", "churn_risk")
    }
    due = next_send_time(business, now)
    members = []
    for pk, occasion in rows:
        group = group_for(campaign, pk, occasion)
        score = scores.get(pk, {})
        members.append(
            CampaignMember(
                business=business,
                campaign=campaign,
                customer_id=pk,
                occasion=occasion,
                group=group,
                status=Status.SCHEDULED if group == Group.TREATMENT else Status.HELD_OUT,
                entered_at=now,
                due_at=due,
                segment=score.get("rfm_segment", ""),
                tier=score.get("value_tier", ""),
                churn_risk=score.get("churn_risk"),
            )
        )
    CampaignMember.objects.bulk_create(members, ignore_conflicts=True, batch_size=500)


def campaigns_plan_business(*, business: Business, now: datetime | None = None) -> int:
    """The periodic pass for one business: automatic campaigns enrol whoever newly meets their
    trigger; campaigns past their end stop. Returns how many customers entered."""
    now = now or timezone.now()
    if not business.is_active:
        return 0
    entered = 0
    today = now.astimezone(business.zone).date()
    for campaign in Campaign.objects.for_business(business).filter(status=Campaign.Status.RUNNING):
        campaign.business = business
        if campaign.ends_on and campaign.ends_on < today:
            campaign_finish(campaign=campaign, now=now, reason="campaign_ended")
            continue
        if campaign.kind == Campaign.Kind.ONE_OFF:
            # A one-off's unsent messages stop at the end of its results window: a message
            # sent after the window would not be measured.
            if campaign.started_at and now >= campaign.started_at + timedelta(
                days=campaign.window_days
            ):
                campaign_finish(campaign=campaign, now=now, reason="window_over")
            continue
        with transaction.atomic():
            entered += campaign_enrol_due(campaign=campaign, now=now)
    return entered


# --- sending ---------------------------------------------------------------------------------


@dataclass
class Prepared:
    member: CampaignMember
    sent: bool
    text: str = ""
    refusal: str = ""


def _refusal(member: CampaignMember, customer: Customer, campaign: Campaign, now: datetime) -> str:
    if campaign.status != Campaign.Status.RUNNING or not campaign.business.is_active:
        return "campaign_not_running"
    if not customer.marketing_consent:
        return "no_consent"
    if customer.status == Customer.Status.BLOCKED:
        return "blocked"
    capped = (
        CampaignMember.objects.filter(customer_id=customer.pk, status=Status.SENT)
        .filter(sent_at__gte=now - frequency_gap())
        .exclude(pk=member.pk)
        .exists()
    )
    return "frequency_cap" if capped else ""


def _coupon_for(member: CampaignMember, campaign: Campaign, customer: Customer, actor) -> str:
    """Issue the campaign's coupon on the customer's member card (opened if they have none);
    idempotent per member, so a retried send issues one coupon."""
    if campaign.coupon_template_id is None:
        return ""
    account = MemberAccount.objects.filter(customer=customer).first() or account_open(
        customer=customer
    )
    result = coupon_issue(
        account=account,
        template=campaign.coupon_template,
        key=f"campaign-member-{member.pk}",
        actor=actor,
        actor_label=_("campaign %(name)s") % {"name": campaign.name[:40]},
    )
    member.coupon_id = result["coupon"]
    return result["code"]


def _lock(member_id: int, business: Business | None) -> CampaignMember | None:
    qs = CampaignMember.objects.select_for_update().select_related("campaign__business")
    if business is not None:
        qs = qs.for_business(business)
    return qs.filter(pk=member_id).first()


@transaction.atomic
def member_send_by_staff(
    *, business: Business, member_id: int, user: Any, channel: str, now: datetime | None = None
) -> Prepared:
    """A staff member sends one message from their own phone (`channel` "sms" or "wechat"):
    issue the coupon, mark it sent, return the text to put in the SMS or to copy. Refused,
    with nothing written, outside the rules (quiet hours, consent, cap, already sent)."""
    now = now or timezone.now()
    if channel not in ("sms", "wechat"):
        raise CampaignRefused(_("Send by SMS or WeChat."), "bad_channel")
    member = _lock(member_id, business)
    if member is None:
        raise CampaignRefused(_("This message does not exist."), "not_found")
    campaign = member.campaign
    if member.status != Status.SCHEDULED:
        if member.status == Status.SENT:
            raise CampaignRefused(_("This message was already sent."), "already_sent")
        raise CampaignRefused(_("This customer gets no message."), "not_scheduled")
    if campaign.delivery != Campaign.Delivery.STAFF:
        raise CampaignRefused(_("This campaign is sent automatically."), "not_staff")
    if in_quiet_hours(business, now):
        raise CampaignRefused(
            _("Quiet hours: no messages before %(hour)02d:00.") % {"hour": _quiet_hours()[1]},
            "quiet_hours",
        )
    customer = Customer.objects.select_for_update().get(pk=member.customer_id)
    refusal = _refusal(member, customer, campaign, now)
    if refusal:
        member.status, member.reason = Status.SKIPPED, refusal
        member.save(update_fields=["status", "reason"])
        return Prepared(member, False, refusal=refusal)
    if channel == "sms" and not customer.phone:
        raise CampaignRefused(_("This customer has no phone number."), "unreachable")
    code = _coupon_for(member, campaign, customer, user)
    text = render_message(campaign, customer, code)
    member.status, member.sent_at, member.sent_by_id = Status.SENT, now, user.pk
    member.channel, member.reason = channel, ""
    member.save(update_fields=["status", "sent_at", "sent_by", "channel", "reason", "coupon"])
    return Prepared(member, True, text=text)


@transaction.atomic
def members_claim_due(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids of due messages the worker sends (e-mail, SMS provider), marked queued now."""
    now = now or timezone.now()
    ids = list(
        CampaignMember.objects.filter(status=Status.SCHEDULED, due_at__lte=now)
        .filter(campaign__delivery__in=[Campaign.Delivery.EMAIL, Campaign.Delivery.SMS])
        .filter(campaign__status=Campaign.Status.RUNNING)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))
        .order_by("due_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    CampaignMember.objects.filter(pk__in=ids).update(queued_at=now)
    return ids


@transaction.atomic
def member_send(
    *, member_id: int, now: datetime | None = None
) -> tuple[CampaignMember | None, bool]:
    """The worker's send of one due message: (member, sent by this call). Idempotent."""
    now = now or timezone.now()
    member = _lock(member_id, None)
    if member is None or member.status != Status.SCHEDULED or member.due_at > now:
        return member, False
    campaign = member.campaign
    business = campaign.business
    if in_quiet_hours(business, now):
        member.due_at, member.queued_at = next_send_time(business, now), None
        member.save(update_fields=["due_at", "queued_at"])
        return member, False
    customer = Customer.objects.select_for_update().get(pk=member.customer_id)
    refusal = _refusal(member, customer, campaign, now)
    if refusal:
        member.status, member.reason = Status.SKIPPED, refusal
        member.save(update_fields=["status", "reason"])
        return member, False
    address = customer.email if campaign.delivery == Campaign.Delivery.EMAIL else customer.phone
    if not address:
        member.status, member.reason = Status.SKIPPED, "unreachable"
        member.save(update_fields=["status", "reason"])
        return member, False
    try:
        with transaction.atomic():
            code = _coupon_for(member, campaign, customer, None)
            text = render_message(campaign, customer, code)
            if campaign.delivery == Campaign.Delivery.EMAIL:
                send_email(campaign, customer, text)
                channel = "email"
            else:
                channel = get_sms_sender().send(phone=customer.phone, text=text) or "sms"
    except LedgerRefused:
        raise
    except Exception as exc:  # a provider may fail in any way: try again later
        logger.exception("campaign member %s: sending failed", member.pk)
        member.attempts += 1
        member.reason = f"send_failed: {exc}"[:255]
        member.queued_at = None
        member.coupon_id = None
        if member.attempts >= MAX_SEND_ATTEMPTS:
            member.status = Status.SKIPPED
        member.save(update_fields=["attempts", "reason", "queued_at", "status", "coupon"])
        return member, False
    member.status, member.sent_at, member.channel, member.reason = Status.SENT, now, channel, ""
    member.save(update_fields=["status", "sent_at", "channel", "reason", "coupon"])
    return member, True
