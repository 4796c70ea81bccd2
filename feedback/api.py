"""Feedback in the API: read every entry of the business, triage (status and reply)."""

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from rest_framework import mixins, serializers, viewsets

from accounts.api import (
    BoundedIsoDateTimeFilter,
    BusinessScopedAPIMixin,
    IdFilter,
    WholeNumberFilter,
)
from customers.api import DescribedModelSerializer

from .models import Feedback
from .services import feedback_reply


class FeedbackSerializer(DescribedModelSerializer):
    nps_group = serializers.ChoiceField(
        choices=Feedback.NpsGroup.choices,
        read_only=True,
        help_text=_("promoter (9–10), passive (7–8) or detractor (0–6)"),
    )

    class Meta:
        model = Feedback
        fields = (
            "id",
            "customer",
            "link_kind",
            "nps",
            "nps_group",
            "stars",
            "topic",
            "comment",
            "request",
            "phone",
            "language",
            "status",
            "reply",
            "replied_by",
            "replied_at",
            "created_at",
        )
        # What the customer said is theirs: only the triage fields can be written.
        read_only_fields = tuple(f for f in fields if f not in ("status", "reply"))

    def update(self, instance, validated_data):
        request = self.context["request"]
        return feedback_reply(
            feedback=instance,
            status=validated_data.get("status", instance.status),
            reply=validated_data.get("reply", instance.reply),
            actor=request.user if request.user.pk else None,
        )


class FeedbackFilter(filters.FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("Customer id"))
    nps_group = filters.ChoiceFilter(
        choices=Feedback.NpsGroup.choices, method="by_group", label=_("NPS group")
    )
    stars = WholeNumberFilter(min_value=1, max_value=5, label=_("Stars (1–5)"))
    created_since = BoundedIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("Received at or after (ISO 8601)")
    )

    class Meta:
        model = Feedback
        fields = ("status", "topic", "stars")

    def by_group(self, queryset, name, value):
        bounds = {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)}[value]
        return queryset.filter(nps__gte=bounds[0], nps__lte=bounds[1])


class FeedbackViewSet(
    BusinessScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Feedback your customers left (NPS, stars, topic, comment), newest first. Only the
    triage fields `status` and `reply` can be changed."""

    queryset = Feedback.objects.all()
    serializer_class = FeedbackSerializer
    filterset_class = FeedbackFilter
    ordering_fields = ("id", "created_at", "nps")
    ordering = ("-id",)
