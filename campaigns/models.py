"""Campaigns: an audience, a message (optionally with a member-card coupon), a random control
group, and one row per customer and occasion (`CampaignMember`) that is both the due-time row
of the send and the record of the random assignment (docs/campaigns.md).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import BusinessOwned
from customers.models import MONEY, Customer
from membership.models import Coupon, CouponTemplate

MESSAGE_MAX = 500
PLACEHOLDERS = ("name", "shop", "offer", "code")


def validate_message(value: str) -> None:
    """Only the known placeholders {name} {shop} {offer} {code}; braces otherwise doubled."""
    import string

    try:
        fields = [f for _t, f, _s, _c in string.Formatter().parse(value) if f is not None]
    except ValueError as exc:
        raise ValidationError(
            _("Use {name}, {shop}, {offer} or {code} in braces; a lone brace is not allowed."),
            code="message_braces",
        ) from exc
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        raise ValidationError(
            _("Unknown placeholder %(names)s: use {name}, {shop}, {offer} or {code}."),
            params={"names": ", ".join(f"{{{f}}}" for f in unknown)},
            code="message_placeholder",
        )


class Campaign(BusinessOwned):
    class Kind(models.TextChoices):
        ONE_OFF = "one_off", _("One-off")
        WIN_BACK = "win_back", _("Win-back (automatic)")
        BIRTHDAY = "birthday", _("Birthday (automatic)")
        WELCOME = "welcome", _("Welcome (automatic)")
        POINTS_REWARD = "points_reward", _("Points reward near (automatic)")
        EXPIRING = "expiring", _("Points or visits expiring (automatic)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        FINISHED = "finished", _("Finished")

    class Delivery(models.TextChoices):
        STAFF = "staff", _("Staff send from their phones (SMS or WeChat)")
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS provider")

    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.ONE_OFF)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    audience = models.JSONField(
        _("audience"), default=dict, blank=True, help_text=_("Who may receive it.")
    )
    message = models.TextField(
        _("message"),
        max_length=MESSAGE_MAX,
        validators=[validate_message],
        help_text=_("You can use {name}, {shop}, {offer} and {code} (the coupon's code)."),
    )
    offer = models.CharField(
        _("offer"),
        max_length=100,
        blank=True,
        help_text=_("In words, e.g. “¥20 off your next visit”."),
    )
    coupon_template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("coupon"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Optional: each recipient gets this coupon on their member card."),
    )
    delivery = models.CharField(
        _("sent by"), max_length=10, choices=Delivery.choices, default=Delivery.STAFF
    )
    control_pct = models.PositiveSmallIntegerField(
        _("control group (%)"),
        default=10,
        validators=[MinValueValidator(5), MaxValueValidator(50)],
        help_text=_(
            "This share of the audience is chosen at random and gets nothing, so the results "
            "can show what the campaign really changed."
        ),
    )
    seed = models.BigIntegerField(_("random seed"), editable=False, default=0)
    window_days = models.PositiveSmallIntegerField(
        _("results window (days)"),
        default=14,
        validators=[MinValueValidator(3), MaxValueValidator(90)],
    )
    cost_per_message = models.DecimalField(
        _("cost per message"),
        **MONEY,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    # Automatic campaigns' triggers.
    churn_threshold = models.FloatField(
        _("churn risk at least"),
        default=0.6,
        validators=[MinValueValidator(0.05), MaxValueValidator(0.99)],
        help_text=_("Win-back: a customer enters when their churn risk reaches this."),
    )
    days_before = models.PositiveSmallIntegerField(
        _("days ahead"),
        default=7,
        validators=[MaxValueValidator(60)],
        help_text=_("Birthday: days before it; expiring: days before the expiry."),
    )
    points_threshold = models.PositiveIntegerField(
        _("points at least"),
        default=500,
        validators=[MinValueValidator(1), MaxValueValidator(10_000_000)],
        help_text=_("Points reward: a member enters when their points reach this."),
    )
    ends_on = models.DateField(
        _("ends on"), null=True, blank=True, help_text=_("Automatic campaigns: stop adding then.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["business", "status"], name="campaign_business_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(control_pct__gte=5, control_pct__lte=50), name="campaign_control_pct"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_automatic(self) -> bool:
        return self.kind != self.Kind.ONE_OFF

    def clean(self) -> None:
        super().clean()
        if (
            self.coupon_template_id
            and self.business_id
            and self.coupon_template.business_id != self.business_id
        ):
            raise ValidationError(
                {"coupon_template": _("This coupon belongs to another business.")}
            )
        from .audience import AudienceError, parse_audience

        try:
            self.audience = parse_audience(self.audience or {}).as_json()
        except AudienceError as exc:
            raise ValidationError({"audience": exc.messages}) from exc


class CampaignMember(BusinessOwned):
    """One customer's place in one campaign occasion: the random group, recorded when they
    entered, and for the treated the send (due time, channel, when, by whom). Unique per
    campaign, customer and occasion (a birthday campaign's occasion is the year), so nobody
    gets the same campaign message twice."""

    class Group(models.TextChoices):
        TREATMENT = "treatment", _("Gets the message")
        CONTROL = "control", _("Control (held out)")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("To send")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Not sent")
        HELD_OUT = "held_out", _("Held out")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="members"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    occasion = models.CharField(_("occasion"), max_length=20, blank=True)
    group = models.CharField(_("group"), max_length=10, choices=Group.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    entered_at = models.DateTimeField(_("entered at"))
    due_at = models.DateTimeField(_("due at"))
    # What the customer looked like when they entered (what worked for which customers).
    segment = models.CharField(_("segment then"), max_length=20, blank=True)
    tier = models.CharField(_("tier then"), max_length=1, blank=True)
    churn_risk = models.FloatField(_("churn risk then"), null=True, blank=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    coupon = models.ForeignKey(
        Coupon,
        verbose_name=_("coupon"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        ordering = ("due_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer", "occasion"], name="campaignmember_once"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="campaignmember_status_due"),
            models.Index(fields=["business", "status", "due_at"], name="campaignmember_biz_due"),
            models.Index(fields=["customer", "sent_at"], name="campaignmember_customer_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.customer}"


# Named enums in the API schema (settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
CAMPAIGN_STATUS_CHOICES = Campaign.Status.choices
CAMPAIGN_MEMBER_STATUS_CHOICES = CampaignMember.Status.choices
