"""REST API for member cards (mounted by crm_project/api_router.py).

Reads: member accounts with their balances, visit packages, coupons, ledger entries and
operations. Commands (POST, need an `Idempotency-Key` header): open a card, top up, checkout
(spend / use a visit / redeem points or a coupon), sell a visit package, issue a coupon,
refund, reverse an operation. A command resent with the same key and body answers 200 with the
first result and writes nothing; with another body, 409 `idempotency_conflict`."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api import (
    BoundedDateTimeField,
    BusinessScopedAPIMixin,
    IdFilter,
    ScopedPrimaryKeyRelatedField,
    bad_request,
    model_errors,
)
from customers.models import Customer
from customers.money import AMOUNT_MAX

from .models import (
    Coupon,
    CouponTemplate,
    LedgerEntry,
    LedgerOperation,
    MemberAccount,
    TopUpPackage,
    VisitPackage,
    VisitProduct,
)
from .services import (
    KEY_MAX,
    POINTS_MAX,
    LedgerRefused,
    account_open,
    checkout,
    coupon_issue,
    operation_reverse,
    stored_value_refund,
    top_up,
    visit_package_sell,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=True,
    description=_(
        "Your own unique id of this request (at most 80 characters). Resending it with the "
        "same body returns the first answer and changes nothing."
    ),
)


def _money_field(**kwargs):
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, max_value=AMOUNT_MAX, **kwargs
    )


class VisitPackageSerializer(serializers.ModelSerializer):
    class Meta:
        model = VisitPackage
        fields = ("id", "name", "visits_total", "visits_left", "price", "expires_at")
        read_only_fields = fields


class CouponSerializer(serializers.ModelSerializer):
    template = serializers.CharField(source="template.name", read_only=True)
    state = serializers.CharField(read_only=True, help_text=_("open, redeemed or expired"))

    class Meta:
        model = Coupon
        fields = ("id", "code", "template", "state", "issued_at", "expires_at")
        read_only_fields = fields


class MemberAccountSerializer(serializers.ModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(
        queryset=Customer.objects.all(), help_text=_("Id of the customer")
    )
    card_no = serializers.CharField(
        max_length=20, required=False, allow_blank=True,
        help_text=_("Card number; leave empty to get a new one"),
    )  # fmt: skip
    level = serializers.CharField(source="level.name", read_only=True, allow_null=True)
    stored_value = serializers.DecimalField(max_digits=13, decimal_places=2, read_only=True)
    visit_packages = VisitPackageSerializer(many=True, read_only=True)
    coupons = CouponSerializer(many=True, read_only=True)

    class Meta:
        model = MemberAccount
        fields = (
            "id", "customer", "card_no", "level", "principal", "bonus", "stored_value",
            "points", "visit_packages", "coupons", "created_at",
        )  # fmt: skip
        read_only_fields = ("id", "principal", "bonus", "points", "created_at")
        validators: list = []


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = (
            "id", "account", "operation", "kind", "principal", "bonus", "points", "visits",
            "coupons", "visit_package", "coupon", "value", "points_expire_at", "reverses",
            "purchase", "actor_label", "idempotency_key", "reason", "created_at",
        )  # fmt: skip
        read_only_fields = fields


class LedgerOperationSerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerOperation
        fields = ("id", "key", "command", "result", "created_at")
        read_only_fields = fields


# --- command inputs ------------------------------------------------------------------------


class TopUpInput(serializers.Serializer):
    package = ScopedPrimaryKeyRelatedField(
        queryset=TopUpPackage.objects.all(), required=False, allow_null=True,
        help_text=_("Id of a top-up package (its pay and bonus are used)"),
    )  # fmt: skip
    pay = _money_field(required=False, help_text=_("Paid by the customer, outside the card"))
    bonus = _money_field(required=False, help_text=_("Bonus value added"))

    def validate(self, attrs):
        if not attrs.get("package") and not attrs.get("pay"):
            raise serializers.ValidationError({"pay": [_("Give pay, or a package.")]})
        return attrs


class CheckoutInput(serializers.Serializer):
    amount = _money_field(help_text=_("Price of what is sold, before discounts"))
    stored_value = _money_field(required=False, help_text=_("Paid from the card"))
    points = serializers.IntegerField(
        min_value=0, max_value=POINTS_MAX, required=False, help_text=_("Points to redeem")
    )
    visit_package = ScopedPrimaryKeyRelatedField(
        queryset=VisitPackage.objects.all(), required=False, allow_null=True,
        help_text=_("Id of the visit package to use one visit of"),
    )  # fmt: skip
    coupon = ScopedPrimaryKeyRelatedField(
        queryset=Coupon.objects.all(), required=False, allow_null=True,
        help_text=_("Id of the coupon to redeem"),
    )  # fmt: skip
    earn_points = serializers.BooleanField(required=False, default=True)
    occurred_at = BoundedDateTimeField(required=False, help_text=_("When (default: now)"))
    items = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    channel = serializers.CharField(required=False, allow_blank=True, max_length=40)
    external_id = serializers.CharField(
        required=False, allow_blank=True, max_length=64,
        help_text=_("The till's own id of the sale"),
    )  # fmt: skip


class VisitSellInput(serializers.Serializer):
    product = ScopedPrimaryKeyRelatedField(
        queryset=VisitProduct.objects.all(), help_text=_("Id of the visit package product")
    )


class CouponIssueInput(serializers.Serializer):
    template = ScopedPrimaryKeyRelatedField(
        queryset=CouponTemplate.objects.all(), help_text=_("Id of the coupon template")
    )


class RefundInput(serializers.Serializer):
    amount = _money_field(help_text=_("Paid value returned to the customer"))
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ReverseInput(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


RESULT = inline_serializer(
    "LedgerResult",
    {
        "operation": serializers.IntegerField(),
        "key": serializers.CharField(),
        "command": serializers.CharField(),
        "account": serializers.IntegerField(),
        "entries": serializers.ListField(child=serializers.IntegerField()),
        "balance": serializers.DictField(),
        "replayed": serializers.BooleanField(),
    },
)


class _CommandMixin:
    def _command(self, request, input_class, run):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return bad_request(
                _("Send an Idempotency-Key header with your own id of this request.")
            )
        if len(key) > KEY_MAX:
            return bad_request(
                _("The Idempotency-Key is longer than %(max)d characters.") % {"max": KEY_MAX}
            )
        if not isinstance(request.data, dict):
            return bad_request(_("Send one JSON object."))
        serializer = input_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        user = request.user
        actor = user if getattr(user, "pk", None) else None
        try:
            result = run(serializer.validated_data, key=key, actor=actor, actor_label=str(user))
        except LedgerRefused as exc:
            error = {"status": 409, "code": exc.refusal, "message": exc.messages[0], "fields": {}}
            return Response({"error": error}, status=status.HTTP_409_CONFLICT)
        except DjangoValidationError as exc:
            return bad_request(str(_("Some fields are not valid.")), model_errors(exc))
        code = status.HTTP_200_OK if result["replayed"] else status.HTTP_201_CREATED
        return Response(result, status=code)


class MemberAccountFilter(filters.FilterSet):
    card_no = filters.CharFilter(label=_("Card number"))
    customer = IdFilter(field_name="customer_id", label=_("Customer id"))

    class Meta:
        model = MemberAccount
        fields = ()


class MemberAccountViewSet(
    BusinessScopedAPIMixin,
    _CommandMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = MemberAccount.objects.select_related("level").prefetch_related(
        "visit_packages", "coupons__template"
    )
    serializer_class = MemberAccountSerializer
    filterset_class = MemberAccountFilter
    ordering_fields = ("id",)
    ordering = ("-id",)

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = account_open(
                customer=data["customer"], card_no=data.get("card_no", "")
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(model_errors(exc)) from exc

    @extend_schema(request=TopUpInput, responses={201: RESULT, 200: RESULT},
                   parameters=[IDEMPOTENCY_HEADER])  # fmt: skip
    @action(detail=True, methods=["post"], url_path="top-up")
    def top_up(self, request, pk=None):
        account = self.get_object()
        return self._command(
            request, TopUpInput,
            lambda d, **kw: top_up(account=account, pay=d.get("pay"), bonus=d.get("bonus"),
                                   package=d.get("package"), **kw),
        )  # fmt: skip

    @extend_schema(
        request=CheckoutInput, responses={201: RESULT, 200: RESULT},
        parameters=[IDEMPOTENCY_HEADER],
        description=_(
            "Record a sale and pay from the card: spend stored value, use a visit, redeem "
            "points or a coupon, earn points — all or nothing. 409 insufficient_balance when "
            "the card does not hold enough."
        ),
    )  # fmt: skip
    @action(detail=True, methods=["post"])
    def checkout(self, request, pk=None):
        account = self.get_object()
        return self._command(
            request, CheckoutInput,
            lambda d, **kw: checkout(account=account, **{**d, **kw}),
        )  # fmt: skip

    @extend_schema(request=VisitSellInput, responses={201: RESULT, 200: RESULT},
                   parameters=[IDEMPOTENCY_HEADER])  # fmt: skip
    @action(detail=True, methods=["post"], url_path="visit-packages")
    def sell_visits(self, request, pk=None):
        account = self.get_object()
        return self._command(
            request, VisitSellInput,
            lambda d, **kw: visit_package_sell(account=account, product=d["product"], **kw),
        )  # fmt: skip

    @extend_schema(request=CouponIssueInput, responses={201: RESULT, 200: RESULT},
                   parameters=[IDEMPOTENCY_HEADER])  # fmt: skip
    @action(detail=True, methods=["post"], url_path="coupons")
    def issue_coupon(self, request, pk=None):
        account = self.get_object()
        return self._command(
            request, CouponIssueInput,
            lambda d, **kw: coupon_issue(account=account, template=d["template"], **kw),
        )  # fmt: skip

    @extend_schema(request=RefundInput, responses={201: RESULT, 200: RESULT},
                   parameters=[IDEMPOTENCY_HEADER])  # fmt: skip
    @action(detail=True, methods=["post"])
    def refund(self, request, pk=None):
        account = self.get_object()
        return self._command(
            request, RefundInput,
            lambda d, **kw: stored_value_refund(
                account=account, amount=d["amount"], reason=d.get("reason", ""), **kw
            ),
        )  # fmt: skip


class LedgerEntryFilter(filters.FilterSet):
    account = IdFilter(field_name="account_id", label=_("Member account id"))
    purchase = IdFilter(field_name="purchase_id", label=_("Purchase id"))
    operation = IdFilter(field_name="operation_id", label=_("Operation id"))

    class Meta:
        model = LedgerEntry
        fields = ("kind",)


class LedgerEntryViewSet(BusinessScopedAPIMixin, viewsets.ReadOnlyModelViewSet):
    queryset = LedgerEntry.objects.all()
    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerEntryFilter
    ordering_fields = ("id",)
    ordering = ("-id",)


class LedgerOperationViewSet(BusinessScopedAPIMixin, _CommandMixin, viewsets.ReadOnlyModelViewSet):
    queryset = LedgerOperation.objects.all()
    serializer_class = LedgerOperationSerializer
    filterset_fields = ("command", "key")
    ordering_fields = ("id",)
    ordering = ("-id",)

    @extend_schema(request=ReverseInput, responses={201: RESULT, 200: RESULT},
                   parameters=[IDEMPOTENCY_HEADER])  # fmt: skip
    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        operation = self.get_object()
        return self._command(
            request, ReverseInput,
            lambda d, **kw: operation_reverse(operation=operation, reason=d["reason"], **kw),
        )  # fmt: skip
