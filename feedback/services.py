"""Every write of the feedback app: links, submitted feedback, triage, automatic requests."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.db import is_database_busy
from accounts.links import absolute_url
from accounts.models import Business
from customers.models import Customer, Purchase
from customers.phones import normalize_phone

from .links import ResolvedLink, business_token, form_path, new_customer_token
from .models import REPLY_MAX, CustomerFeedbackLink, Feedback, FeedbackRequest, FeedbackSettings
from .senders import get_sender

logger = logging.getLogger(__name__)

# Automatic requests: only for purchases this recent (older ones, e.g. typed in late, are not
# worth asking about), and at most one request per customer in this many days.
REQUEST_RECENT = timedelta(days=2)
REQUEST_FUTURE_SLACK = timedelta(days=1)  # a till clock running ahead; later dates are typos
REQUEST_GAP = timedelta(days=30)
# A request queued but still scheduled after this long (worker down, task lost) is queued again.
REQUEUE_AFTER = timedelta(minutes=15)
MAX_SEND_ATTEMPTS = 3
MAX_SCHEDULE_ATTEMPTS = 5

# FeedbackRequest.reason codes (the admin shows the label).
REASONS = {
    "no_consent": _("No marketing consent"),
    "blocked": _("Customer is blocked"),
    "disabled": _("Feedback is switched off for the business"),
    "inactive": _("Business is inactive"),
    "unreachable": _("The sender has no address for this customer"),
    "send_failed": _("Sending failed"),
}


class LinkUnusable(Exception):
    """The link was used, expired or closed between the page load and the post."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


# Links ------------------------------------------------------------------------------------


def feedback_settings_for(business: Business) -> FeedbackSettings:
    """The business's feedback settings, created with the defaults on first use."""
    fs, _created = FeedbackSettings.objects.get_or_create(business=business)
    return fs


def business_link_url(
    *, business: Business, request=None, feedback_settings: FeedbackSettings | None = None
) -> str:
    fs = feedback_settings or feedback_settings_for(business)
    return absolute_url(form_path(business_token(fs)), request)


@transaction.atomic
def feedback_link_renew(*, business: Business) -> FeedbackSettings:
    """A new business link: every older link and printed QR code stops working."""
    feedback_settings_for(business)
    FeedbackSettings.objects.for_business(business).update(link_version=F("link_version") + 1)
    return FeedbackSettings.objects.get(business=business)


@transaction.atomic
def customer_feedback_link_create(
    *, business: Business, customer: Customer, now: datetime | None = None
) -> tuple[CustomerFeedbackLink, str]:
    """A personal single-use link; the token is returned once and never stored."""
    if customer.business_id != business.pk:
        raise ValidationError(_("This customer belongs to another business."))
    now = now or timezone.now()
    token, token_hash = new_customer_token()
    link = CustomerFeedbackLink.objects.create(
        business=business,
        customer=customer,
        token_hash=token_hash,
        expires_at=now + timedelta(days=settings.XW_FEEDBACK_LINK_DAYS),
        created_at=now,
    )
    return link, token


# Feedback ---------------------------------------------------------------------------------


@transaction.atomic
def feedback_submit(
    *,
    link: ResolvedLink,
    nps: int,
    stars: int | None = None,
    topic: str = "",
    comment: str = "",
    request: str = "",
    phone: str = "",
    language: str = "",
) -> Feedback:
    """Store one customer's feedback. A personal link files it on its customer and is used up;
    on the business link a phone number of an existing customer of this business links it
    (never creating a customer)."""
    business = link.business
    customer = None
    if link.kind == Feedback.LinkKind.CUSTOMER:
        if link.customer_link is None:
            raise LinkUnusable("used")
        locked = CustomerFeedbackLink.objects.select_for_update().get(pk=link.customer_link.pk)
        if locked.used_at is not None:
            raise LinkUnusable("used")
        if locked.expires_at <= timezone.now():
            raise LinkUnusable("expired")
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
        customer = locked.customer
        phone = ""
    else:
        phone = normalize_phone(phone, business.phone_region)
        if phone:
            customer = Customer.objects.for_business(business).filter(phone=phone).first()

    feedback = Feedback(
        business=business,
        customer=customer,
        link_kind=link.kind,
        nps=nps,
        stars=stars,
        topic=topic or "",
        comment=(comment or "").strip(),
        request=(request or "").strip(),
        phone=phone,
        language=(language or "")[:10],
    )
    feedback.full_clean()
    feedback.save()
    return feedback


@transaction.atomic
def feedback_reply(*, feedback: Feedback, status: str, reply: str, actor: User | None) -> Feedback:
    """Triage: set the status and the owner's reply; a changed reply records who and when."""
    if status not in Feedback.Status.values:
        raise ValidationError(_("Unknown status."))
    reply = (reply or "").strip()
    if len(reply) > REPLY_MAX:
        raise ValidationError(
            {
                "reply": _("The reply is %(length)d characters long; at most %(max)d.")
                % {"length": len(reply), "max": REPLY_MAX}
            }
        )
    stored = Feedback.objects.select_for_update().get(pk=feedback.pk)
    fields = ["status"]
    stored.status = status
    if reply != stored.reply:
        stored.reply = reply
        stored.replied_by = actor if reply else None
        stored.replied_at = timezone.now() if reply else None
        if reply and status == Feedback.Status.NEW:
            stored.status = Feedback.Status.IN_PROGRESS  # answered: no longer untouched
        fields += ["reply", "replied_by", "replied_at"]
    stored.save(update_fields=fields)
    return stored


def feedback_customer_merged(*, source: Customer, target: Customer) -> dict[str, int]:
    """Move a merged customer's feedback, links and requests to the kept customer (runs inside
    the merge transaction, through customers.signals.customer_merged)."""
    return {
        "feedback": Feedback.objects.filter(customer=source).update(customer=target),
        "feedback_links": CustomerFeedbackLink.objects.filter(customer=source).update(
            customer=target
        ),
        "feedback_requests": FeedbackRequest.objects.filter(customer=source).update(
            customer=target
        ),
    }


# Automatic requests -----------------------------------------------------------------------


def _customer_refusal(customer: Customer) -> str:
    if not customer.marketing_consent:
        return "no_consent"
    if customer.status == Customer.Status.BLOCKED:
        return "blocked"
    return ""


def _business_refusal(business: Business, fs: FeedbackSettings) -> str:
    if not business.is_active:
        return "inactive"
    if not fs.enabled:
        return "disabled"
    return ""


def _asked_recently(customer: Customer, now: datetime) -> bool:
    return (
        FeedbackRequest.objects.filter(customer=customer)
        .filter(
            Q(status=FeedbackRequest.Status.SCHEDULED)
            | Q(status=FeedbackRequest.Status.SENT, sent_at__gte=now - REQUEST_GAP)
        )
        .exists()
    )


@dataclass
class _Context:
    business: Business
    fs: FeedbackSettings
    now: datetime


def _is_recent(purchase: Purchase, now: datetime) -> bool:
    return now - REQUEST_RECENT <= purchase.occurred_at <= now + REQUEST_FUTURE_SLACK


def _schedule(purchase: Purchase, ctx: _Context) -> FeedbackRequest | None:
    if not _is_recent(purchase, ctx.now):
        return None
    customer = purchase.customer
    if _customer_refusal(customer) or _business_refusal(ctx.business, ctx.fs):
        return None
    # One customer's purchases schedule one after the other: never two requests.
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    if _asked_recently(customer, ctx.now):
        return None
    return FeedbackRequest.objects.create(
        business=ctx.business,
        customer=customer,
        purchase=purchase,
        due_at=purchase.occurred_at + timedelta(hours=ctx.fs.request_delay_hours),
        created_at=ctx.now,
    )


def feedback_request_schedule(
    *, purchase: Purchase, now: datetime | None = None
) -> FeedbackRequest | None:
    """Schedule a feedback request after a new purchase, or None when the rules say no: the
    purchase is older than 2 days (or dated over a day ahead), the customer has no marketing
    consent (or is blocked), feedback is off, or the customer was asked (or is waiting) within
    30 days. Nothing is stored for a purchase that gets no request."""
    now = now or timezone.now()
    if not _is_recent(purchase, now) or not purchase.customer.marketing_consent:
        return None  # the common cases, decided without a query
    business = purchase.business
    with transaction.atomic():
        return _schedule(purchase, _Context(business, feedback_settings_for(business), now))


def feedback_requests_schedule_for_purchases(
    *,
    business: Business,
    purchase_ids: list[int],
    now: datetime | None = None,
    sales: list[tuple[int, int, datetime]] | None = None,
) -> list[FeedbackRequest]:
    """The same for purchases written in bulk (API ingest): only `business`'s purchases and
    customers count; a customer's newest purchase is the one asked about.

    Once per batch, not per purchase: one lock of the consenting customers (in id order, FOR
    NO KEY UPDATE so that concurrent sales inserts referencing them are not blocked), one read
    of who was asked recently, one insert. `sales` — (purchase id, customer id, occurred at)
    of `purchase_ids`, as the ingest just wrote them — saves reading the purchases again. A
    deadlock or serialization failure that still happens is retried."""
    now = now or timezone.now()
    for attempt in range(MAX_SCHEDULE_ATTEMPTS):
        try:
            return _schedule_for_purchases(business, list(purchase_ids), now, sales)
        except OperationalError as exc:
            if attempt == MAX_SCHEDULE_ATTEMPTS - 1 or not is_database_busy(exc):
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
    return []  # pragma: no cover


@transaction.atomic
def _schedule_for_purchases(
    business: Business,
    purchase_ids: list[int],
    now: datetime,
    sales: list[tuple[int, int, datetime]] | None,
) -> list[FeedbackRequest]:
    if sales is None:
        sales = list(
            Purchase.objects.for_business(business)
            .filter(pk__in=purchase_ids)
            .values_list("pk", "customer_id", "occurred_at")
        )
    earliest, latest = now - REQUEST_RECENT, now + REQUEST_FUTURE_SLACK
    newest: dict[int, tuple[int, datetime]] = {}  # customer id: (purchase id, occurred at)
    for pk, customer_id, occurred_at in sorted(sales, key=lambda s: (s[2], s[0]), reverse=True):
        if earliest <= occurred_at <= latest:
            newest.setdefault(customer_id, (pk, occurred_at))
    if not newest:
        return []  # nothing recent
    # One customer's purchases schedule one after the other: never two requests. The
    # business is checked here rather than in SQL, where it would lead PostgreSQL to scan the
    # business's customers instead of looking these up by id.
    locked = {
        pk
        for pk, owner in Customer.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(newest), marketing_consent=True)
        .exclude(status=Customer.Status.BLOCKED)
        .order_by("pk")
        .values_list("pk", "business_id")
        if owner == business.pk
    }
    if not locked:
        return []  # the common case: no consenting customer among them
    fs = feedback_settings_for(business)
    if _business_refusal(business, fs):
        return []
    asked = set(
        FeedbackRequest.objects.filter(customer_id__in=locked)
        .filter(
            Q(status=FeedbackRequest.Status.SCHEDULED)
            | Q(status=FeedbackRequest.Status.SENT, sent_at__gte=now - REQUEST_GAP)
        )
        .values_list("customer_id", flat=True)
    )
    delay = timedelta(hours=fs.request_delay_hours)
    return FeedbackRequest.objects.bulk_create(
        FeedbackRequest(
            business=business,
            customer_id=customer_id,
            purchase_id=purchase_id,
            due_at=occurred_at + delay,
            created_at=now,
        )
        for customer_id, (purchase_id, occurred_at) in newest.items()
        if customer_id in locked and customer_id not in asked
    )


@transaction.atomic
def feedback_requests_claim_due(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids of due scheduled requests not queued in the last minutes, marked as queued now."""
    now = now or timezone.now()
    ids = list(
        FeedbackRequest.objects.filter(status=FeedbackRequest.Status.SCHEDULED, due_at__lte=now)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))
        .order_by("due_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    FeedbackRequest.objects.filter(pk__in=ids).update(queued_at=now)
    return ids


@transaction.atomic
def feedback_request_send(
    *, request_id: int, now: datetime | None = None
) -> tuple[FeedbackRequest | None, bool]:
    """Send one due request through the configured sender: (request, sent by this call).

    Idempotent: the row is locked and a request already sent or skipped sends nothing, so a
    retried or duplicated task never sends twice."""
    now = now or timezone.now()
    req = FeedbackRequest.objects.select_for_update().filter(pk=request_id).first()
    if req is None or req.status != FeedbackRequest.Status.SCHEDULED or req.due_at > now:
        return req, False
    customer = Customer.objects.get(pk=req.customer_id)
    business = Business.objects.get(pk=req.business_id)
    refusal = _business_refusal(business, feedback_settings_for(business)) or _customer_refusal(
        customer
    )
    if refusal:
        req.status, req.reason = FeedbackRequest.Status.SKIPPED, refusal
        req.save(update_fields=["status", "reason"])
        return req, False

    link, token = customer_feedback_link_create(business=business, customer=customer, now=now)
    sender = get_sender()
    try:
        channel = sender.send(
            customer=customer, business=business, url=absolute_url(form_path(token))
        )
    except Exception as exc:  # a pluggable sender may fail in any way: try again later
        logger.exception("feedback request %s: sending failed", req.pk)
        link.delete()
        req.attempts += 1
        req.reason = f"send_failed: {exc}"[:255]
        req.queued_at = None
        if req.attempts >= MAX_SEND_ATTEMPTS:
            req.status = FeedbackRequest.Status.SKIPPED
        req.save(update_fields=["attempts", "reason", "queued_at", "status"])
        return req, False
    if not channel:
        link.delete()
        req.status, req.reason = FeedbackRequest.Status.SKIPPED, "unreachable"
        req.save(update_fields=["status", "reason"])
        return req, False

    req.status = FeedbackRequest.Status.SENT
    req.sent_at = now
    req.channel = channel[:20]
    req.send_count += 1
    req.link = link
    req.reason = ""
    req.save(update_fields=["status", "sent_at", "channel", "send_count", "link", "reason"])
    return req, True
