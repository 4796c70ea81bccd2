from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from accounts.tenancy import BusinessOwned
from customers.models import Customer


class WeeklyReport(BusinessOwned):
    """One business's report for one ISO week (Monday to Sunday in its own time zone).

    `data` keeps the figures only (numbers, ids, codes); words are written when the report
    is shown, in the reader's language (reports.presenting)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    week_start = models.DateField(_("week starting"), help_text=_("The Monday of the week."))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    data = models.JSONField(_("figures"), default=dict, blank=True, editable=False)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True, editable=False)
    built_at = models.DateTimeField(_("built at"), null=True, blank=True, editable=False)
    build_seconds = models.FloatField(_("build time (s)"), null=True, blank=True, editable=False)
    error = models.TextField(_("error"), blank=True, editable=False)

    class Meta:
        verbose_name = _("weekly report")
        verbose_name_plural = _("weekly reports")
        ordering = ("-week_start",)
        constraints = [
            models.UniqueConstraint(
                fields=["business", "week_start"], name="weeklyreport_one_per_business_week"
            )
        ]

    def __str__(self) -> str:
        return self.week_label

    @property
    def week_label(self) -> str:
        year, week, _day = self.week_start.isocalendar()
        return f"{year}-W{week:02d}"


class WeeklyScoreSnapshot(BusinessOwned):
    """Every customer's value tier and segment when a week's report was built, kept compact
    (one row per business and week) so the next report can name who moved."""

    week_start = models.DateField(_("week starting"))
    scores_as_of = models.DateField(_("scores as of"), null=True, blank=True)
    # {"ids": [customer ids, ascending], "tiers": "ABC…", "segments": [segment codes]}
    data = models.JSONField(_("tiers and segments"), default=dict)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("score snapshot")
        verbose_name_plural = _("score snapshots")
        ordering = ("-week_start",)
        constraints = [
            models.UniqueConstraint(
                fields=["business", "week_start"], name="scoresnapshot_one_per_business_week"
            )
        ]

    def __str__(self) -> str:
        return f"{self.business} · {self.week_start}"


class ReportRecipient(BusinessOwned):
    """An owner who asked for the weekly report by e-mail (opt-in)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    email = models.EmailField(
        _("e-mail"), blank=True, help_text=_("Leave empty to use the e-mail of the login.")
    )
    active = models.BooleanField(_("send the weekly report"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("weekly report e-mail")
        verbose_name_plural = _("weekly report e-mails")
        constraints = [
            models.UniqueConstraint(
                fields=["business", "user"],
                name="reportrecipient_one_per_user",
                violation_error_message=_("This owner already gets the weekly report."),
            )
        ]

    def __str__(self) -> str:
        return self.address or str(self.user)

    @property
    def address(self) -> str:
        return self.email or getattr(self.user, "email", "") or ""

    def clean(self) -> None:
        super().clean()
        if self.user_id and self.business_id:
            is_owner = Membership.objects.filter(
                user_id=self.user_id, business_id=self.business_id, role=Membership.Role.OWNER
            ).exists()
            if not is_owner:
                raise ValidationError({"user": _("Only an owner of this business can get it.")})
            if not self.address:
                raise ValidationError({"email": _("Give an e-mail address: this login has none.")})


class ReportDelivery(BusinessOwned):
    """One report e-mailed to one recipient: the unique key makes a rerun send nothing twice."""

    report = models.ForeignKey(
        WeeklyReport, verbose_name=_("report"), on_delete=models.CASCADE, related_name="deliveries"
    )
    recipient = models.ForeignKey(
        ReportRecipient, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="+"
    )
    address = models.EmailField(_("e-mail"))
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        verbose_name = _("report delivery")
        verbose_name_plural = _("report deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["report", "recipient"], name="reportdelivery_once_per_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.report} → {self.address}"


class CostReviewDecision(BusinessOwned):
    """The owner's decision about a customer who costs more than they bring. Recorded only:
    nothing is ever deleted or changed automatically."""

    class Decision(models.TextChoices):
        REGULAR = "regular", _("Serve as a regular customer, no extra visits")
        LIMIT_EXTRAS = "limit_extras", _("No more free extras or discounts")
        TALK = "talk", _("Talk to them about it")
        KEEP = "keep", _("Keep serving as now")
        STOP = "stop", _("Stop serving them")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="cost_review_decisions",
    )
    report = models.ForeignKey(
        WeeklyReport,
        verbose_name=_("report"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="decisions",
    )
    decision = models.CharField(_("decision"), max_length=15, choices=Decision.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("cost review decision")
        verbose_name_plural = _("cost review decisions")
        ordering = ("-decided_at", "-id")
        indexes = [models.Index(fields=["customer", "decided_at"], name="costreview_cust_time")]

    def __str__(self) -> str:
        return f"{self.customer} · {self.get_decision_display()}"

    def clean(self) -> None:
        super().clean()
        if self.customer_id and self.business_id and self.customer.business_id != self.business_id:
            raise ValidationError({"customer": _("This customer belongs to another business.")})
        if self.report_id and self.business_id and self.report.business_id != self.business_id:
            raise ValidationError({"report": _("This report belongs to another business.")})
