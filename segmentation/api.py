"""Scores in the API: customers with their current score nested, scoring runs, rescore."""

from decimal import Decimal
from operator import itemgetter
from types import SimpleNamespace

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from accounts.api import BusinessScopedAPIMixin
from customers.api import (
    CustomerFilter,
    CustomerSerializer,
    CustomerViewSet,
    DescribedModelSerializer,
)
from customers.models import Customer

from .models import Action, CustomerScore, ScoringRun, Segment, Tier
from .tasks import score_business_after_commit
from .wording import churn_phrase, plain_explanation, score_words

CENT = Decimal("0.01")
_VALUES = CustomerScore.VALUE_FIELDS
_MONEY_FIELDS = tuple(
    name for name in _VALUES if isinstance(CustomerScore._meta.get_field(name), models.DecimalField)
)
_DATE_FIELDS = tuple(
    name for name in _VALUES if type(CustomerScore._meta.get_field(name)) is models.DateField
)
_ROW_GETTERS: dict[str, itemgetter] = {}


class CustomerScoreSerializer(DescribedModelSerializer):
    churn_phrase = serializers.SerializerMethodField(
        help_text=_(
            "churn_risk in the owner's words, in the request's language, e.g. "
            "“chance not to come back in 90 days: 82 %”"
        ),
    )
    explanation = serializers.SerializerMethodField(
        help_text=_("One or two plain sentences: why, and what to do"),
    )

    class Meta:
        model = CustomerScore
        # every input and output of the score, then the owner's wording
        fields = (*CustomerScore.VALUE_FIELDS, "churn_phrase", "explanation")
        read_only_fields = fields

    def to_representation(self, instance):
        # Read-only and flat: plain reads render a 50-row page about twice as fast as DRF's
        # per-field machinery, with the same output (money as strings, ISO dates). `instance`
        # is a score, or a list page's row of score values (row_value).
        if type(instance) is SimpleNamespace:
            out = dict(vars(instance))
        else:
            out = {name: getattr(instance, name) for name in _VALUES}
        for name in _MONEY_FIELDS:
            if out[name] is not None:
                out[name] = str(out[name].quantize(CENT))
        for name in _DATE_FIELDS:
            if out[name] is not None:
                out[name] = out[name].isoformat()
        out["churn_phrase"], out["explanation"] = score_words(instance, get_language())
        return out

    def row_columns(self) -> list[str]:
        # A customer list page reads the score's columns with its rows (see row_value).
        return [f"{self.source}__{name}" for name in _VALUES]

    def row_value(self, row):
        getter = _ROW_GETTERS.get(self.source)
        if getter is None:
            getter = _ROW_GETTERS[self.source] = itemgetter(
                *(f"{self.source}__{name}" for name in _VALUES)
            )
        values = dict(zip(_VALUES, getter(row), strict=True))
        # as_of is never empty in a stored score: empty, the customer has none yet (LEFT JOIN)
        return None if values["as_of"] is None else SimpleNamespace(**values)

    @extend_schema_field(OpenApiTypes.STR)
    def get_churn_phrase(self, instance) -> str:
        return churn_phrase(instance)

    @extend_schema_field(OpenApiTypes.STR)
    def get_explanation(self, instance) -> str:
        return plain_explanation(instance, None)


class ScoredCustomerSerializer(CustomerSerializer):
    # One nested serializer for the whole list (a serializer built per row cost ~2 ms each).
    score = CustomerScoreSerializer(
        read_only=True,
        allow_null=True,
        help_text=_("The current customer-value score (read-only; null before the first run)"),
    )

    class Meta(CustomerSerializer.Meta):
        fields = (*CustomerSerializer.Meta.fields, "score")
        read_only_fields = (*CustomerSerializer.Meta.read_only_fields, "score")


class ScoredCustomerFilter(CustomerFilter):
    segment = filters.ChoiceFilter(
        field_name="score__rfm_segment", choices=Segment.choices, label=_("RFM segment")
    )
    tier = filters.ChoiceFilter(
        field_name="score__value_tier", choices=Tier.choices, label=_("Value tier")
    )
    action = filters.ChoiceFilter(
        field_name="score__action", choices=Action.choices, label=_("Recommended action")
    )
    churn_risk_min = filters.NumberFilter(
        field_name="score__churn_risk",
        lookup_expr="gte",
        label=_("Chance not to come back in the churn window, at least (0–1)"),
    )
    churn_risk_max = filters.NumberFilter(
        field_name="score__churn_risk",
        lookup_expr="lte",
        label=_("Chance not to come back in the churn window, at most (0–1)"),
    )

    class Meta(CustomerFilter.Meta):
        pass


class ScoredCustomerViewSet(CustomerViewSet):
    serializer_class = ScoredCustomerSerializer
    filterset_class = ScoredCustomerFilter
    queryset = Customer.objects.select_related("score")


class ScoringRunSerializer(DescribedModelSerializer):
    class Meta:
        model = ScoringRun
        fields = (
            "id",
            "as_of",
            "trigger",
            "status",
            "started_at",
            "finished_at",
            "duration_s",
            "customers_scored",
            "parameters",
            "warnings",
            "backtest",
            "error",
        )
        read_only_fields = fields


class ScoringRunViewSet(BusinessScopedAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Scoring runs of your business (nightly, on demand): when, how long, how many customers,
    fitted parameters and warnings, newest first."""

    queryset = ScoringRun.objects.all()
    serializer_class = ScoringRunSerializer
    ordering_fields = ("id", "started_at")
    ordering = ("-id",)
    filterset_fields = ("status", "trigger")

    @extend_schema(
        request=None,
        responses={202: ScoringRunSerializer},
        description=_(
            "Queue a rescoring of every customer of your business. Answers 202 with the queued "
            "run (follow its `Location` until `status` is succeeded or failed). While a run is "
            "still queued, asking again returns that run instead of queuing another."
        ),
    )
    @action(detail=False, methods=["post"])
    def rescore(self, request):
        run, _created = score_business_after_commit(self.business, ScoringRun.Trigger.MANUAL)
        location = reverse("scoringrun-detail", kwargs={"pk": run.pk}, request=request)
        return Response(
            self.get_serializer(run).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )
