"""Feedback from customers' phones: per-business settings, personal links, entries, requests."""

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Business
from accounts.tenancy import BusinessOwned
from customers.models import Customer, Purchase

COMMENT_MAX = 2000
REQUEST_MAX = 1000
REPLY_MAX = 4000


class FeedbackSettings(BusinessOwned):
    """One per business, created on first use by `services.feedback_settings_for()`."""

    business = models.OneToOneField(
        Business,
        verbose_name=_("business"),
        on_delete=models.CASCADE,
        related_name="feedback_settings",
    )
    enabled = models.BooleanField(
        _("accept feedback"),
        default=True,
        help_text=_("Untick to close the public feedback page and stop automatic requests."),
    )
    link_version = models.PositiveIntegerField(
        _("link version"),
        default=1,
        editable=False,
        help_text=_("Raised by “New link”: every older printed link stops working."),
    )
    request_delay_hours = models.PositiveIntegerField(
        _("ask for feedback after (hours)"),
        default=24,
        validators=[MaxValueValidator(24 * 30)],
        help_text=_(
            "After a purchase, customers who agreed to marketing get a personal feedback link "
            "this many hours later (at most once in 30 days)."
        ),
    )

    class Meta:
        verbose_name = _("feedback settings")
        verbose_name_plural = _("feedback settings")

    def __str__(self) -> str:
        return gettext("Feedback settings of %(business)s") % {"business": self.business}


class CustomerFeedbackLink(BusinessOwned):
    """A personal, single-use link: only the SHA-256 of its token is stored."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="feedback_links",
    )
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("personal feedback link")
        verbose_name_plural = _("personal feedback links")
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.customer} · {self.created_at:%Y-%m-%d}"


class Feedback(BusinessOwned):
    class LinkKind(models.TextChoices):
        BUSINESS = "business", _("Business link / QR code")
        CUSTOMER = "customer", _("Personal link")

    class Topic(models.TextChoices):
        PRODUCT = "product", _("Product")
        SERVICE = "service", _("Service")
        STAFF = "staff", _("Staff")
        PRICE = "price", _("Price")
        ENVIRONMENT = "environment", _("Environment")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        NEW = "new", pgettext_lazy("feedback status", "New")
        IN_PROGRESS = "in_progress", _("In progress")
        RESOLVED = "resolved", _("Resolved")

    class NpsGroup(models.TextChoices):
        PROMOTER = "promoter", _("Promoter (9–10)")
        PASSIVE = "passive", _("Passive (7–8)")
        DETRACTOR = "detractor", _("Detractor (0–6)")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback",
    )
    link_kind = models.CharField(
        _("came through"), max_length=10, choices=LinkKind.choices, default=LinkKind.BUSINESS
    )
    nps = models.PositiveSmallIntegerField(
        _("NPS score"),
        validators=[MinValueValidator(0), MaxValueValidator(10)],
        help_text=_("How likely the customer is to recommend you, 0–10."),
    )
    stars = models.PositiveSmallIntegerField(
        _("stars"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    topic = models.CharField(_("topic"), max_length=12, choices=Topic.choices, blank=True)
    comment = models.TextField(_("comment"), max_length=COMMENT_MAX, blank=True)
    request = models.TextField(_("request"), max_length=REQUEST_MAX, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.NEW
    )
    reply = models.TextField(
        _("reply"), max_length=REPLY_MAX, blank=True, validators=[MaxLengthValidator(REPLY_MAX)]
    )
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("replied by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    created_at = models.DateTimeField(_("received at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ("nps", "-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(nps__gte=0, nps__lte=10), name="feedback_nps_0_10"),
            models.CheckConstraint(
                condition=Q(stars__isnull=True) | Q(stars__gte=1, stars__lte=5),
                name="feedback_stars_1_5",
            ),
        ]
        indexes = [
            models.Index(fields=["business", "created_at"], name="feedback_business_created"),
            models.Index(fields=["business", "nps", "created_at"], name="feedback_business_nps"),
            models.Index(fields=["customer", "created_at"], name="feedback_customer_created"),
        ]

    def __str__(self) -> str:
        return f"NPS {self.nps} · {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"

    @staticmethod
    def group_of(nps: int) -> str:
        for group, (low, high) in NPS_BANDS.items():
            if low <= nps <= high:
                return group
        raise ValueError(f"NPS {nps} is outside 0–10")

    @staticmethod
    def group_q(group: str) -> Q:
        """The filter for one NPS group, from the same bands as `group_of`."""
        low, high = NPS_BANDS[group]
        return Q(nps__gte=low, nps__lte=high)

    @property
    def nps_group(self) -> str:
        return self.group_of(self.nps)

    @property
    def stars_text(self) -> str:
        return "★" * (self.stars or 0)


# The NPS bands, written once: group -> (lowest, highest) score. Used by group_of, the list
# filter and the monthly figures.
NPS_BANDS = {
    Feedback.NpsGroup.PROMOTER: (9, 10),
    Feedback.NpsGroup.PASSIVE: (7, 8),
    Feedback.NpsGroup.DETRACTOR: (0, 6),
}


class FeedbackRequest(BusinessOwned):
    """A personal feedback link to send after a purchase, once it is due."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="feedback_requests",
    )
    purchase = models.ForeignKey(
        Purchase,
        verbose_name=_("purchase"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    due_at = models.DateTimeField(_("due at"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    send_count = models.PositiveSmallIntegerField(_("times sent"), default=0)
    link = models.ForeignKey(
        CustomerFeedbackLink,
        verbose_name=_("link sent"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("feedback request")
        verbose_name_plural = _("feedback requests")
        ordering = ("-due_at", "-id")
        indexes = [
            models.Index(fields=["status", "due_at"], name="feedbackrequest_status_due"),
            models.Index(fields=["customer", "created_at"], name="feedbackrequest_customer"),
            models.Index(fields=["business", "due_at"], name="feedbackrequest_business_due"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} · {self.get_status_display()}"


# For the API schema's enum names (settings.SPECTACULAR_SETTINGS).
FEEDBACK_STATUS_CHOICES = Feedback.Status.choices
