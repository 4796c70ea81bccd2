"""Campaigns in the REST API (mounted by crm_project/api_router.py): create and change drafts,
start / pause / finish (through `campaigns.services`), results with their 95 % intervals, the
live audience count, and the members (random groups and sends) read-only."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api import (
    MAX_ID,
    BusinessPermission,
    BusinessScopedAPIMixin,
    IdFilter,
    ScopedPrimaryKeyRelatedField,
    StrictBooleanField,
    bad_request,
    error_response,
    model_errors,
)
from accounts.tenancy import business_for, is_owner
from customers.api import DescribedModelSerializer
from customers.models import Customer
from customers.money import AMOUNT_MAX
from membership.models import CouponTemplate
from segmentation.models import Segment, Tier

from .audience import MAX_CHOICES, AudienceError, audience_count, parse_audience
from .models import Campaign, CampaignMember
from .selectors import campaign_results, reason_label
from .services import (
    CampaignRefused,
    campaign_finish,
    campaign_pause,
    campaign_save,
    campaign_start,
)
from .stats import Difference

READ_ACTIONS = {"audience_count"}  # a POST that only reads: read-only keys and staff may


class CampaignPermission(BusinessPermission):
    """Reading (and counting an audience) as for every endpoint; creating, changing, starting,
    pausing and finishing need a read-write key or an owner's session (staff look only, as
    in the admin)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if (
            request.method in permissions.SAFE_METHODS
            or getattr(view, "action", "") in READ_ACTIONS
        ):
            return bool(user and user.is_authenticated and business_for(user) is not None)
        if not super().has_permission(request, view):
            return False
        if getattr(user, "api_key", None) is not None:
            return True  # a read-write key (read-only keys were refused above)
        return is_owner(user)


class FiniteFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if math.isnan(value) or math.isinf(value):
            self.fail("invalid")
        return value


class StrictDecimalField(serializers.DecimalField):
    """Money as a decimal string, as the schema says ("12.50"): a JSON number or "" is refused
    (DRF would take "" for null and a float for a string), like text in StrictCharField."""

    def validate_empty_values(self, data):
        if data is not None and data is not serializers.empty and not isinstance(data, str):
            self.fail("invalid")
        if isinstance(data, str) and not data.strip():
            self.fail("invalid")
        return super().validate_empty_values(data)


class BoundedDateField(serializers.DateField):
    """A day from 2000 to 2100."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not date(2000, 1, 1) <= day <= date(2100, 12, 31):
            raise serializers.ValidationError(_("Give a date between 2000 and 2100."))
        return day


def _choices(choices, help_text):
    return serializers.ListField(
        child=serializers.ChoiceField(choices=choices), max_length=MAX_CHOICES, required=False,
        help_text=help_text,
    )  # fmt: skip


class AudienceSerializer(serializers.Serializer):
    """Who a campaign may reach: every filter given must match (leave one out for "any").
    Customers without marketing consent, blocked, unreachable by the delivery or messaged by
    another campaign within the frequency cap are never messaged, whatever the filters."""

    segments = _choices(Segment.choices, _("RFM segments (any of them)"))
    tiers = _choices(Tier.choices, _("Value tiers (any of them)"))
    churn_min = FiniteFloatField(
        min_value=0, max_value=1, required=False, allow_null=True,
        help_text=_("Churn risk at least (0 to 1)"),
    )  # fmt: skip
    churn_max = FiniteFloatField(
        min_value=0, max_value=1, required=False, allow_null=True,
        help_text=_("Churn risk at most (0 to 1)"),
    )  # fmt: skip
    value_at_stake_min = StrictDecimalField(
        max_digits=12, decimal_places=2, min_value=0, max_value=AMOUNT_MAX, required=False,
        allow_null=True, help_text=_("Value at stake at least"),
    )  # fmt: skip
    birthday_month = serializers.IntegerField(
        min_value=1, max_value=12, required=False, allow_null=True,
        help_text=_("Birthday in this month (1 to 12)"),
    )  # fmt: skip
    sources = _choices(Customer.Source.choices, _("Acquisition sources (any of them)"))
    tags = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=MAX_CHOICES,
        required=False, help_text=_("Tag ids (any of them); another business's tags match nobody"),
    )  # fmt: skip
    last_visit_before = BoundedDateField(
        required=False, allow_null=True, help_text=_("Last purchase before this day")
    )
    last_visit_after = BoundedDateField(
        required=False, allow_null=True, help_text=_("A purchase after this day")
    )
    member_card = StrictBooleanField(
        required=False, allow_null=True,
        help_text=_("true: has a member card; false: has none; null or absent: any"),
    )  # fmt: skip

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name[:40]: [_("Not an audience filter.")] for name in unknown[:5]}
                )
        return super().to_internal_value(data)

    def to_representation(self, instance):
        # Stored already normalised by parse_audience: the filters given, nothing else.
        return dict(instance or {})

    def validate(self, attrs):
        try:
            return parse_audience(dict(attrs)).as_json()
        except AudienceError as exc:
            raise serializers.ValidationError(model_errors(exc)) from exc


class CampaignSerializer(DescribedModelSerializer):
    audience = AudienceSerializer(required=False)
    coupon_template = ScopedPrimaryKeyRelatedField(
        queryset=CouponTemplate.objects.all(), required=False, allow_null=True,
        help_text=_("Id of a coupon template: each recipient gets this coupon on their card"),
    )  # fmt: skip
    cost_per_message = StrictDecimalField(
        max_digits=10, decimal_places=2, min_value=0, max_value=100, required=False,
        help_text=_("Cost per message"),
    )  # fmt: skip
    churn_threshold = FiniteFloatField(
        min_value=0.05, max_value=0.99, required=False,
        help_text=_("Win-back: a customer enters when their churn risk reaches this"),
    )  # fmt: skip
    ends_on = BoundedDateField(
        required=False, allow_null=True, help_text=_("Automatic campaigns: stop adding then")
    )

    class Meta:
        model = Campaign
        fields = (
            "id", "name", "kind", "status", "audience", "message", "offer", "coupon_template",
            "delivery", "control_pct", "window_days", "cost_per_message", "churn_threshold",
            "days_before", "points_threshold", "ends_on", "created_at", "started_at",
            "finished_at",
        )  # fmt: skip
        read_only_fields = ("id", "status", "created_at", "started_at", "finished_at")

    def save(self, **kwargs):
        try:
            self.instance = campaign_save(
                business=kwargs.get("business") or self.instance.business,
                data=dict(self.validated_data),
                instance=self.instance,
                actor=kwargs.get("actor"),
            )
        except CampaignRefused:
            raise  # a ValidationError too, but a 409: the view answers it
        except DjangoValidationError as exc:
            raise serializers.ValidationError(model_errors(exc)) from exc
        return self.instance


class CampaignFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Campaign.Status.choices, label=_("Status"))
    kind = filters.ChoiceFilter(choices=Campaign.Kind.choices, label=_("Kind"))

    class Meta:
        model = Campaign
        fields = ("status", "kind")


class CountInput(serializers.Serializer):
    audience = AudienceSerializer(required=False)
    delivery = serializers.ChoiceField(
        choices=Campaign.Delivery.choices, default=Campaign.Delivery.STAFF,
        help_text=_("How it would be sent (who can be reached)"),
    )  # fmt: skip
    control_pct = serializers.IntegerField(
        min_value=5, max_value=50, default=10, help_text=_("Control group share in %")
    )


class CountOutput(serializers.Serializer):
    matching = serializers.IntegerField(help_text=_("Customers matching the filters"))
    messageable = serializers.IntegerField(
        help_text=_("Of those, who may be messaged: consent, reachable, not messaged recently")
    )
    control = serializers.IntegerField(help_text=_("Expected to be held out (control group)"))
    recipients = serializers.IntegerField(help_text=_("Expected to get the message"))


class StartOutput(serializers.Serializer):
    campaign = CampaignSerializer(read_only=True)
    entered = serializers.IntegerField(help_text=_("Customers who entered now"))


class FinishOutput(serializers.Serializer):
    campaign = CampaignSerializer(read_only=True)
    not_sent = serializers.IntegerField(
        help_text=_("Messages still to send that will now not be sent")
    )


class DifferenceOutput(serializers.Serializer):
    treated_mean = serializers.FloatField(help_text=_("Per customer who got the message"))
    control_mean = serializers.FloatField(help_text=_("Per customer held out"))
    difference = serializers.FloatField(help_text=_("Treated minus held out, per customer"))
    half_width = serializers.FloatField(
        allow_null=True,
        help_text=_(
            "Half-width of the interval (95 %); null with fewer than 10 customers in a group"
        ),
    )
    low = serializers.FloatField(allow_null=True, help_text=_("Interval (95 %), lower end"))
    high = serializers.FloatField(allow_null=True, help_text=_("Interval (95 %), upper end"))
    significant = serializers.BooleanField(help_text=_("The interval excludes 0"))


class TotalOutput(serializers.Serializer):
    value = serializers.FloatField(help_text=_("Difference × customers who got the message"))
    half_width = serializers.FloatField(
        allow_null=True, help_text=_("Half-width of the interval (95 %)")
    )


class ReasonOutput(serializers.Serializer):
    code = serializers.CharField(help_text=_("Stable code, e.g. no_consent, frequency_cap"))
    label = serializers.CharField(help_text=_("In words, in the request's language"))
    count = serializers.IntegerField(help_text=_("Messages not sent for this reason"))


class ResultsOutput(serializers.Serializer):
    campaign = serializers.IntegerField(help_text=_("Id of the campaign"))
    entered = serializers.IntegerField(help_text=_("Customers in the campaign"))
    treated = serializers.IntegerField(help_text=_("Drawn to get the message"))
    control = serializers.IntegerField(help_text=_("Held out at random"))
    sent = serializers.IntegerField(help_text=_("Messages sent"))
    to_send = serializers.IntegerField(help_text=_("Messages still to send"))
    not_sent = serializers.IntegerField(help_text=_("Messages not sent"))
    not_sent_reasons = ReasonOutput(many=True, help_text=_("Why, per reason"))
    window_complete = serializers.BooleanField(help_text=_("The results window is over"))
    came_back = DifferenceOutput(help_text=_("Share who came back (0 to 1)"))
    visits = DifferenceOutput(help_text=_("Visits (purchases) per customer"))
    revenue = DifferenceOutput(help_text=_("Revenue per customer"))
    margin = DifferenceOutput(help_text=_("Margin per customer"))
    extra_visits = TotalOutput(help_text=_("Visits the campaign added"))
    extra_margin = TotalOutput(help_text=_("Margin the campaign added"))
    redemptions = serializers.IntegerField(help_text=_("Campaign coupons redeemed"))
    coupon_cost = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text=_("Discounts of the coupons redeemed")
    )
    message_cost = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text=_("Cost per message × messages sent")
    )
    cost = serializers.DecimalField(max_digits=14, decimal_places=2, help_text=_("Both costs"))
    net = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text=_("Extra margin minus the cost")
    )
    summary = serializers.CharField(help_text=_("The result in plain words"))
    came_back_words = serializers.CharField(
        allow_blank=True, help_text=_("The return shares in plain words (empty: too few yet)")
    )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def _difference(d: Difference) -> dict:
    return {
        "treated_mean": d.treated_mean,
        "control_mean": d.control_mean,
        "difference": d.diff,
        "half_width": _finite(d.half_width),
        "low": _finite(d.low),
        "high": _finite(d.high),
        "significant": d.significant,
    }


def results_data(campaign: Campaign) -> dict:
    r = campaign_results(campaign)
    visits, visits_ci = r.extra_visits
    margin, margin_ci = r.extra_margin
    return {
        "campaign": campaign.pk,
        "entered": r.entered,
        "treated": r.treated,
        "control": r.control,
        "sent": r.sent,
        "to_send": r.to_send,
        "not_sent": r.not_sent,
        "not_sent_reasons": [
            {"code": code, "label": reason_label(code), "count": n}
            for code, n in sorted(r.reasons.items())
        ],
        "window_complete": r.window_complete,
        "came_back": _difference(r.came_back),
        "visits": _difference(r.visits),
        "revenue": _difference(r.revenue),
        "margin": _difference(r.margin),
        "extra_visits": {"value": visits, "half_width": _finite(visits_ci)},
        "extra_margin": {"value": margin, "half_width": _finite(margin_ci)},
        "redemptions": r.redemptions,
        "coupon_cost": r.coupon_cost,
        "message_cost": r.message_cost,
        "cost": r.cost,
        "net": Decimal(str(round(r.net, 2))),
        "summary": r.summary,
        "came_back_words": r.came_back_words,
    }


def _refused(exc: CampaignRefused) -> Response:
    return error_response(status.HTTP_409_CONFLICT, exc.refusal, exc.messages[0])


class CampaignViewSet(
    BusinessScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    # Campaigns of your business, newest first. A campaign is changed only while a draft;
    # start, pause and finish are commands (a read-write key or an owner's session).

    queryset = Campaign.objects.select_related("business")
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    permission_classes = (CampaignPermission,)
    http_method_names = ("get", "post", "patch", "head", "options")
    ordering_fields = ("id",)
    ordering = ("-id",)

    def perform_create(self, serializer):
        user = self.request.user
        serializer.save(business=self.business, actor=user if getattr(user, "pk", None) else None)

    @extend_schema(
        description=_(
            "Change a draft campaign (only the fields sent). A started campaign is fixed: "
            "409 not_draft."
        )
    )
    def partial_update(self, request, *args, **kwargs):
        try:
            return super().partial_update(request, *args, **kwargs)
        except CampaignRefused as exc:
            return _refused(exc)

    @extend_schema(
        request=None,
        responses={200: StartOutput},
        description=_(
            "Start (or resume) the campaign: a one-off enrols its whole audience now, an "
            "automatic one whoever meets its trigger now and then every few minutes. Each "
            "customer is drawn at random into the message or the control group. 409 when "
            "the campaign has finished or a one-off was already sent."
        ),
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        campaign = self.get_object()
        try:
            entered = campaign_start(campaign=campaign)
        except CampaignRefused as exc:
            return _refused(exc)
        campaign.refresh_from_db()
        return Response(StartOutput({"campaign": campaign, "entered": entered}).data)

    @extend_schema(
        request=None,
        responses={200: CampaignSerializer},
        description=_("Pause: nothing is sent until started again. 409 when finished."),
    )
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        campaign = self.get_object()
        try:
            campaign_pause(campaign=campaign)
        except CampaignRefused as exc:
            return _refused(exc)
        campaign.refresh_from_db()
        return Response(self.get_serializer(campaign).data)

    @extend_schema(
        request=None,
        responses={200: FinishOutput},
        description=_(
            "Finish: messages not sent by now are not sent. Repeating it changes nothing."
        ),
    )
    @action(detail=True, methods=["post"])
    def finish(self, request, pk=None):
        campaign = self.get_object()
        not_sent = campaign_finish(campaign=campaign, reason="campaign_finished")
        campaign.refresh_from_db()
        return Response(FinishOutput({"campaign": campaign, "not_sent": not_sent}).data)

    @extend_schema(
        responses={200: ResultsOutput},
        description=_(
            "Who got the message against who was held out, over the campaign's window: share "
            "who came back, visits, revenue and margin per customer, each difference with "
            "its interval (95 %); the incremental totals, the cost and the net, in figures and "
            "in plain words."
        ),
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        campaign = self.get_object()
        return Response(ResultsOutput(results_data(campaign)).data)

    @extend_schema(
        request=CountInput,
        responses={200: CountOutput},
        description=_(
            "The live count for an audience: how many customers match, how many may be "
            "messaged, and how many the control group would hold out. Reads only: read-only "
            "keys may call it."
        ),
    )
    @action(detail=False, methods=["post"], url_path="audience-count")
    def audience_count(self, request):
        if not isinstance(request.data, dict):
            return bad_request(str(_("Send one JSON object.")))
        serializer = CountInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        count = audience_count(
            self.business, parse_audience(data.get("audience") or {}),
            delivery=data["delivery"], control_pct=data["control_pct"],
        )  # fmt: skip
        return Response(
            CountOutput(
                {
                    "matching": count.matching,
                    "messageable": count.messageable,
                    "control": count.control,
                    "recipients": count.recipients,
                }
            ).data
        )


class CampaignMemberSerializer(DescribedModelSerializer):
    class Meta:
        model = CampaignMember
        fields = (
            "id", "campaign", "customer", "occasion", "group", "status", "entered_at", "due_at",
            "segment", "tier", "churn_risk", "sent_at", "channel", "reason", "coupon",
        )  # fmt: skip
        read_only_fields = fields


class CampaignMemberFilter(filters.FilterSet):
    campaign = IdFilter(field_name="campaign_id", label=_("Campaign id"))
    customer = IdFilter(field_name="customer_id", label=_("Customer id"))
    group = filters.ChoiceFilter(choices=CampaignMember.Group.choices, label=_("Group"))
    status = filters.ChoiceFilter(choices=CampaignMember.Status.choices, label=_("Status"))

    class Meta:
        model = CampaignMember
        fields = ("group", "status")


class CampaignMemberViewSet(BusinessScopedAPIMixin, viewsets.ReadOnlyModelViewSet):
    # Every customer in a campaign: their random group (recorded, reproducible) and send.

    queryset = CampaignMember.objects.all()
    serializer_class = CampaignMemberSerializer
    filterset_class = CampaignMemberFilter
    ordering_fields = ("id",)
    ordering = ("-id",)
