import os
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Exists, Max, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import BusinessOwned, BusinessQuerySet

from .money import AMOUNT_MAX
from .phones import normalize_phone

MONEY = {"max_digits": 12, "decimal_places": 2}
# Every single sale, cost or cost to serve: 0 to AMOUNT_MAX (customers/money.py).
MONEY_VALIDATORS = [
    MinValueValidator(Decimal("0")),
    MaxValueValidator(
        AMOUNT_MAX, message=_("Give an amount of at most %(limit_value)s (one sale or cost).")
    ),
]
# Free-text bounds (forms, admin, API and import all read them from the field).
NOTES_MAX = 4000
ITEMS_MAX = 5000  # as the API has always taken


class Tag(BusinessOwned):
    name = models.CharField(_("name"), max_length=40)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=["business", "name"],
                name="tag_unique_name_per_business",
                violation_error_message=_("This business already has a tag with this name."),
            )
        ]

    def __str__(self) -> str:
        return self.name


class CustomerQuerySet(BusinessQuerySet):
    def with_totals(self) -> "CustomerQuerySet":
        return self.annotate(
            purchase_count=Count("purchases"),
            total_spent=Sum("purchases__amount"),
            last_purchase_at=Max("purchases__occurred_at"),
        )

    def possible_duplicates(self) -> "CustomerQuerySet":
        """Customers sharing name and city with another customer of the same business."""
        twins = Customer.objects.filter(
            business=OuterRef("business"), name=OuterRef("name"), city=OuterRef("city")
        ).exclude(pk=OuterRef("pk"))
        return self.exclude(city="").filter(Exists(twins))


class Customer(BusinessOwned):
    class Gender(models.TextChoices):
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        OTHER = "other", _("Other")

    class Source(models.TextChoices):
        WALK_IN = "walk_in", _("Walk-in")
        REFERRAL = "referral", _("Referral")
        WECHAT = "wechat", _("WeChat")
        ONLINE = "online", _("Online / Douyin")
        PHONE = "phone", _("Phone")
        EVENT = "event", _("Event")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        LEAD = "lead", _("Lead")
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")
        LOST = "lost", _("Lost")
        BLOCKED = "blocked", _("Blocked")

    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(
        _("phone"),
        max_length=20,
        blank=True,
        help_text=_("Any format; stored as +86… using the business's phone region."),
    )
    customer_no = models.CharField(
        _("customer number"),
        max_length=40,
        blank=True,
        help_text=_("Your own membership or card number, kept exactly as typed."),
    )
    wechat_id = models.CharField(_("WeChat ID"), max_length=64, blank=True)
    email = models.EmailField(_("email"), blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    city = models.CharField(_("city"), max_length=64, blank=True)
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, blank=True, default=Source.WALK_IN
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="customers")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_customers",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    marketing_consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    notes = models.TextField(
        _("notes"), max_length=NOTES_MAX, blank=True, validators=[MaxLengthValidator(NOTES_MAX)]
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(
                fields=["business", "phone"],
                condition=~Q(phone=""),
                name="customer_unique_phone_per_business",
                violation_error_message=_(
                    "A customer with this phone number already exists in this business."
                ),
            ),
            models.UniqueConstraint(
                fields=["business", "customer_no"],
                condition=~Q(customer_no=""),
                name="customer_unique_no_per_business",
                violation_error_message=_(
                    "A customer with this customer number already exists in this business."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["business", "name"], name="customer_business_name"),
            models.Index(fields=["business", "updated_at"], name="customer_business_updated"),
            # With the id: a filtered list page (newest first) is read straight from the index.
            models.Index(fields=["business", "status", "id"], name="customer_business_status_id"),
            models.Index(fields=["business", "created_at"], name="customer_business_created"),
        ]

    def __str__(self) -> str:
        # Two customers called 沈刚 must differ in every picker: the phone's last four digits.
        if len(self.phone) >= 4:
            return f"{self.name} (…{self.phone[-4:]})"
        return self.name

    def clean(self) -> None:
        super().clean()
        self.name = (self.name or "").strip()
        self.customer_no = (self.customer_no or "").strip()
        region = self.business.phone_region if self.business_id else "CN"
        try:
            self.phone = normalize_phone(self.phone, region)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
        if self.marketing_consent and self.marketing_consent_at is None:
            self.marketing_consent_at = timezone.now()
        if not self.marketing_consent:
            self.marketing_consent_at = None


class _CustomerChild(BusinessOwned):
    """A row hanging off a customer: same business as the customer, always."""

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        customer = getattr(self, "customer", None) if self.customer_id else None
        if customer is not None:
            if self.business_id and customer.business_id != self.business_id:
                raise ValidationError({"customer": _("This customer belongs to another business.")})
            self.business_id = customer.business_id


class Interaction(_CustomerChild):
    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        VISIT = "visit", _("Visit")
        MESSAGE = "message", _("Message")
        SERVICE = "service", _("Service")
        COMPLAINT = "complaint", _("Complaint")
        NOTE = "note", _("Note")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="interactions"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.VISIT)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    summary = models.CharField(_("summary"), max_length=500, blank=True)
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    cost_minutes = models.PositiveIntegerField(
        _("minutes spent"), null=True, blank=True, help_text=_("Optional: cost to serve in time.")
    )
    cost_amount = models.DecimalField(
        _("cost"),
        **MONEY,
        null=True,
        blank=True,
        validators=MONEY_VALIDATORS,
        help_text=_("Optional: cost to serve in money (discounts, gifts, materials)."),
    )

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ("-occurred_at", "-id")
        indexes = [models.Index(fields=["customer", "occurred_at"], name="interaction_cust_time")]
        constraints = [
            models.CheckConstraint(
                condition=Q(cost_amount__isnull=True) | Q(cost_amount__gte=0),
                name="interaction_cost_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(cost_amount__isnull=True) | Q(cost_amount__lte=AMOUNT_MAX),
                name="interaction_cost_at_most_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.customer}"


class Purchase(_CustomerChild):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="purchases"
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    amount = models.DecimalField(_("amount"), **MONEY, validators=MONEY_VALIDATORS)
    cost = models.DecimalField(
        _("cost"),
        **MONEY,
        null=True,
        blank=True,
        validators=MONEY_VALIDATORS,
        help_text=_("Optional. Without it, the business's default margin is used."),
    )
    channel = models.CharField(_("channel"), max_length=40, blank=True)
    items = models.TextField(
        _("items"), max_length=ITEMS_MAX, blank=True, validators=[MaxLengthValidator(ITEMS_MAX)]
    )
    external_id = models.CharField(
        _("external id"),
        max_length=64,
        blank=True,
        help_text=_("The till's or shop system's own id: the same sale is never counted twice."),
    )
    served_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("served by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ("-occurred_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="purchase_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0), name="purchase_cost_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(amount__lte=AMOUNT_MAX), name="purchase_amount_at_most_max"
            ),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__lte=AMOUNT_MAX),
                name="purchase_cost_at_most_max",
            ),
            models.UniqueConstraint(
                fields=["business", "external_id"],
                condition=~Q(external_id=""),
                name="purchase_unique_external_id",
                violation_error_message=_("A purchase with this external id already exists."),
            ),
        ]
        indexes = [
            models.Index(fields=["business", "occurred_at"], name="purchase_business_time"),
            models.Index(fields=["customer", "occurred_at"], name="purchase_customer_time"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} · {self.customer}"


class FollowUp(_CustomerChild):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="follow_ups"
    )
    due_on = models.DateField(_("due on"))
    task = models.CharField(_("task"), max_length=255)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ("due_on", "id")
        indexes = [models.Index(fields=["business", "due_on"], name="followup_business_due")]

    def __str__(self) -> str:
        return f"{self.due_on} · {self.task}"


class CustomerMerge(BusinessOwned):
    """Who merged which customer into which, and what moved: the audit of a merge."""

    kept = models.ForeignKey(
        Customer, verbose_name=_("kept customer"), on_delete=models.CASCADE, related_name="merges"
    )
    merged_customer_id = models.BigIntegerField(_("merged customer id"))
    merged_snapshot = models.JSONField(_("merged customer's details"), default=dict)
    moved = models.JSONField(_("rows moved"), default=dict)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("merged at"), default=timezone.now)

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        ordering = ("-merged_at",)

    def __str__(self) -> str:
        return f"{self.merged_snapshot.get('name', '?')} → {self.kept}"


def import_upload_path(job: "ImportJob", filename: str) -> str:
    """An unguessable name: the upload holds customer data (its own name is kept apart)."""
    extension = os.path.splitext(filename)[1].lower()[:10]
    return f"imports/{job.business_id}/{uuid.uuid4().hex}{extension}"


class ImportJob(BusinessOwned):
    """One uploaded file on its way in: preview (dry pass), then, once confirmed, the write.

    The admin and the background worker both drive it through `customers.importing.jobs`.
    """

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("Customers")
        PURCHASES = "purchases", _("Purchases")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to be checked")
        CHECKING = "checking", _("Checking")
        READY = "ready", _("Preview ready")
        CONFIRMED = "confirmed", _("Waiting to be imported")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    file = models.FileField(_("file"), upload_to=import_upload_path, blank=True)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    valid_only = models.BooleanField(_("import valid rows only"), default=False)
    create_customers = models.BooleanField(_("create missing customers"), default=False)
    language = models.CharField(_("language"), max_length=10, blank=True)
    estimated_rows = models.PositiveIntegerField(_("estimated rows"), default=0)
    preview = models.JSONField(_("preview"), default=dict, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["business", "created_at"], name="importjob_business_created")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.original_name}"

    @property
    def is_running(self) -> bool:
        return self.status in {
            self.Status.QUEUED,
            self.Status.CHECKING,
            self.Status.CONFIRMED,
            self.Status.IMPORTING,
        }


# For the API schema's enum names (settings.SPECTACULAR_SETTINGS).
CUSTOMER_STATUS_CHOICES = Customer.Status.choices
CUSTOMER_SOURCE_CHOICES = Customer.Source.choices
