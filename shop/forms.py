"""Input of the phone app: each form parses what one screen posts, with a bound on every field."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import gettext_lazy as _

from campaigns.audience import AudienceError, parse_audience
from campaigns.models import MESSAGE_MAX, Campaign
from customers.models import Customer, Interaction, Tag
from customers.money import AMOUNT_MAX
from feedback.models import Feedback
from membership.models import CouponTemplate
from segmentation.models import Segment, Tier

NUMERIC = {"inputmode": "decimal", "autocomplete": "off"}


def team_choices(business) -> list[tuple[str, str]]:
    users = (
        get_user_model()
        .objects.filter(membership__business=business, is_active=True)
        .order_by("username")
    )
    return [("", "—")] + [(str(u.pk), u.get_full_name() or u.username) for u in users]


class SaleForm(forms.Form):
    """A sale at the counter. `key` is minted when the form is shown and travels with it:
    the same key posted twice records one sale."""

    key = forms.UUIDField(widget=forms.HiddenInput)
    customer = forms.IntegerField(
        required=False, widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1
    )
    name = forms.CharField(label=_("New customer's name"), max_length=100, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=Decimal("0"),
        max_value=AMOUNT_MAX,
        max_digits=12,
        decimal_places=2,
        widget=forms.TextInput(attrs=NUMERIC),
    )
    items = forms.CharField(label=_("Items (optional)"), max_length=500, required=False)
    served_by = forms.TypedChoiceField(
        label=_("Served by (optional)"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, business=None, account=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["served_by"].choices = team_choices(business)
        if not self.is_bound:
            self.initial.setdefault("key", uuid.uuid4())
        self.account = account
        if account is not None:
            self._add_member_fields(account)

    def _add_member_fields(self, account) -> None:
        """Paying with the member card: the choices are the card's own open packages and
        coupons (membership's selectors), so another card's are not valid choices."""
        from membership.selectors import open_coupons, open_visit_packages
        from membership.services import POINTS_MAX

        self.fields["amount"].label = _("Amount (before discounts; 0 for a visit only)")
        self.fields["stored_value"] = forms.DecimalField(
            label=_("Pay from the card"), required=False, min_value=Decimal("0"),
            max_value=AMOUNT_MAX, max_digits=12, decimal_places=2,
            widget=forms.TextInput(attrs=NUMERIC),
        )  # fmt: skip
        self.fields["visit_package"] = forms.ModelChoiceField(
            label=_("Use a visit of"), required=False, empty_label="—",
            queryset=open_visit_packages(account).order_by("expires_at", "pk"),
        )  # fmt: skip
        self.fields["points"] = forms.IntegerField(
            label=_("Points to redeem"), required=False, min_value=0, max_value=POINTS_MAX,
            widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        )  # fmt: skip
        self.fields["coupon"] = forms.ModelChoiceField(
            label=_("Coupon"), required=False, empty_label="—",
            queryset=open_coupons(account).order_by("expires_at", "pk"),
        )  # fmt: skip

    def clean(self):
        data = super().clean()
        if not data.get("customer") and not (data.get("name") or "").strip():
            self.add_error("name", _("Find the customer first, or type a new customer's name."))
        if not data.get("customer") and not (data.get("phone") or "").strip():
            self.add_error("phone", _("A new customer needs a phone number."))
        return data


class NoteForm(forms.Form):
    summary = forms.CharField(
        label=_("Note"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Interaction.Kind.choices)
    summary = forms.CharField(
        label=_("What happened"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    cost_minutes = forms.IntegerField(
        label=_("Minutes spent (optional)"),
        required=False,
        min_value=0,
        max_value=24 * 60,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    cost_amount = forms.DecimalField(
        label=_("Cost in money (optional)"),
        required=False,
        min_value=Decimal("0"),
        max_value=AMOUNT_MAX,
        max_digits=12,
        decimal_places=2,
        widget=forms.TextInput(attrs=NUMERIC),
    )


class FollowUpForm(forms.Form):
    task = forms.CharField(label=_("Task"), max_length=255)
    due_on = forms.DateField(label=_("Due on"), widget=forms.DateInput(attrs={"type": "date"}))
    assigned_to = forms.TypedChoiceField(
        label=_("For"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, business=None, today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].choices = team_choices(business)
        if today is not None:
            self.initial.setdefault("due_on", today + timedelta(days=1))
            self._today = today

    def clean_due_on(self):
        due = self.cleaned_data["due_on"]
        today = getattr(self, "_today", None)
        if today is not None:
            earliest, latest = today - timedelta(days=366), today + timedelta(days=3 * 366)
            if not earliest <= due <= latest:
                raise forms.ValidationError(_("Pick a date within the next three years."))
        return due


class SnoozeForm(forms.Form):
    days = forms.TypedChoiceField(choices=[("1", "1"), ("7", "7")], coerce=int)


class ReplyForm(forms.Form):
    reply = forms.CharField(
        label=_("Reply note"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    status = forms.ChoiceField(label=_("Status"), choices=Feedback.Status.choices)


class ListFilterForm(forms.Form):
    """The chips of the customer list (GET): unknown or malformed values are ignored."""

    segment = forms.CharField(required=False, max_length=20)
    tier = forms.CharField(required=False, max_length=1)
    status = forms.ChoiceField(required=False, choices=[("", ""), *Customer.Status.choices])
    tag = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    at_risk = forms.BooleanField(required=False)
    birthday = forms.BooleanField(required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)


# Campaigns (issue 15) ------------------------------------------------------------------------

# The churn-risk bands an owner picks from: (lowest, highest) chance of not coming back.
CHURN_BANDS = {
    "high": (0.6, None),
    "at_risk": (0.5, None),
    "very_high": (0.8, None),
    "medium": (0.3, 0.6),
    "low": (None, 0.3),
}
CHURN_BAND_CHOICES = [
    ("", _("Any")),
    ("at_risk", _("At risk: at least 50 %")),
    ("high", _("High: at least 60 %")),
    ("very_high", _("Very high: at least 80 %")),
    ("medium", _("Medium: 30–60 %")),
    ("low", _("Low: below 30 %")),
]
MONTH_CHOICES = [("", _("Any"))] + [(str(m), str(m)) for m in range(1, 13)]
CARD_CHOICES = [("", _("Any")), ("true", _("Members only")), ("false", _("Not members"))]
# Form field → audience key (campaigns.audience.Audience).
AUDIENCE_FIELDS = {
    "segments": "segments",
    "tiers": "tiers",
    "value_at_stake_min": "value_at_stake_min",
    "birthday_month": "birthday_month",
    "sources": "sources",
    "tags": "tags",
    "last_visit_before": "last_visit_before",
    "last_visit_after": "last_visit_after",
    "member_card": "member_card",
}


class ChipsWidget(forms.CheckboxSelectMultiple):
    """Checkboxes drawn as chips (the whole chip is the tap target)."""

    template_name = "shop/widgets/chips.html"


def campaign_presets() -> dict[str, dict]:
    """The big buttons of a new campaign: a title, a line, and the form's starting values."""
    return {
        "win_back": {
            "title": _("Win back valuable customers at risk"),
            "hint": _("Tier A and B customers with a high chance of not coming back."),
            "initial": {
                "name": _("We miss you"),
                "kind": Campaign.Kind.ONE_OFF,
                "tiers": ["A", "B"],
                "churn_band": "high",
                "message": _("{name}, we miss you at {shop}! {offer}"),
            },
        },
        "birthday": {
            "title": _("Birthday"),
            "hint": _("A message a week before each customer's birthday."),
            "initial": {
                "name": _("Happy birthday"),
                "kind": Campaign.Kind.BIRTHDAY,
                "days_before": 7,
                "message": _("Happy birthday, {name}! {shop} has a gift for you: {offer}"),
            },
        },
        "welcome": {
            "title": _("Welcome new customers"),
            "hint": _("A thank-you after each new customer's first purchase."),
            "initial": {
                "name": _("Welcome"),
                "kind": Campaign.Kind.WELCOME,
                "message": _("Thank you for visiting {shop}, {name}! Next time: {offer}"),
            },
        },
        "group": {
            "title": _("One message to a group"),
            "hint": _("Pick the customers with the filters below."),
            "initial": {"kind": Campaign.Kind.ONE_OFF, "message": _("{name}, {shop}: {offer}")},
        },
    }


class CampaignForm(forms.ModelForm):
    """A new campaign from the phone: the model's own fields and validators, and the audience
    as chips and selects, validated by `campaigns.audience.parse_audience` (the same parser
    as the admin and the API)."""

    segments = forms.MultipleChoiceField(label=_("Segment"), required=False, widget=ChipsWidget)
    tiers = forms.MultipleChoiceField(label=_("Value tier"), required=False, widget=ChipsWidget)
    churn_band = forms.ChoiceField(
        label=_("Chance of not coming back"), required=False, choices=CHURN_BAND_CHOICES
    )
    value_at_stake_min = forms.DecimalField(
        label=_("Value at stake at least"),
        required=False,
        min_value=Decimal("0"),
        max_value=AMOUNT_MAX,
        max_digits=12,
        decimal_places=2,
        widget=forms.TextInput(attrs=NUMERIC),
    )
    birthday_month = forms.ChoiceField(
        label=_("Birthday month"), required=False, choices=MONTH_CHOICES
    )
    sources = forms.MultipleChoiceField(
        label=_("Came to us through"), required=False, widget=ChipsWidget
    )
    tags = forms.TypedMultipleChoiceField(
        label=_("Tag"), required=False, coerce=int, widget=ChipsWidget
    )
    last_visit_before = forms.DateField(
        label=_("Last visit before"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    last_visit_after = forms.DateField(
        label=_("Last visit after"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    member_card = forms.ChoiceField(label=_("Member card"), required=False, choices=CARD_CHOICES)
    churn_threshold_pct = forms.IntegerField(
        label=_("Win-back: enters when the chance of not coming back reaches (%)"),
        required=False,
        min_value=5,
        max_value=99,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "kind",
            "message",
            "offer",
            "coupon_template",
            "control_pct",
            "window_days",
            "delivery",
            "cost_per_message",
            "days_before",
            "points_threshold",
            "ends_on",
        ]
        labels = {
            "name": _("Campaign name"),
            "kind": _("Kind"),
            "message": _("Message"),
            "offer": _("Offer (optional)"),
            "coupon_template": _("Coupon (optional)"),
            "control_pct": _("Held out at random (%)"),
            "window_days": _("Measure results over (days)"),
            "delivery": _("Sent by"),
            "cost_per_message": _("Cost per message"),
            "days_before": _("Days ahead (birthday, expiring)"),
            "points_threshold": _("Points reward: points at least"),
            "ends_on": _("Automatic: stop adding customers on"),
        }
        help_texts = {
            "message": _("{name}, {shop}, {offer} and {code} (the coupon's code) are filled in."),
            "control_pct": _(
                "They get nothing, so the results can show what the campaign really changed."
            ),
            "cost_per_message": _("What the SMS provider charges; 0 when staff send."),
        }
        widgets = {
            "message": forms.Textarea(attrs={"rows": 3}),
            "control_pct": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            "window_days": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            "days_before": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            "points_threshold": forms.TextInput(
                attrs={"inputmode": "numeric", "autocomplete": "off"}
            ),
            "cost_per_message": forms.TextInput(attrs=NUMERIC),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, business=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.business = business
        self.instance.business = business
        self.fields["segments"].choices = list(Segment.choices)
        self.fields["tiers"].choices = [(t.value, t.value) for t in Tier]
        self.fields["sources"].choices = list(Customer.Source.choices)
        tags = Tag.objects.for_business(business).order_by("name")[:20]
        self.fields["tags"].choices = [(t.pk, t.name) for t in tags]
        coupon = self.fields["coupon_template"]
        coupon.queryset = CouponTemplate.objects.for_business(business).order_by("name", "pk")
        coupon.empty_label = "—"
        self.fields["message"].max_length = MESSAGE_MAX
        self.fields["message"].widget.attrs["maxlength"] = MESSAGE_MAX
        self.fields["name"].widget.attrs["maxlength"] = 60
        self.fields["offer"].widget.attrs["maxlength"] = 100
        for name in ("days_before", "points_threshold", "cost_per_message"):
            self.fields[name].required = False
        if not self.is_bound:
            self.initial.setdefault("churn_threshold_pct", 60)

    def audience_raw(self) -> dict:
        """The audience as campaigns' parser takes it (from cleaned data)."""
        data = self.cleaned_data
        raw = {key: data.get(name) for name, key in AUDIENCE_FIELDS.items()}
        low, high = CHURN_BANDS.get(data.get("churn_band") or "", (None, None))
        raw["churn_min"], raw["churn_max"] = low, high
        return {k: v for k, v in raw.items() if v not in (None, "", [])}

    def _update_errors(self, errors):
        # The model re-checks the audience; its errors belong to the form, not to a field.
        if hasattr(errors, "error_dict") and "audience" in errors.error_dict:
            moved = errors.error_dict.pop("audience")
            errors.error_dict.setdefault(NON_FIELD_ERRORS, []).extend(moved)
        super()._update_errors(errors)

    def clean(self):
        data = super().clean()
        try:
            audience = parse_audience(self.audience_raw())
        except AudienceError as exc:
            errors = getattr(exc, "error_dict", None)
            if errors is None:
                self.add_error(None, exc.messages)
            for key, messages in (errors or {}).items():
                field = {"churn_min": "churn_band", "churn_max": "churn_band"}.get(key, key)
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        else:
            self.instance.audience = audience.as_json()
        pct = data.get("churn_threshold_pct")
        if pct is not None:
            self.instance.churn_threshold = pct / 100
        # Optional on the phone: the model's defaults stand when left empty.
        for name in ("days_before", "points_threshold", "cost_per_message"):
            if data.get(name) is None and name not in self.errors:
                data[name] = self.instance._meta.get_field(name).get_default()
        return data
