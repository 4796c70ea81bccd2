"""Input of the phone app: each form parses what one screen posts, with a bound on every field."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Interaction
from customers.money import AMOUNT_MAX
from feedback.models import Feedback

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
