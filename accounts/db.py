"""Database helpers for every app: telling "the database is busy, try again" from real errors,
keeping SQLite's planner statistics, reading PostgreSQL timestamptz values quickly."""

from __future__ import annotations

from functools import cache

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


# Big writes change what the query planner should know; SQLite keeps no statistics of its own
# (PostgreSQL's autovacuum does), so without them a phone-search COUNT at 1M customers took 4 s
# instead of 0.3 s. A bounded sample keeps the refresh short however large the tables grow.
SQLITE_ANALYSIS_LIMIT = 2000


def refresh_planner_statistics(*tables: str) -> None:
    """After a large import or a scoring run: let SQLite's planner see the new table sizes."""
    from django.db import connection

    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        for table in tables:
            # Table names come from our own models' db_table, never from input.
            cursor.execute(f'ANALYZE "{table}"')


# --- PostgreSQL: read timestamptz with psycopg's compiled parser ---------------------------
# Django's psycopg 3 backend reads every timestamptz through a subclass of psycopg's
# pure-Python loader (to set the zone), so psycopg-binary's C parser is never used for them
# (Django ticket #36960, psycopg issue #1273): ~9 µs a value, 1.5 ms of a 50-customer API
# page. This loader keeps Django's behaviour (parse in the connection's zone, then set
# Django's tzinfo) with the compiled parser doing the parsing. Without psycopg-binary, or if
# psycopg's (private) lookup of its compiled loaders goes away, Django's loader stays.


def _compiled_timestamptz_loader():
    try:
        from psycopg import adapters
        from psycopg.types.datetime import TimestamptzLoader

        compiled = adapters._get_optimised(TimestamptzLoader)
    except (ImportError, AttributeError):
        return None
    return None if compiled is TimestamptzLoader else compiled


@cache
def fast_timestamptz_loader(timezone):
    """Django's loader for `timezone`, parsing with psycopg's compiled loader (or None)."""
    compiled = _compiled_timestamptz_loader()
    if compiled is None:
        return None
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class CompiledTzLoader(BaseTzLoader):
        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._parse = compiled(oid, context).load

        def load(self, data):
            return self._parse(data).replace(tzinfo=self.timezone)

    CompiledTzLoader.timezone = timezone
    return CompiledTzLoader


def use_compiled_timestamptz_loader(sender, connection, **kwargs) -> None:
    """connection_created: on PostgreSQL with psycopg 3, swap in fast_timestamptz_loader."""
    if connection.vendor != "postgresql":
        return
    raw = connection.connection
    adapters = getattr(raw, "adapters", None)
    if adapters is None:  # psycopg2
        return
    from psycopg import postgres
    from psycopg.pq import Format

    oid = postgres.types["timestamptz"].oid
    current = adapters.get_loader(oid, Format.TEXT)
    timezone = getattr(current, "timezone", None)
    loader = fast_timestamptz_loader(timezone)
    if loader is not None and current is not loader:
        adapters.register_loader(oid, loader)
