"""REST API for customers and their history (mounted by crm_project/api_router.py)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from operator import attrgetter, itemgetter

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import ISO_8601, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.api import (
    MAX_ID,
    BoundedDateTimeField,
    BoundedIsoDateTimeFilter,
    BusinessScopedAPIMixin,
    IdFilter,
    ScopedPrimaryKeyRelatedField,
    ScopedUserField,
    SharedFormFilterSet,
    StrictBooleanField,
    StrictBooleanFilter,
    StrictCharField,
    StrictEmailField,
    bad_request,
    error_response,
)
from accounts.tenancy import business_for

from .models import Customer, FollowUp, Interaction, Purchase, Tag
from .money import AMOUNT_MAX
from .phones import looks_like_phone, normalize_phone, phone_search_q
from .selectors import TAG_NAMES_ATTR, TagNames
from .services import (
    IngestRejected,
    customer_child_save,
    customer_merge,
    customer_save,
    purchases_ingest,
    tag_save,
)


class DescribedModelSerializer(serializers.ModelSerializer):
    # Read-only choice fields whose model allows "" must say so, or the schema's enum lies.
    """Every field gets a description in the schema: its help text, else its label.
    Timestamps are bounded (see BoundedDateTimeField)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: BoundedDateTimeField,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
        models.BooleanField: StrictBooleanField,
    }

    def get_fields(self):
        fields = super().get_fields()
        model_fields = {f.name: f for f in self.Meta.model._meta.fields}
        for name, field in fields.items():
            model_field = model_fields.get(name)
            if (
                isinstance(field, serializers.ChoiceField)
                and field.read_only
                and getattr(model_field, "blank", False)
            ):
                field.allow_blank = True
        return fields

    def build_field(self, field_name, info, model_class, nested_depth):
        field_class, kwargs = super().build_field(field_name, info, model_class, nested_depth)
        model_field = info.fields.get(field_name)
        if isinstance(model_field, models.TextField) and not kwargs.get("read_only"):
            kwargs["max_length"] = min(
                kwargs.get("max_length") or settings.XW_API_TEXT_MAX, settings.XW_API_TEXT_MAX
            )
        if not kwargs.get("help_text") and "label" in kwargs:
            kwargs["help_text"] = kwargs["label"]
        elif not kwargs.get("help_text"):
            model_field = info.fields.get(field_name) or info.relations.get(field_name)
            verbose = getattr(getattr(model_field, "model_field", model_field), "verbose_name", "")
            kwargs["help_text"] = str(verbose or field_name).capitalize()
        return field_class, kwargs


# --- customers -----------------------------------------------------------------------------


class TagNamesField(serializers.ListField):
    """Tags as a list of names: those a list page read with its rows (TagNames), else read
    from the relation."""

    def get_attribute(self, instance):
        names = getattr(instance, TAG_NAMES_ATTR, None)
        if names is None:
            names = [tag.name for tag in instance.tags.all()]
        return names

    def to_representation(self, data):
        return list(data)

    def row_columns(self) -> list[str]:
        return [TAG_NAMES_ATTR]

    def row_value(self, row: Mapping):
        return row[TAG_NAMES_ATTR]


@dataclass(frozen=True)
class _Plan:
    """How a serializer class renders: every field's value read in one go (C), from a model
    instance or from a list page's row, then only the few that need converting."""

    names: tuple[str, ...]
    from_instance: attrgetter
    from_row: itemgetter | None  # None: a field cannot be read from a row
    columns: list[str] | None  # what a list page reads with .values() (None: no rows)
    special: tuple[tuple[str, str, serializers.Field], ...]


def _build_plan(fields: list[tuple[str, str, serializers.Field]]) -> _Plan:
    attrs, keys, columns, special = [], [], [], []
    for name, kind, field in fields:
        if kind == "field":
            special.append((name, kind, field))
            attrs.append("pk")  # a placeholder: the field reads its own value
            row_columns = getattr(field, "row_columns", None)
            if row_columns is None or not hasattr(field, "row_value"):
                columns = None
            elif columns is not None:
                columns.extend(row_columns())
            keys.append(row_columns()[0] if row_columns else None)
            continue
        attrs.append(f"{name}_id" if kind == "pk" else name)
        keys.append(name)
        if columns is not None:
            columns.append(name)
        if kind in ("date", "datetime"):
            special.append((name, kind, field))
    return _Plan(
        names=tuple(name for name, _kind, _field in fields),
        from_instance=attrgetter(*attrs),
        from_row=None if columns is None else itemgetter(*keys),
        columns=columns,
        special=tuple(special),
    )


_PLANS: dict[type, _Plan] = {}
_LIST_ROWS: dict[type, models.QuerySet | None] = {}


class CustomerSerializer(DescribedModelSerializer):
    tags = TagNamesField(
        child=StrictCharField(max_length=40),
        required=False,
        max_length=settings.XW_API_TAGS_MAX,
        help_text=format_lazy(
            "{} {}",
            _("Tag names; sending the list replaces the customer's tags."),
            _("At most %(max)d.") % {"max": settings.XW_API_TAGS_MAX},
        ),
    )
    assigned_to = ScopedUserField(
        required=False, allow_null=True, help_text=_("Id of the staff member in charge.")
    )

    class Meta:
        model = Customer
        fields = (
            "id",
            "name",
            "phone",
            "customer_no",
            "wechat_id",
            "email",
            "gender",
            "birthday",
            "city",
            "source",
            "tags",
            "assigned_to",
            "status",
            "marketing_consent",
            "marketing_consent_at",
            "notes",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "marketing_consent_at", "created_at", "updated_at")
        # Uniqueness per business is checked by the model (with the business), not here.
        validators: list = []

    def to_representation(self, instance):
        # The list's hot path: one plan per serializer class instead of DRF's per-field
        # machinery for every row (same output: tests/api/test_api_bad_input.py compares them).
        # `instance` is a model instance, or a list page's row read with .values(row_columns())
        zone = self._zone()
        plan = self._plan()
        row = isinstance(instance, Mapping)
        values = (plan.from_row if row else plan.from_instance)(instance)
        out = dict(zip(plan.names, values, strict=True))
        for name, kind, field in plan.special:
            if kind == "field":
                value = field.row_value(instance) if row else field.get_attribute(instance)
                out[name] = None if value is None else field.to_representation(value)
                continue
            value = out[name]
            if value is None:
                continue
            if kind == "date":
                out[name] = value.isoformat()
            elif value.tzinfo is None or zone is None:
                out[name] = field.to_representation(value)
            else:  # DRF's DateTimeField: in the current zone, ISO 8601, UTC as "Z"
                text = value.astimezone(zone).isoformat()
                out[name] = text[:-6] + "Z" if text.endswith("+00:00") else text
        return out

    def row_columns(self) -> list[str] | None:
        """What a list page reads with `.values()` to render from plain rows instead of
        model instances (a quarter of a scored page's time), or None when a field cannot."""
        return self._plan().columns

    def _zone(self):
        # Once per serializer: the list's rows share one child serializer and one request.
        try:
            return self._xw_zone
        except AttributeError:
            self._xw_zone = timezone.get_current_timezone() if settings.USE_TZ else None
            return self._xw_zone

    def _plan(self) -> _Plan:
        # Built once per class: building a ModelSerializer's fields costs more than a page.
        plan = _PLANS.get(type(self))
        if plan is None:
            fields = []
            for name, field in self.fields.items():
                if field.write_only:
                    continue
                if isinstance(field, TagNamesField):
                    kind = "field"
                elif (
                    isinstance(field, serializers.DateTimeField)
                    and field.source == name
                    and getattr(field, "format", api_settings.DATETIME_FORMAT).lower() == ISO_8601
                    and not hasattr(field, "timezone")
                ):
                    kind = "datetime"
                elif isinstance(field, serializers.DateTimeField):
                    kind = "field"
                elif isinstance(field, serializers.DateField) and field.source == name:
                    kind = "date"
                elif isinstance(field, serializers.PrimaryKeyRelatedField) and field.source == name:
                    kind = "pk"
                elif field.source == name and isinstance(
                    field,
                    serializers.CharField | serializers.ChoiceField | serializers.BooleanField
                    | serializers.IntegerField,
                ):  # fmt: skip
                    kind = "plain"
                else:
                    kind = "field"
                fields.append((name, kind, field))
            plan = _PLANS[type(self)] = _build_plan(fields)
        return plan

    def save(self, **kwargs):
        data = {**self.validated_data}
        tags = data.pop("tags", None)
        business = kwargs.get("business") or self.instance.business
        self.instance = customer_save(
            business=business, data=data, tags=tags, instance=self.instance
        )
        return self.instance


class CustomerFilter(SharedFormFilterSet):
    q = filters.CharFilter(
        method="search", label=_("Search by name, customer number or phone (any format)")
    )
    tag = filters.CharFilter(field_name="tags__name", label=_("Tag name"))
    updated_since = BoundedIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label=_("Changed at or after (ISO 8601)")
    )
    assigned_to = IdFilter(field_name="assigned_to_id", label=_("Id of the staff member"))
    # Declared with the model's own choices, so the schema shares one enum with the field.
    status = filters.ChoiceFilter(choices=Customer.Status.choices, label=_("Status"))
    source = filters.ChoiceFilter(choices=Customer.Source.choices, label=_("Source"))

    class Meta:
        model = Customer
        fields = ("status", "source")

    def search(self, queryset, name, value):
        value = value.strip()
        query = Q(name__icontains=value) | Q(customer_no=value)
        if looks_like_phone(value):
            business = business_for(self.request.user)
            query |= phone_search_q(value, business.phone_region if business else "CN")
        return queryset.filter(query)


class MergeSerializer(serializers.Serializer):
    source = ScopedPrimaryKeyRelatedField(
        queryset=Customer.objects.all(), help_text=_("Id of the customer merged away")
    )
    target = ScopedPrimaryKeyRelatedField(
        queryset=Customer.objects.all(), help_text=_("Id of the customer kept")
    )

    def validate(self, attrs):
        if attrs["source"] == attrs["target"]:
            raise serializers.ValidationError(_("A customer cannot be merged with itself."))
        return attrs


class CustomerViewSet(BusinessScopedAPIMixin, viewsets.ModelViewSet):
    """Your business's customers, newest first, each with its current customer-value score.
    Phones are accepted in any format and stored as +86…; phone and customer number are
    unique within the business. Deleting needs an owner's session (API keys never delete)."""

    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ("id", "updated_at", "created_at")
    ordering = ("-id",)

    # A list page reads its tags in its own query (get_queryset), not prefetched.
    queryset = Customer.objects.all()

    def get_queryset(self):
        if self.action != "list":  # elsewhere a write may change the tags after the read
            return super().get_queryset()
        rows = self._list_rows()
        if rows is not None:
            return self.scope(rows.all())
        return super().get_queryset().annotate(**{TAG_NAMES_ATTR: TagNames()})

    def _list_rows(self):
        # A page renders from plain rows (.values() of the serializer's row_columns), not
        # model instances; the rows' queryset is resolved once per class, then cloned and
        # scoped per request (resolving ~45 columns cost about a millisecond a page).
        cls = type(self)
        if cls not in _LIST_ROWS:
            columns = self.get_serializer().row_columns()
            _LIST_ROWS[cls] = (
                None
                if columns is None
                else self.queryset.annotate(**{TAG_NAMES_ATTR: TagNames()}).values(*columns)
            )
        return _LIST_ROWS[cls]

    @extend_schema(
        request=MergeSerializer,
        responses={200: CustomerSerializer},
        description=_(
            "Merge two customers of your business: every purchase, interaction, follow-up, "
            "tag and feedback of `source` moves to `target`; `source` is deleted."
        ),
    )
    @action(detail=False, methods=["post"])
    def merge(self, request):
        serializer = MergeSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        kept = customer_merge(
            source=serializer.validated_data["source"],
            target=serializer.validated_data["target"],
            actor=request.user if request.user.pk else None,
        )
        return Response(self.get_serializer(kept).data)


# --- tags ----------------------------------------------------------------------------------


class TagSerializer(DescribedModelSerializer):
    class Meta:
        model = Tag
        fields = ("id", "name")
        read_only_fields = ("id",)
        validators: list = []

    def save(self, **kwargs):
        self.instance = tag_save(
            business=kwargs.get("business") or self.instance.business,
            name=self.validated_data.get("name"),
            instance=self.instance,
        )
        return self.instance


class TagViewSet(BusinessScopedAPIMixin, viewsets.ModelViewSet):
    """Your business's tags, in name order. Deleting a tag removes it from its customers
    (sessions only: API keys never delete)."""

    queryset = Tag.objects.all()
    serializer_class = TagSerializer
    owner_only_delete = False
    filter_backends = (OrderingFilter,)
    ordering_fields = ("name", "id")
    ordering = ("name",)


# --- history -------------------------------------------------------------------------------


class _ChildSerializer(DescribedModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(
        queryset=Customer.objects.all(), help_text=_("Id of the customer")
    )

    def save(self, **kwargs):
        self.instance = customer_child_save(
            business=kwargs.get("business") or self.instance.business,
            instance=self.instance or self.Meta.model(),
            data=dict(self.validated_data),
        )
        return self.instance


class PurchaseSerializer(_ChildSerializer):
    class Meta:
        model = Purchase
        fields = (
            "id",
            "customer",
            "occurred_at",
            "amount",
            "cost",
            "channel",
            "items",
            "external_id",
            "created_at",
        )
        read_only_fields = ("id", "created_at")
        validators: list = []


class InteractionSerializer(_ChildSerializer):
    staff = ScopedUserField(required=False, allow_null=True, help_text=_("Id of the staff member"))

    class Meta:
        model = Interaction
        fields = (
            "id",
            "customer",
            "kind",
            "occurred_at",
            "staff",
            "summary",
            "outcome",
            "cost_minutes",
            "cost_amount",
        )
        read_only_fields = ("id",)


class FollowUpSerializer(_ChildSerializer):
    assigned_to = ScopedUserField(
        required=False, allow_null=True, help_text=_("Id of the staff member")
    )

    class Meta:
        model = FollowUp
        fields = ("id", "customer", "due_on", "task", "assigned_to", "done_at", "created_at")
        read_only_fields = ("id", "created_at")


class _HistoryFilter(filters.FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("Customer id"))
    occurred_after = BoundedIsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label=_("At or after (ISO 8601)")
    )
    occurred_before = BoundedIsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", label=_("Before (ISO 8601)")
    )


class PurchaseFilter(_HistoryFilter):
    external_id = filters.CharFilter(label=_("External id"))

    class Meta:
        model = Purchase
        fields = ("channel",)


class InteractionFilter(_HistoryFilter):
    class Meta:
        model = Interaction
        fields = ("kind",)


class FollowUpFilter(filters.FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("Customer id"))
    open = StrictBooleanFilter(field_name="done_at", lookup_expr="isnull", label=_("Not done yet"))
    due_before = filters.DateFilter(
        field_name="due_on", lookup_expr="lte", label=_("Due on or before")
    )

    class Meta:
        model = FollowUp
        fields = ()


MONEY_HELP = _("Up to %(max)s, two decimals") % {"max": f"{AMOUNT_MAX:,.2f}"}


class IngestItemSerializer(serializers.Serializer):
    customer = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True,
        help_text=_("The customer's id in this API (a third way to name the customer)"),
    )  # fmt: skip
    customer_no = StrictCharField(
        max_length=40, required=False, allow_blank=True, help_text=_("The customer's number")
    )
    phone = StrictCharField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text=_("The customer's phone, any format"),
    )
    name = StrictCharField(
        max_length=100, required=False, allow_blank=True,
        help_text=_("Name for a customer created with create_customers=true"),
    )  # fmt: skip
    occurred_at = BoundedDateTimeField(help_text=_("When the sale happened (ISO 8601)"))
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, max_value=AMOUNT_MAX,
        help_text=format_lazy("{}: {}", _("Amount paid"), MONEY_HELP),
    )  # fmt: skip
    cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, max_value=AMOUNT_MAX, required=False,
        allow_null=True,
        help_text=_("Cost of the goods; without it the business's default margin is used"),
    )  # fmt: skip
    channel = StrictCharField(
        max_length=40, required=False, allow_blank=True, help_text=_("Sales channel")
    )
    items = StrictCharField(
        required=False, allow_blank=True, max_length=5000, help_text=_("What was sold")
    )
    external_id = StrictCharField(
        max_length=64, help_text=_("The till's own id of the sale: resending it creates nothing")
    )

    def validate_phone(self, value: str) -> str:
        business = self.context["business"]
        try:
            return normalize_phone(value, business.phone_region)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate_external_id(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError(_("This field may not be blank."))
        return value

    def validate(self, attrs):
        if (
            not attrs.get("customer")
            and not (attrs.get("customer_no") or "").strip()
            and not attrs.get("phone")
        ):
            raise serializers.ValidationError(
                {"customer_no": [_("Give customer, customer_no or phone to name the customer.")]}
            )
        return attrs


_FAST_TEXT = {"customer_no": 40, "phone": 40, "name": 100, "channel": 40, "items": 5000,
              "external_id": 64}  # fmt: skip
_FAST_KEYS = {*_FAST_TEXT, "customer", "occurred_at", "amount", "cost"}
_FAST_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
CENT = Decimal("0.01")


def fast_ingest_items(objects: list, region: str) -> list[dict] | None:
    """The ingest's validation for the plain case (the shape a till sends), without DRF's
    per-field machinery: the same validated dicts as IngestItemSerializer, or None as soon
    as anything is unusual or wrong, and then IngestItemSerializer decides and explains.
    (Compared with the serializer in tests/api/test_api_ingest_rules.py.)"""
    out = []
    for data in objects:
        item = _fast_item(data, region)
        if item is None:
            return None
        out.append(item)
    return out


def _fast_item(data, region: str) -> dict | None:
    if not isinstance(data, dict) or not data.keys() <= _FAST_KEYS:
        return None
    item: dict = {}
    for name, limit in _FAST_TEXT.items():
        if name in data:
            value = data[name]
            if not isinstance(value, str) or len(value) > limit or "\x00" in value:
                return None
            if not value.isascii():
                try:
                    value.encode("utf-8")  # lone surrogates: DRF's message
                except UnicodeEncodeError:
                    return None
            item[name] = value.strip()
    if not item.get("external_id"):
        return None
    if "customer" in data:
        value = data["customer"]
        if value is not None and (type(value) is not int or not 0 < value < MAX_ID):
            return None
        item["customer"] = value
    if "phone" in item:
        try:
            item["phone"] = normalize_phone(item["phone"], region)
        except DjangoValidationError:
            return None
    for name in ("amount", "cost"):
        if name not in data:
            if name == "amount":
                return None
            continue
        value = data[name]
        if value is None and name == "cost":
            item[name] = None
            continue
        if not isinstance(value, str) or not _FAST_AMOUNT.fullmatch(value):
            return None
        amount = Decimal(value).quantize(CENT)
        if amount > AMOUNT_MAX:
            return None
        item[name] = amount
    when = data.get("occurred_at")
    if not isinstance(when, str):
        return None
    try:
        parsed = parse_datetime(when.strip())
        if parsed is None or parsed.tzinfo is None:
            return None
        BoundedDateTimeField._check(parsed)
    except (ValueError, serializers.ValidationError):
        return None
    item["occurred_at"] = parsed.astimezone(UTC)
    if not (item.get("customer") or item.get("customer_no") or item.get("phone")):
        return None
    return item


class StoredSaleSerializer(serializers.Serializer):
    customer = serializers.IntegerField(allow_null=True, help_text=_("Id of the customer"))
    occurred_at = serializers.DateTimeField(help_text=_("When the sale happened"))
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, help_text=_("Amount paid"))
    cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text=_("Cost of the goods")
    )
    channel = serializers.CharField(help_text=_("Sales channel"))
    items = serializers.CharField(help_text=_("What was sold"))


class IngestResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("Position of the object in the request"))
    external_id = serializers.CharField(help_text=_("External id of the sale"))
    status = serializers.ChoiceField(
        choices=["created", "exists", "conflict"],
        help_text=_(
            "created; exists (the same sale was sent before: nothing written); conflict (this "
            "external_id belongs to a different sale: nothing written, see stored)"
        ),
    )
    id = serializers.IntegerField(allow_null=True, help_text=_("Id of the purchase"))
    stored = StoredSaleSerializer(
        required=False, help_text=_("Only for a conflict: the sale recorded under this external_id")
    )


class BulkIngestResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text=_("Purchases created by this request"))
    existing = serializers.IntegerField(help_text=_("Purchases that already existed"))
    conflicts = serializers.IntegerField(
        help_text=_("Objects whose external_id belongs to a different sale (nothing written)")
    )
    results = IngestResultSerializer(many=True, help_text=_("One entry per object sent"))


CREATE_CUSTOMERS = OpenApiParameter(
    "create_customers",
    bool,
    description=_("Create customers not found by customer number or phone"),
)


def _render_stored(results: list[dict]) -> list[dict]:
    for row in results:
        if "stored" in row:
            row["stored"] = StoredSaleSerializer(row["stored"]).data
    return results


def _invalid_objects(errors: dict) -> Response:
    return bad_request(
        _("Some objects are not valid (see fields, by index from 0): nothing was written."),
        errors,
    )


class PurchaseViewSet(BusinessScopedAPIMixin, viewsets.ModelViewSet):
    """Sales. POST records one sale (or, with `bulk/`, many) keyed on the till's
    `external_id`, so a resend never counts a sale twice. API keys never delete."""

    queryset = Purchase.objects.all()
    serializer_class = PurchaseSerializer
    filterset_class = PurchaseFilter
    ordering_fields = ("id", "occurred_at")
    ordering = ("-id",)

    def _ingest(self, request, objects: list) -> tuple[list[dict] | None, Response | None]:
        business = self.business
        validated = fast_ingest_items(objects, business.phone_region)
        if validated is None:  # something unusual or wrong: DRF checks it and names the errors
            context = {**self.get_serializer_context(), "business": business}
            serializer = IngestItemSerializer(data=objects, many=True, context=context)
            if not serializer.is_valid():
                errors = serializer.errors
                items = errors.items() if isinstance(errors, dict) else enumerate(errors)
                return None, _invalid_objects({str(i): err for i, err in items if err})
            validated = serializer.validated_data
        create = request.query_params.get("create_customers", "").lower() in ("1", "true", "yes")
        try:
            results = purchases_ingest(business=business, items=validated, create_customers=create)
        except IngestRejected as exc:
            return None, _invalid_objects(exc.errors)
        return _render_stored(results), None

    @extend_schema(
        request=IngestItemSerializer,
        responses={201: PurchaseSerializer, 200: PurchaseSerializer},
        parameters=[CREATE_CUSTOMERS],
        description=_(
            "Record one sale, identified by external_id. Name the customer by `customer` (id), "
            "`customer_no` or `phone`. Sending the same sale again returns the existing "
            "purchase (200) and creates nothing; the same external_id with a different sale "
            "answers 409 with the stored values."
        ),
    )
    def create(self, request, *args, **kwargs):
        if not isinstance(request.data, dict):
            return bad_request(_("Send one JSON object."))
        results, error = self._ingest(request, [request.data])
        if error is not None:
            return error
        row = results[0]
        if row["status"] == "conflict":
            return error_response(
                status.HTTP_409_CONFLICT,
                "conflict",
                _("A different sale was recorded with this external_id: nothing was written."),
                {"external_id": [_("Already used by a different sale.")]},
                stored=row["stored"],
            )
        purchase = self.get_queryset().get(pk=row["id"])
        code = status.HTTP_201_CREATED if row["status"] == "created" else status.HTTP_200_OK
        return Response(self.get_serializer(purchase).data, status=code)

    @extend_schema(
        request=IngestItemSerializer(many=True),
        responses={200: BulkIngestResponseSerializer},
        parameters=[CREATE_CUSTOMERS],
        description=_(
            "Record up to 1,000 sales in one request. An invalid object (or an unknown "
            "customer) writes nothing and is named by its index. Objects whose external_id was "
            "sent before with the same sale are reported as `exists`; with a different sale as "
            "`conflict` (with the stored values); neither is written again."
        ),
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        if not isinstance(request.data, list):
            return bad_request(_("Send a JSON array of purchases."))
        if len(request.data) > settings.XW_API_BULK_MAX:
            return bad_request(
                _("At most %(max)d purchases per request.") % {"max": settings.XW_API_BULK_MAX}
            )
        results, error = self._ingest(request, request.data)
        if error is not None:
            return error
        counts = Counter(r["status"] for r in results)
        return Response(
            {
                "created": counts["created"],
                "existing": counts["exists"],
                "conflicts": counts["conflict"],
                "results": results,
            }
        )


class InteractionViewSet(BusinessScopedAPIMixin, viewsets.ModelViewSet):
    """Calls, visits, messages, service work, complaints and notes with a customer, with an
    optional cost to serve. API keys never delete."""

    queryset = Interaction.objects.select_related("customer")
    serializer_class = InteractionSerializer
    filterset_class = InteractionFilter
    ordering_fields = ("id", "occurred_at")
    ordering = ("-id",)
    owner_only_delete = False


class FollowUpViewSet(BusinessScopedAPIMixin, viewsets.ModelViewSet):
    """Tasks due for a customer ("call back Tuesday"); `open=true` lists the ones not done.
    API keys never delete."""

    queryset = FollowUp.objects.all()
    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilter
    ordering_fields = ("id", "due_on")
    ordering = ("-id",)
    owner_only_delete = False
