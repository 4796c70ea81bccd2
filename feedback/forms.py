from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Business
from customers.phones import normalize_phone

from .models import COMMENT_MAX, REQUEST_MAX, Feedback

NPS_VALUES = list(range(11))
STAR_VALUES = [1, 2, 3, 4, 5]


class _TextField(forms.CharField):
    """Counts a typed line break as one character (browsers post CR LF)."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n") if value else value


class FeedbackForm(forms.Form):
    nps = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend?"),
        choices=[(str(v), str(v)) for v in NPS_VALUES],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose a score from 0 to 10."),
            "invalid_choice": _("Please choose a score from 0 to 10."),
        },
    )
    stars = forms.TypedChoiceField(
        label=_("Your rating"),
        choices=[(str(v), str(v)) for v in STAR_VALUES],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Please choose 1 to 5 stars.")},
    )
    topic = forms.ChoiceField(
        label=_("What is it mainly about?"),
        choices=[("", _("— choose (optional) —")), *Feedback.Topic.choices],
        required=False,
    )
    comment = _TextField(label=_("Your comment"), max_length=COMMENT_MAX, required=False)
    request = _TextField(label=_("I would like…"), max_length=REQUEST_MAX, required=False)
    phone = forms.CharField(label=_("Your phone number"), max_length=32, required=False)
    # Honeypot: hidden by CSS; people leave it empty, form-filling robots do not.
    website = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, business: Business, with_phone: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.business = business
        self.with_phone = with_phone
        if not with_phone:
            del self.fields["phone"]

    @property
    def is_spam(self) -> bool:
        return bool(self.data.get("website", "").strip())

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data.get("phone", ""), self.business.phone_region)
        except ValidationError as exc:
            raise ValidationError(
                _("Please check the phone number, or leave it empty."), code="invalid_phone"
            ) from exc
