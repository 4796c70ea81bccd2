"""Telling "the database is busy, try again" from real errors, for every app."""

from __future__ import annotations

from django.db import OperationalError

# PostgreSQL: lock_not_available, deadlock_detected, serialization_failure.
_RETRYABLE_SQLSTATES = frozenset({"55P03", "40P01", "40001"})


def is_database_busy(exc: BaseException | None) -> bool:
    """SQLite still locked after its busy timeout, or a PostgreSQL lock timeout, deadlock
    or serialization failure: the same request a moment later would succeed."""
    if not isinstance(exc, OperationalError):
        return False
    text = str(exc).lower()
    if "database is locked" in text or "database table is locked" in text:
        return True
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return state in _RETRYABLE_SQLSTATES
