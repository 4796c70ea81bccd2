from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA zone names of the zoneinfo database (Asia/Shanghai, Europe/London, …)."""
    return frozenset(available_timezones())


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(time_zone_names())]


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(
            _("“%(value)s” is not a time zone. Choose one such as Asia/Shanghai or Europe/London."),
            code="invalid_time_zone",
            params={"value": value},
        )


class Business(models.Model):
    """A tenant: one shop, salon or workshop. Everything it owns points here."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_time_zone]
    )
    phone_region = models.CharField(
        _("default phone region"),
        max_length=2,
        default="CN",
        help_text=_("Two-letter country code used to read phone numbers typed without +."),
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )
    default_margin_pct = models.DecimalField(
        _("default gross margin %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("40.00"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Used for purchases recorded without a cost."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("business")
        verbose_name_plural = _("businesses")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def time_zone_is_valid(self) -> bool:
        return self.time_zone in time_zone_names()

    @property
    def zone(self) -> ZoneInfo:
        """The business's zone; the site's own (settings.TIME_ZONE) for a name saved before
        time zones were validated, so that nothing crashes on it (scoring says so)."""
        if self.time_zone_is_valid:
            try:
                return ZoneInfo(self.time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        return ZoneInfo(settings.TIME_ZONE)


class Membership(models.Model):
    """Ties a user to the one business they work for, with a role."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        STAFF = "staff", _("Staff")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="membership",
    )
    business = models.ForeignKey(
        Business, verbose_name=_("business"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Leave empty to follow the browser."),
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.business} ({self.get_role_display()})"

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER


class TeamMember(User):
    """The user model as an owner sees it: their own staff, nothing else."""

    class Meta:
        proxy = True
        verbose_name = _("team member")
        verbose_name_plural = _("team members")


class BusinessAPIKeyManager(APIKeyManager):
    def get_usable_keys(self):
        return super().get_usable_keys().select_related("business")


class BusinessAPIKey(AbstractAPIKey):
    """An integrator's key for one business: stored hashed, shown once, revocable."""

    business = models.ForeignKey(
        Business, verbose_name=_("business"), on_delete=models.CASCADE, related_name="api_keys"
    )
    read_only = models.BooleanField(
        _("read-only"), default=False, help_text=_("A read-only key can read but never write.")
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    objects = BusinessAPIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
