from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import BusinessOwned
from customers.models import Customer


class Segment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential loyalist")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANT_LOSE = "cant_lose", _("Can't lose them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")
    NO_PURCHASE = "no_purchase", _("No purchase yet")


class Tier(models.TextChoices):
    A = "A", _("A — top 20 %")
    B = "B", _("B — next 30 %")
    C = "C", _("C — the rest")


class Action(models.TextChoices):
    CARE = "care", _("Care: keep them delighted")
    WIN_BACK = "win_back", _("Win back: they are slipping away")
    NURTURE = "nurture", _("Nurture: help them grow")
    MAINTAIN = "maintain", _("Maintain: low-cost routine")
    REVIEW_COST = "review_cost", _("Review cost: serving them costs more than they bring")

    @property
    def short_label(self) -> str:
        """A word or two for a list column; the full label is the description."""
        return ACTION_SHORT_LABELS[self]


# Carried separately, not cut from the label: translations need not keep an ASCII ':'.
ACTION_SHORT_LABELS = {
    Action.CARE: _("Care"),
    Action.WIN_BACK: _("Win back"),
    Action.NURTURE: _("Nurture"),
    Action.MAINTAIN: _("Maintain"),
    Action.REVIEW_COST: _("Review cost"),
}


class ScoringRun(BusinessOwned):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        NIGHTLY = "nightly", _("Nightly schedule")
        MANUAL = "manual", _("Rescore now")
        COMMAND = "command", _("Command line")
        BACKTEST = "backtest", _("Backtest")

    as_of = models.DateField(_("as of"))
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_s = models.FloatField(_("duration (s)"), null=True, blank=True)
    customers_scored = models.PositiveIntegerField(_("customers scored"), default=0)
    parameters = models.JSONField(_("fitted parameters"), default=dict, blank=True)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    backtest = models.JSONField(
        _("backtest"),
        default=dict,
        blank=True,
        help_text=_("How the predictions held up: calibration per decile, AUC, Brier score"),
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")
        ordering = ("-started_at", "-id")
        indexes = [models.Index(fields=["business", "-started_at"], name="run_business_started")]

    def __str__(self) -> str:
        return f"{self.business} · {self.as_of} · {self.get_status_display()}"


# Derived money: sized for the worst sum of allowed sales (customers.money.AMOUNT_MAX =
# 1,000,000.00 times 100,000 purchases = 1e11) with room for predictions; the maths clips
# anything beyond 14 digits (segmentation.maths.engine.MONEY_LIMIT) and says so in the run.
SCORE_MONEY = {"max_digits": 16, "decimal_places": 2}


class ScoreValues(models.Model):
    """Every input and output of one customer's score (shared by the score and its draft)."""

    as_of = models.DateField(_("as of"))
    # inputs
    recency_days = models.IntegerField(
        _("days since last purchase"), help_text=_("-1: never purchased")
    )
    frequency = models.PositiveIntegerField(
        _("purchases"), help_text=_("Same-day purchases count once.")
    )
    monetary = models.DecimalField(_("average spend"), **SCORE_MONEY)
    total_spent = models.DecimalField(_("total spent"), **SCORE_MONEY)
    tenure_days = models.PositiveIntegerField(_("days since first purchase"))
    margin_so_far = models.DecimalField(_("margin earned so far"), **SCORE_MONEY)
    cost_to_serve = models.DecimalField(_("cost to serve"), **SCORE_MONEY)
    satisfaction = models.FloatField(
        _("satisfaction"), null=True, blank=True, help_text=_("0–1 from feedback; empty: none yet")
    )
    # outputs
    r_score = models.PositiveSmallIntegerField(_("R score"))
    f_score = models.PositiveSmallIntegerField(_("F score"))
    m_score = models.PositiveSmallIntegerField(_("M score"))
    rfm_segment = models.CharField(_("segment"), max_length=20, choices=Segment.choices)
    p_alive = models.FloatField(
        _("probability still a customer"),
        help_text=_("The purchase model's P(alive): for the curious; churn risk is what to act on"),
    )
    churn_risk = models.FloatField(
        _("chance not to come back"),
        help_text=_(
            "Chance of no purchase in the churn window (90 days by default), 0–1. "
            "Before 2026-12 this was 1 − P(alive)."
        ),
    )
    expected_purchases_90d = models.FloatField(
        _("expected purchases, next 90 days"),
        help_text=_("Over the churn window, scaled by the shop's seasons when known"),
    )
    expected_order_value = models.DecimalField(_("expected spend per purchase"), **SCORE_MONEY)
    predicted_clv = models.DecimalField(_("predicted value (margin, 12 months)"), **SCORE_MONEY)
    net_value = models.DecimalField(_("net value"), **SCORE_MONEY)
    value_tier = models.CharField(_("value tier"), max_length=1, choices=Tier.choices)
    loyalty_score = models.FloatField(_("loyalty score"))
    action = models.CharField(_("recommended action"), max_length=12, choices=Action.choices)
    value_at_stake = models.DecimalField(
        _("value at stake"),
        help_text=_("Predicted value × chance not to come back: what the shop stands to lose"),
        default=0,
        **SCORE_MONEY,
    )

    class Meta:
        abstract = True

    # Every input and output of a score: the API shows these, reruns must reproduce them.
    VALUE_FIELDS = (
        "as_of", "recency_days", "frequency", "monetary", "total_spent", "tenure_days",
        "margin_so_far", "cost_to_serve", "satisfaction", "r_score", "f_score", "m_score",
        "rfm_segment", "p_alive", "churn_risk", "expected_purchases_90d",
        "expected_order_value", "predicted_clv", "net_value", "value_tier", "loyalty_score",
        "action", "value_at_stake",
    )  # fmt: skip


class CustomerScore(BusinessOwned, ScoreValues):
    """The current score of one customer, with every input behind every number."""

    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="score"
    )
    run = models.ForeignKey(
        ScoringRun, verbose_name=_("scoring run"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        indexes = [
            models.Index(fields=["business", "rfm_segment"], name="score_business_segment"),
            models.Index(fields=["business", "value_tier"], name="score_business_tier"),
            models.Index(fields=["business", "action"], name="score_business_action"),
            # The phone app: most valuable first, and who is worth a call.
            models.Index(fields=["business", "-net_value"], name="score_business_net_value"),
            models.Index(
                fields=["business", "action", "-predicted_clv"], name="score_business_action_clv"
            ),
            models.Index(fields=["business", "-value_at_stake"], name="score_business_stake"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rfm_segment_display()} · {self.value_tier}"


class ScoreDraft(ScoreValues):
    """A run's new scores, written in short transactions before they replace the current
    ones in one quick INSERT … SELECT (so the nightly write never holds the SQLite write
    lock for long). Plain ids: rows live only while their run writes; never read by users."""

    business_id = models.BigIntegerField()
    customer_id = models.BigIntegerField()
    run_id = models.BigIntegerField(db_index=True)

    class Meta:
        verbose_name = _("score draft")
        default_permissions = ()

    def __str__(self) -> str:
        return f"draft {self.run_id}/{self.customer_id}"


# For the API schema's enum names (settings.SPECTACULAR_SETTINGS).
SCORING_RUN_STATUS_CHOICES = ScoringRun.Status.choices
SEGMENT_CHOICES = Segment.choices
TIER_CHOICES = Tier.choices
