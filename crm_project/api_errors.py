"""One JSON error shape for the whole API, in the caller's language:

{"error": {"status": 400, "code": "invalid", "message": "…", "fields": {"amount": ["…"]}}}

and the server-error handler: a database that is still busy after its wait (SQLite locked
past its busy timeout, a PostgreSQL lock timeout or deadlock) answers 503 with Retry-After
— this JSON shape under /api/, a plain page elsewhere — never 500.
"""

import logging
import sys

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.api import BodyTooLarge, model_errors
from accounts.db import is_database_busy

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


def not_found(request, exception=None):
    """404 for a URL no route matches: the JSON error shape under /api/, HTML elsewhere."""
    if request.path.startswith("/api/"):
        error = {"status": 404, "code": "not_found", "message": _("Not found."), "fields": {}}
        return JsonResponse({"error": error}, status=404)
    return defaults.page_not_found(request, exception)


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


def database_busy_response(request: HttpRequest) -> HttpResponse:
    """503 + Retry-After: the client (a till, a browser) should simply try again shortly."""
    message = _("The database is busy right now. Nothing was changed; please try again.")
    if request.path.startswith("/api/"):
        body = {"error": {"status": 503, "code": "busy", "message": message, "fields": {}}}
        response = JsonResponse(body, status=503)
    else:
        html = render_to_string("503.html", {"message": message}, request=None)
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: Django calls it while handling the uncaught exception."""
    exc = sys.exc_info()[1]
    if is_database_busy(exc):
        logger.warning("database busy: %s %s answered 503 (%s)", request.method, request.path, exc)
        return database_busy_response(request)
    return defaults.server_error(request)
