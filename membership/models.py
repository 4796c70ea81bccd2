"""Member cards: the programme's settings, accounts and their pockets, and ONE ledger.

Every change of a balance is a `LedgerEntry`, appended by `membership.services` and never
edited or deleted (database triggers refuse it, see the migration). The balance columns on
`MemberAccount`, `VisitPackage` and `Coupon` are a cache of the sums of their entries, kept in
the same transaction as the entry, never negative (check constraints), and proved equal to the
sums by the nightly reconciliation (`services.ledger_reconcile`).
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

from accounts.models import Business
from accounts.tenancy import BusinessOwned
from customers.models import MONEY, Customer, Purchase

ZERO = Decimal("0.00")
PERCENT = {"max_digits": 5, "decimal_places": 2}


class Programme(BusinessOwned):
    """One per business: how points are earned and what they are worth."""

    enabled = models.BooleanField(_("enabled"), default=True)
    points_per_yuan = models.DecimalField(
        _("points per 1 spent"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1000"))],
        help_text=_("Points earned for each 1.00 of the amount paid; fractions are dropped."),
    )
    point_value = models.DecimalField(
        _("value of one point"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("0.0100"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Money off for each point redeemed at checkout (0.01 = 100 points for 1.00)."),
    )
    points_expiry_months = models.PositiveSmallIntegerField(
        _("points expire after (months)"),
        default=12,
        validators=[MaxValueValidator(120)],
        help_text=_("0 = points never expire."),
    )

    class Meta:
        verbose_name = _("member programme")
        verbose_name_plural = _("member programmes")
        constraints = [
            models.UniqueConstraint(fields=["business"], name="programme_one_per_business"),
        ]

    def __str__(self) -> str:
        return str(_("Member programme"))


class MemberLevel(BusinessOwned):
    class Reach(models.TextChoices):
        SPEND = "spend", _("By total spend")
        TOP_UP = "top_up", _("By total top-up")
        MANUAL = "manual", _("By hand")

    name = models.CharField(_("name"), max_length=40)
    discount_pct = models.DecimalField(
        _("discount %"),
        **PERCENT,
        default=ZERO,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Percent off every checkout: 5 gives 95折."),
    )
    reach = models.CharField(_("reached"), max_length=10, choices=Reach.choices)
    threshold = models.DecimalField(
        _("threshold"),
        **MONEY,
        default=ZERO,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Total spend or top-up that reaches this level (not used when by hand)."),
    )

    class Meta:
        verbose_name = _("member level")
        verbose_name_plural = _("member levels")
        ordering = ("threshold", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["business", "name"],
                name="memberlevel_unique_name",
                violation_error_message=_("A level with this name already exists."),
            ),
            models.CheckConstraint(
                condition=Q(discount_pct__gte=0, discount_pct__lte=100),
                name="memberlevel_discount_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TopUpPackage(BusinessOwned):
    name = models.CharField(_("name"), max_length=60)
    pay = models.DecimalField(
        _("customer pays"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))]
    )
    bonus = models.DecimalField(
        _("bonus"), **MONEY, default=ZERO, validators=[MinValueValidator(Decimal("0"))]
    )
    active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("top-up package")
        verbose_name_plural = _("top-up packages")
        ordering = ("pay", "id")
        constraints = [
            models.CheckConstraint(condition=Q(pay__gt=0, bonus__gte=0), name="topup_amounts"),
        ]

    def __str__(self) -> str:
        return self.name


class VisitProduct(BusinessOwned):
    name = models.CharField(_("name"), max_length=60)
    visits = models.PositiveSmallIntegerField(
        _("visits"), validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    price = models.DecimalField(_("price"), **MONEY, validators=[MinValueValidator(Decimal("0"))])
    validity_days = models.PositiveSmallIntegerField(
        _("valid for (days)"), default=365, help_text=_("0 = never expires.")
    )
    active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("visit package product")
        verbose_name_plural = _("visit package products")
        ordering = ("name", "id")
        constraints = [
            models.CheckConstraint(condition=Q(visits__gt=0, price__gte=0), name="visitprod_ok"),
        ]

    def __str__(self) -> str:
        return self.name


class CouponTemplate(BusinessOwned):
    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", _("Amount off")
        PERCENT_OFF = "percent_off", _("Percent off")
        FREE_ITEM = "free_item", _("Free item")

    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    value = models.DecimalField(
        _("value"),
        **MONEY,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Amount off; percent off (10 = 10%); or the free item's price."),
    )
    min_spend = models.DecimalField(
        _("minimum spend"), **MONEY, default=ZERO, validators=[MinValueValidator(Decimal("0"))]
    )
    validity_days = models.PositiveSmallIntegerField(_("valid for (days)"), default=30)

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        ordering = ("name", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gte=0, min_spend__gte=0), name="coupontpl_amounts"
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent_off") | Q(value__lte=100), name="coupontpl_percent"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.kind == self.Kind.PERCENT_OFF and self.value is not None and self.value > 100:
            raise ValidationError({"value": _("A percentage is at most 100.")})


class MemberAccount(BusinessOwned):
    """A customer's member card. The three balances are a cache of the ledger's sums."""

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="member_account",
    )
    card_no = models.CharField(
        _("card number"), max_length=20, help_text=_("Printed on the card; type it to find it.")
    )
    level = models.ForeignKey(
        MemberLevel,
        verbose_name=_("level"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    principal = models.DecimalField(_("stored value (paid)"), **MONEY, default=ZERO, editable=False)
    bonus = models.DecimalField(_("stored value (bonus)"), **MONEY, default=ZERO, editable=False)
    points = models.BigIntegerField(_("points"), default=0, editable=False)
    card_version = models.PositiveIntegerField(_("card link version"), default=1, editable=False)
    created_at = models.DateTimeField(_("member since"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("member account")
        verbose_name_plural = _("member accounts")
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(
                fields=["business", "card_no"],
                name="memberaccount_unique_card_no",
                violation_error_message=_("A card with this number already exists."),
            ),
            models.CheckConstraint(
                condition=Q(principal__gte=0, bonus__gte=0, points__gte=0),
                name="memberaccount_no_overdraft",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card_no} · {self.customer}"

    @property
    def stored_value(self) -> Decimal:
        return self.principal + self.bonus


class VisitPackage(BusinessOwned):
    """Visits bought in one package (次卡). `visits_left` is a cache of the ledger."""

    account = models.ForeignKey(
        MemberAccount,
        verbose_name=_("member account"),
        on_delete=models.PROTECT,
        related_name="visit_packages",
    )
    product = models.ForeignKey(
        VisitProduct,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    name = models.CharField(_("name"), max_length=60)
    visits_total = models.PositiveSmallIntegerField(_("visits bought"))
    price = models.DecimalField(_("price"), **MONEY, default=ZERO)
    visits_left = models.IntegerField(_("visits left"), default=0, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    created_at = models.DateTimeField(_("bought"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("visit package")
        verbose_name_plural = _("visit packages")
        ordering = ("expires_at", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(visits_left__gte=0), name="visitpackage_no_overdraft"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.visits_left}/{self.visits_total})"

    @property
    def unit_value(self) -> Decimal:
        from .money import cents

        return cents(self.price / self.visits_total) if self.visits_total else ZERO


class Coupon(BusinessOwned):
    account = models.ForeignKey(
        MemberAccount, verbose_name=_("member account"), on_delete=models.PROTECT,
        related_name="coupons",
    )  # fmt: skip
    template = models.ForeignKey(
        CouponTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(_("code"), max_length=16)
    uses_left = models.SmallIntegerField(_("uses left"), default=0, editable=False)
    issued_at = models.DateTimeField(_("issued"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"))

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ("expires_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["business", "code"], name="coupon_unique_code"),
            models.CheckConstraint(
                condition=Q(uses_left__gte=0, uses_left__lte=1), name="coupon_uses_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} · {self.code}"

    @property
    def state(self) -> str:
        if self.uses_left == 0:
            return "redeemed"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


class LedgerOperation(BusinessOwned):
    """One command (top-up, checkout, reversal…) under one idempotency key, with its first
    answer: resending the key with the same body returns `result` and writes nothing."""

    key = models.CharField(_("idempotency key"), max_length=80)
    request_hash = models.CharField(_("request fingerprint"), max_length=64)
    command = models.CharField(_("command"), max_length=20)
    result = models.JSONField(_("result"), default=dict)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("ledger operation")
        verbose_name_plural = _("ledger operations")
        constraints = [
            models.UniqueConstraint(fields=["business", "key"], name="ledgerop_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.command} · {self.key}"


class LedgerEntry(BusinessOwned):
    class Kind(models.TextChoices):
        OPENING = "opening", _("Opening balance")
        TOP_UP = "top_up", _("Top-up")
        BONUS = "bonus", _("Top-up bonus")
        SPEND = "spend", _("Spend")
        REFUND = "refund", _("Refund")
        VISITS_SOLD = "visits_sold", _("Visit package sold")
        VISIT_USED = "visit_used", _("Visit used")
        POINTS_EARNED = "points_earned", _("Points earned")
        POINTS_REDEEMED = "points_redeemed", _("Points redeemed")
        POINTS_EXPIRED = "points_expired", _("Points expired")
        COUPON_ISSUED = "coupon_issued", _("Coupon issued")
        COUPON_REDEEMED = "coupon_redeemed", _("Coupon redeemed")
        ADJUSTMENT = "adjustment", _("Manual adjustment")
        REVERSAL = "reversal", _("Reversal")

    # PROTECT, not the usual CASCADE: entries are never deleted (a business with a ledger is
    # deactivated, not deleted), and the admin then says so instead of failing in a trigger.
    business = models.ForeignKey(
        Business, verbose_name=_("business"), on_delete=models.PROTECT, related_name="+"
    )
    account = models.ForeignKey(
        MemberAccount, verbose_name=_("member account"), on_delete=models.PROTECT,
        related_name="entries",
    )  # fmt: skip
    operation = models.ForeignKey(
        LedgerOperation, verbose_name=_("operation"), on_delete=models.PROTECT,
        related_name="entries",
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # Signed changes; the balances are their sums.
    principal = models.DecimalField(_("paid value change"), **MONEY, default=ZERO)
    bonus = models.DecimalField(_("bonus value change"), **MONEY, default=ZERO)
    points = models.BigIntegerField(_("points change"), default=0)
    visits = models.IntegerField(_("visits change"), default=0)
    coupons = models.SmallIntegerField(_("coupon uses change"), default=0)
    visit_package = models.ForeignKey(
        VisitPackage, verbose_name=_("visit package"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="entries",
    )  # fmt: skip
    coupon = models.ForeignKey(
        Coupon, verbose_name=_("coupon"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="entries",
    )  # fmt: skip
    # What the movement is worth in money (package price, a visit's share, a discount), for
    # reports; the balances never read it.
    value = models.DecimalField(_("value"), **MONEY, default=ZERO)
    points_expire_at = models.DateTimeField(_("points expire"), null=True, blank=True)
    reverses = models.OneToOneField(
        "self", verbose_name=_("reverses"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="reversed_by",
    )  # fmt: skip
    purchase = models.ForeignKey(
        Purchase, verbose_name=_("sale"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    actor_label = models.CharField(_("by (name)"), max_length=80, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=80)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ("-id",)
        indexes = [
            models.Index(fields=["account", "id"], name="ledger_account_id"),
            models.Index(fields=["business", "created_at"], name="ledger_business_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"

    def delete(self, *args, **kwargs):
        raise ValidationError(_("Ledger entries are never deleted; reverse them instead."))

    @property
    def stored_value_change(self) -> Decimal:
        return self.principal + self.bonus


class ReconciliationRun(BusinessOwned):
    """One nightly check of a business's balances against the sums of their entries."""

    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"))
    accounts_checked = models.PositiveIntegerField(_("accounts checked"), default=0)
    difference_count = models.PositiveIntegerField(_("differences"), default=0)
    differences = models.JSONField(_("what differs"), default=list, blank=True)

    class Meta:
        verbose_name = _("balance check")
        verbose_name_plural = _("balance checks")
        ordering = ("-started_at", "-id")
        indexes = [models.Index(fields=["business", "started_at"], name="reconcile_biz_time")]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}"
