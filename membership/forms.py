"""Admin forms of the member-card commands: parse input, then a service does the work."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.money import AMOUNT_MAX

from .models import CouponTemplate, MemberAccount, TopUpPackage, VisitProduct
from .selectors import open_coupons, open_visit_packages
from .services import POINTS_MAX


def money_field(label, *, required: bool = True, minimum: str = "0.00", **kwargs):
    return forms.DecimalField(
        label=label, required=required, max_digits=12, decimal_places=2,
        min_value=Decimal(minimum), max_value=AMOUNT_MAX,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}), **kwargs,
    )  # fmt: skip


def points_field(label, *, required: bool = False, minimum: int = 0):
    return forms.IntegerField(
        label=label, required=required, min_value=minimum, max_value=POINTS_MAX,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )  # fmt: skip


class _AccountForm(forms.Form):
    def __init__(self, *args, account: MemberAccount, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account


class TopUpForm(_AccountForm):
    package = forms.ModelChoiceField(
        label=_("Top-up package"), queryset=TopUpPackage.objects.none(), required=False
    )
    pay = money_field(_("Customer pays"), required=False, minimum="0.01")
    bonus = money_field(_("Bonus"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["package"].queryset = TopUpPackage.objects.for_business(
            self.account.business_id
        ).filter(active=True)

    def clean(self):
        data = super().clean()
        if not data.get("package") and not data.get("pay"):
            raise forms.ValidationError(_("Choose a package or type the amount paid."))
        return data


class CheckoutForm(_AccountForm):
    amount = money_field(_("Amount of the sale"), help_text=_("Before discounts; 0 for a visit."))
    stored_value = money_field(_("Pay from the card"), required=False)
    visit_package = forms.ModelChoiceField(
        label=_("Use a visit of"), queryset=MemberAccount.objects.none(), required=False
    )
    points = points_field(_("Points to redeem"))
    coupon = forms.ModelChoiceField(
        label=_("Coupon"), queryset=MemberAccount.objects.none(), required=False
    )
    items = forms.CharField(label=_("What was sold"), max_length=500, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["visit_package"].queryset = open_visit_packages(self.account)
        self.fields["coupon"].queryset = open_coupons(self.account)


class VisitSellForm(_AccountForm):
    product = forms.ModelChoiceField(label=_("Visit package"), queryset=VisitProduct.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = VisitProduct.objects.for_business(
            self.account.business_id
        ).filter(active=True)


class CouponIssueForm(_AccountForm):
    template = forms.ModelChoiceField(label=_("Coupon"), queryset=CouponTemplate.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = CouponTemplate.objects.for_business(
            self.account.business_id
        )


class RefundForm(_AccountForm):
    amount = money_field(_("Paid value returned"), minimum="0.01")
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class AdjustForm(_AccountForm):
    principal = money_field(_("Paid value change"), required=False, minimum=str(-AMOUNT_MAX))
    bonus = money_field(_("Bonus value change"), required=False, minimum=str(-AMOUNT_MAX))
    points = points_field(_("Points change"), minimum=-POINTS_MAX)
    reason = forms.CharField(label=_("Reason"), max_length=200)


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class CardSearchForm(forms.Form):
    card_no = forms.CharField(
        label=_("Card number"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autofocus": True}),
    )  # fmt: skip


IMPORT_MAX_BYTES = 5 * 1024 * 1024


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or Excel file"),
        help_text=_(
            "Columns such as 卡号, 手机, 姓名, 储值余额, 赠送余额, 积分, 剩余次数, 到期日."
        ),
    )
    valid_only = forms.BooleanField(label=_("Import the valid rows only"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        if not upload.name.lower().endswith((".csv", ".xlsx", ".txt")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        return upload
