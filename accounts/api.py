"""Tenancy for the REST API: API-key authentication, the scoping mixin, role permissions.

Every API view of business-owned data inherits `BusinessScopedAPIMixin`; querysets and
related-field choices go through `accounts.tenancy.scope_queryset`, as in the admin."""

from __future__ import annotations

import copy
import json
import logging
import time
from datetime import UTC, datetime, timedelta

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.filters import QuerySetRequestMixin
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from .models import Business, BusinessAPIKey
from .tenancy import business_for, business_members, is_operator, is_owner, scope_queryset

logger = logging.getLogger(__name__)


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
        failures = FailedKeyThrottle(request)
        if failures.exceeded():
            raise exceptions.Throttled(wait=failures.wait)
        try:
            api_key = BusinessAPIKey.objects.get_from_key(key) if len(key) <= 200 else None
        except BusinessAPIKey.DoesNotExist:
            api_key = None
        if (
            api_key is None
            or not api_key.is_valid(key)
            or api_key.has_expired
            or not api_key.business.is_active
        ):
            failures.record(prefix=key.partition(".")[0][:12])
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
            BusinessAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


class FailedKeyThrottle:
    """Wrong API keys per client IP: after XW_API_FAILED_KEYS_PER_MIN failures in a minute,
    every key from that IP answers 429 until the minute is over (a right key too, so that
    guessing cannot go on). Counted in the cache (shared through CACHE_URL) and logged."""

    window = 60
    timer = staticmethod(time.time)

    def __init__(self, request):
        self.ip = request.META.get("REMOTE_ADDR") or "?"
        now = self.timer()
        slot = int(now // self.window)
        self.key = f"xw:failed-api-key:{self.ip}:{slot}"
        self.wait = (slot + 1) * self.window - now
        self.limit = settings.XW_API_FAILED_KEYS_PER_MIN

    def exceeded(self) -> bool:
        return (cache.get(self.key) or 0) >= self.limit

    def record(self, *, prefix: str) -> None:
        cache.add(self.key, 0, timeout=self.window + 1)
        try:
            count = cache.incr(self.key)
        except ValueError:  # expired between add and incr
            cache.set(self.key, 1, timeout=self.window + 1)
            count = 1
        logger.warning(
            "Failed API key from %s (prefix %r): %d in this minute%s",
            self.ip,
            prefix,
            count,
            "; throttled" if count >= self.limit else "",
        )


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
    # Scopes a DRF view of business-owned rows: querysets, creation, related choices.
    # (A comment, not a docstring: the schema would show it to integrators.)

    permission_classes = (BusinessPermission,)
    owner_only_delete = True
    # Ids the database can hold; anything else is simply not found.
    lookup_value_regex = r"[0-9]{1,18}"

    @property
    def business(self) -> Business | None:
        return business_for(self.request.user)

    def get_queryset(self) -> QuerySet:
        return self.scope(super().get_queryset())

    def scope(self, qs: QuerySet) -> QuerySet:
        """The request's business's rows of `qs` (nothing for the operator)."""
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


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_OFFSET = timedelta(hours=14)


class BoundedDateTimeField(serializers.DateTimeField):
    """A timestamp from 1970 to 2199, stored in UTC: odd offsets (+20:29, +23:59: real zones
    use whole quarter hours up to ±14:00) and far years are refused with a message instead
    of being stored wrongly or failing in the database."""

    def to_internal_value(self, value):
        # Checked on the text as sent: DRF converts to the server's zone before we see it.
        if isinstance(value, str):
            try:
                sent = parse_datetime(value.strip())
            except ValueError:
                sent = None
            if sent is not None:
                self._check(sent)
        parsed = super().to_internal_value(value)
        self._check(parsed)
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed

    @staticmethod
    def _check(moment: datetime) -> None:
        offset = moment.utcoffset()
        if offset is not None and (abs(offset) > MAX_OFFSET or offset % timedelta(minutes=15)):
            raise serializers.ValidationError(
                _("The time zone offset is not valid: use one between -12:00 and +14:00.")
            )
        utc = moment.astimezone(UTC) if offset is not None else moment.replace(tzinfo=UTC)
        if not EARLIEST <= utc < LATEST:
            raise serializers.ValidationError(_("Give a date between 1970 and 2199."))


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


class _ShallowCopied(dict):
    """Filters whose deep copy is a shallow one: a filter keeps no request state but its
    `model` and `parent`, which the filterset sets on its own copy (the choice lists and
    labels inside need no copy per request). A filter with a `method` is bound to its
    parent through it, so that one is still copied deeply."""

    def __deepcopy__(self, memo):
        return {
            name: copy.deepcopy(f, memo) if getattr(f, "method", None) else copy.copy(f)
            for name, f in self.items()
        }


class _ShallowFields(dict):
    """A shared filter form's fields: Django's Form deep-copies them on every request (each
    ChoiceField its whole list of choices); a filter form is only validated, which changes no
    field, so a shallow copy of each is enough."""

    def __deepcopy__(self, memo):
        return {name: copy.copy(field) for name, field in self.items()}


class SharedFormFilterSet(filters.FilterSet):
    """A filterset whose form class is built once per filterset class, not on every request,
    and whose filters are copied shallowly (both cost a list page about half a millisecond).
    A filterset with a filter whose choices come from a queryset (scoped to the request) keeps
    a form per request."""

    def __init__(self, *args, **kwargs):
        self.base_filters = _ShallowCopied(type(self).base_filters)  # read by __init__ only
        try:
            super().__init__(*args, **kwargs)
        finally:
            del self.base_filters

    def get_form_class(self):
        cls = type(self)
        form_class = cls.__dict__.get("_xw_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            if not any(isinstance(f, QuerySetRequestMixin) for f in self.filters.values()):
                form_class.base_fields = _ShallowFields(form_class.base_fields)
                cls._xw_form_class = form_class
        return form_class


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


def error_response(
    status_code: int, code: str, message: str, fields: dict | None = None, **extra
) -> Response:
    """An error in the API's one shape (see crm_project/api_errors.py)."""
    error = {"status": status_code, "code": code, "message": message, "fields": fields or {}}
    return Response({"error": {**error, **extra}}, status=status_code)


def bad_request(message: str, fields: dict | None = None) -> Response:
    """A 400 in the API's one error shape."""
    return error_response(status.HTTP_400_BAD_REQUEST, "invalid", message, fields)


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


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self):
        limit = settings.XW_API_BODY_MAX
        super().__init__(
            _("The request body is larger than %(limit)d KB.") % {"limit": limit // 1024}
        )


class StrictCharField(serializers.CharField):
    """Text must be sent as a JSON string: a number or a list where text belongs is refused
    (DRF would turn 123 into "123"), and the length is checked as sent, as the schema says."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false, as JSON booleans (not "yes", 1 or "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictNullBooleanFormField(forms.NullBooleanField):
    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError(_("Give true or false."), code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    """`true` or `false` in a query string; anything else is a 400, not ignored."""

    field_class = StrictNullBooleanFormField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput)  # the value as sent, not mapped to None
        super().__init__(*args, **kwargs)


class WholeNumberFilter(filters.NumberFilter):
    """A whole number in a query string (2.5 is a 400, not a filter that finds nothing)."""

    field_class = forms.IntegerField


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class BoundedJSONParser(JSONParser):
    """JSON bodies up to XW_API_BODY_MAX bytes (413 above, before reading it all); nesting too
    deep for the decoder is a 400 like any other malformed JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.XW_API_BODY_MAX
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {}) if request is not None else {}
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise BodyTooLarge()
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise BodyTooLarge()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(data.decode(encoding), parse_constant=_no_constants)
        except RecursionError as exc:
            raise exceptions.ParseError(_("The JSON is nested too deeply.")) from exc
        except ValueError as exc:
            raise exceptions.ParseError(
                _("The body is not valid JSON: %(error)s") % {"error": exc}
            ) from exc


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


class CursorPage(CursorPagination):
    """Cursor pages of `page_size` rows (default 50, at most XW_API_PAGE_SIZE_MAX); a cursor
    that was not given by the API is a 400, whatever it decodes to."""

    page_size = 50
    page_size_query_param = "page_size"
    ordering = "-id"
    invalid_cursor_message = _("The cursor is not valid: follow the next or previous link.")

    @property
    def max_page_size(self) -> int:
        return settings.XW_API_PAGE_SIZE_MAX

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {
                    "page_size": [
                        _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size}
                    ]
                }
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
                parameter["description"] = str(
                    _("Rows per page: %(default)d by default, at most %(max)d.")
                    % {"default": self.page_size, "max": self.max_page_size}
                )
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = str(
                    _("Opaque position from the `next` or `previous` link of the last page.")
                )
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]}) from exc
        if cursor is None or cursor.position is None:
            return cursor
        name = self.ordering[0].lstrip("-")
        try:
            field = self._model._meta.get_field(name)
            value = field.to_python(cursor.position)
            if "\x00" in cursor.position or len(cursor.position) > 200:
                raise ValueError
            if isinstance(value, int) and not -MAX_ID < value < MAX_ID:
                raise ValueError
            if isinstance(value, datetime) and not 1 < value.year < 9999:
                raise ValueError
        except (DjangoValidationError, FieldDoesNotExist, ValueError, OverflowError) as exc:
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]}) from exc
        return cursor
