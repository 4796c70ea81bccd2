"""Health endpoints for a process manager or load balancer (docs/deploy.md).

/healthz: the web process answers (no database, no broker): restart it when this fails.
/readyz: the database and the Celery broker answer: send traffic only while this is 200.
Both say only "ok"/"error" per check, never why, so they are safe to expose."""

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def _database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("readyz: database check failed")
        return False


def _broker() -> bool:
    from .celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
        return True
    except Exception:
        logger.exception("readyz: broker check failed")
        return False


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    checks = {"database": _database(), "broker": _broker()}
    ready = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if ready else "error",
            **{name: "ok" if ok else "error" for name, ok in checks.items()},
        },
        status=200 if ready else 503,
    )
