"""The audience as real form fields (admin, and any screen that wants them): each field is
one filter of `campaigns.audience.Audience`, and `audience_from_form` builds the JSON through
`parse_audience`, so every surface validates the same way."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Business
from customers.models import Customer, Tag
from customers.money import AMOUNT_MAX
from segmentation.models import Segment, Tier

from .audience import Audience, AudienceError, parse_audience
from .models import Campaign

AUDIENCE_FIELDS = tuple(Audience.__dataclass_fields__)
MONTHS = [("", _("Any month"))] + [(str(m), str(m)) for m in range(1, 13)]
CARD_CHOICES = [("", _("Any")), ("yes", _("Has a member card")), ("no", _("Has no member card"))]


class AudienceFieldsForm(forms.Form):
    """The audience filters. `business` scopes the tag choices (another business's tags are
    not valid choices)."""

    segments = forms.MultipleChoiceField(
        label=_("Segments"), choices=Segment.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    tiers = forms.MultipleChoiceField(
        label=_("Value tiers"), choices=Tier.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    churn_min = forms.FloatField(
        label=_("Churn risk at least"), required=False, min_value=0, max_value=1,
        help_text=_("A share from 0 to 1: 0.6 = 60 %."),
    )  # fmt: skip
    churn_max = forms.FloatField(
        label=_("Churn risk at most"), required=False, min_value=0, max_value=1
    )
    value_at_stake_min = forms.DecimalField(
        label=_("Value at stake at least"), required=False, min_value=0, max_value=AMOUNT_MAX,
        max_digits=12, decimal_places=2,
    )  # fmt: skip
    birthday_month = forms.TypedChoiceField(
        label=_("Birthday month"), choices=MONTHS, required=False, coerce=int, empty_value=None
    )
    sources = forms.MultipleChoiceField(
        label=_("Sources"), choices=Customer.Source.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    tags = forms.ModelMultipleChoiceField(
        label=_("Tags"), queryset=Tag.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    last_visit_before = forms.DateField(
        label=_("Last visit before"), required=False,
        help_text=_("Customers whose last purchase was before this day."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    last_visit_after = forms.DateField(
        label=_("Last visit after"), required=False,
        help_text=_("Customers who bought after this day."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    member_card = forms.ChoiceField(label=_("Member card"), choices=CARD_CHOICES, required=False)

    def __init__(self, *args, business: Business | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_business(business)

    def set_business(self, business: Business | None) -> None:
        self.fields["tags"].queryset = Tag.objects.for_business(business).order_by("name")

    def audience_raw(self) -> dict[str, Any]:
        data = self.cleaned_data
        raw: dict[str, Any] = {}
        for name in AUDIENCE_FIELDS:
            value = data.get(name)
            if name == "tags":
                value = [t.pk for t in value] if value else []
            elif name == "member_card":
                value = {"yes": True, "no": False}.get(value or "")
            raw[name] = value
        return raw

    def clean_audience(self) -> dict[str, Any] | None:
        """The audience JSON, or None with the errors added to their fields."""
        try:
            return parse_audience(self.audience_raw()).as_json()
        except AudienceError as exc:
            if hasattr(exc, "error_dict"):
                for name, errors in exc.error_dict.items():
                    self.add_error(name if name in self.fields else None, errors)
            else:
                self.add_error(None, exc.messages)
            return None


def audience_initial(audience: dict | None) -> dict[str, Any]:
    """Form initial values from a stored audience."""
    try:
        a = parse_audience(audience or {})
    except AudienceError:
        return {}
    initial: dict[str, Any] = {name: getattr(a, name) for name in AUDIENCE_FIELDS}
    initial["member_card"] = {True: "yes", False: "no"}.get(a.member_card, "")
    initial["birthday_month"] = str(a.birthday_month) if a.birthday_month else ""
    return initial


class AudienceCountForm(AudienceFieldsForm):
    """What the live count needs besides the filters: the delivery and the control share."""

    delivery = forms.ChoiceField(
        choices=Campaign.Delivery.choices, required=False, initial=Campaign.Delivery.STAFF
    )
    control_pct = forms.IntegerField(min_value=5, max_value=50, required=False, initial=10)
