"""Tenancy for the REST API: API-key authentication, the scoping mixin, role permissions.

Every API view of business-owned data inherits `BusinessScopedAPIMixin`; querysets and
related-field choices go through `accounts.tenancy.scope_queryset`, as in the admin."""

from __future__ import annotations

from datetime import UTC, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from .models import Business, BusinessAPIKey
from .tenancy import business_for, business_members, is_operator, is_owner, scope_queryset


class ApiKeyUser:
    """What `request.user` is for a request signed with an API key: no person, one business."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False
    pk = id = None

    def __init__(self, api_key: BusinessAPIKey):
        self.api_key = api_key
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>`."""

    keyword = "Api-Key"

    def authenticate(self, request):
        header = get_authorization_header(request).decode("latin-1")
        scheme, _sep, key = header.partition(" ")
        if scheme != self.keyword:
            return None
        key = key.strip()
        try:
            api_key = BusinessAPIKey.objects.get_from_key(key)
        except BusinessAPIKey.DoesNotExist:
            api_key = None
        if (
            api_key is None
            or not api_key.is_valid(key)
            or api_key.has_expired
            or not api_key.business.is_active
        ):
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
            BusinessAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


class BusinessPermission(permissions.BasePermission):
    """A member of a business (or its key) may read; writes need a read-write key or a
    member; deleting what only owners may delete in the admin needs an owner."""

    message = _("You do not have permission to do this.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if business_for(user) is None:
            return False
        api_key = getattr(user, "api_key", None)
        if request.method in permissions.SAFE_METHODS:
            return True
        if api_key is not None:
            return not api_key.read_only and request.method != "DELETE"
        if request.method == "DELETE" and getattr(view, "owner_only_delete", True):
            return is_owner(user)
        return True


class BusinessScopedAPIMixin:
    """Scopes a DRF view of business-owned rows: querysets, creation, related choices."""

    permission_classes = (BusinessPermission,)
    owner_only_delete = True
    # Ids the database can hold; anything else is simply not found.
    lookup_value_regex = r"[0-9]{1,18}"

    @property
    def business(self) -> Business | None:
        return business_for(self.request.user)

    def get_queryset(self) -> QuerySet:
        qs = super().get_queryset()
        if is_operator(self.request.user):
            return qs.none()  # the operator never needs to read a business's customers
        return scope_queryset(qs, self.request)

    def perform_create(self, serializer) -> None:
        serializer.save(business=self.business)


MAX_ID = 10**18


class _BoundedPrimaryKeyMixin:
    def to_internal_value(self, data):
        # Out-of-range ids would overflow the database driver: they exist nowhere.
        numeric = isinstance(data, int | str) and str(data).lstrip("-").isdigit()
        if numeric and not 0 < int(data) < MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class ScopedPrimaryKeyRelatedField(_BoundedPrimaryKeyMixin, serializers.PrimaryKeyRelatedField):
    """A foreign key in a payload may only point at the caller's business's rows;
    another business's id is 'does not exist', never 'forbidden'."""

    def get_queryset(self) -> QuerySet:
        qs = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return qs.none()
        return scope_queryset(qs, request)


class ScopedUserField(_BoundedPrimaryKeyMixin, serializers.PrimaryKeyRelatedField):
    """A team member of the caller's business."""

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        business = business_for(request.user) if request else None
        return business_members(business).filter(is_active=True)


class ApiKeyThrottle(SimpleRateThrottle):
    """Per key for integrators, per user for signed-in people.

    A fixed-window counter (one cache increment a request) rather than DRF's list of
    timestamps, which is read and written whole on every request."""

    scope = "api"

    def get_cache_key(self, request, view) -> str | None:
        api_key = getattr(request.user, "api_key", None)
        if api_key is not None:
            ident = f"key:{api_key.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        now = self.timer()
        window = int(now // self.duration)
        key = f"{key}:{window}"
        self.cache.add(key, 0, timeout=self.duration + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, timeout=self.duration + 1)
            count = 1
        self._wait = (window + 1) * self.duration - now
        return count <= self.num_requests

    def wait(self) -> float:
        return getattr(self, "_wait", None)


class BoundedDateTimeField(serializers.DateTimeField):
    """A timestamp between 1900 and 2200, stored in UTC: odd offsets (+20:29) and far
    years are refused with a message instead of failing in the database."""

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        if not 1900 <= parsed.year <= 2200:
            raise serializers.ValidationError(_("Give a date between 1900 and 2200."))
        if parsed.tzinfo is not None:
            offset = parsed.utcoffset()
            if offset is None or abs(offset) > timedelta(hours=14):
                raise serializers.ValidationError(_("The time zone offset is not valid."))
            parsed = parsed.astimezone(UTC)
        return parsed


class BoundedIsoDateTimeFilter(filters.IsoDateTimeFilter):
    """The same bounds for timestamps in query strings."""

    def filter(self, qs, value):
        if value is not None and (
            not 1900 <= value.year <= 2200
            or (value.utcoffset() is not None and abs(value.utcoffset()) > timedelta(hours=14))
        ):
            return qs.none()
        return super().filter(
            qs, value.astimezone(UTC) if value is not None and value.tzinfo else value
        )


class IdFilter(filters.NumberFilter):
    """An id in a query string: bounded, so a huge number finds nothing instead of failing."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


def model_errors(exc) -> dict | list:
    """A Django ValidationError as DRF-style field errors."""
    if hasattr(exc, "message_dict"):
        return {
            ("non_field_errors" if k == "__all__" else k): v for k, v in exc.message_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def bad_request(message: str, fields: dict | None = None) -> Response:
    """A 400 in the API's one error shape (see crm_project/api_errors.py)."""
    error = {"status": 400, "code": "invalid", "message": message, "fields": fields or {}}
    return Response({"error": error}, status=status.HTTP_400_BAD_REQUEST)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`",
        }
