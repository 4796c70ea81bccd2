"""One JSON error shape for the whole API, in the caller's language:

{"error": {"status": 400, "code": "invalid", "message": "…", "fields": {"amount": ["…"]}}}
"""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.api import BodyTooLarge, model_errors


def not_found(request, exception=None):
    """404 for a URL no route matches: the JSON error shape under /api/, HTML elsewhere."""
    if request.path.startswith("/api/"):
        error = {"status": 404, "code": "not_found", "message": _("Not found."), "fields": {}}
        return JsonResponse({"error": error}, status=404)
    return page_not_found(request, exception)


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(model_errors(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    error = {"status": response.status_code, "code": "error", "message": "", "fields": {}}
    if isinstance(exc, exceptions.ValidationError):
        error["code"] = "invalid"
        error["message"] = _("Some fields are not valid.")
        error["fields"] = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        error["code"] = codes if isinstance(codes, str) else "error"
        error["message"] = _first_message(detail)
    response.data = {"error": error}
    return response
