"""Helpers shared by the benchmarks in bench/: Django setup, timing, query counting, results.

Every benchmark is a plain script (`.venv/bin/python bench/<name>.py`), not a test:

    from common import setup_django
    setup_django("admin_list")          # before importing any model
    from common import measure, capture_queries, write_results

Database: a throwaway SQLite file var/bench/<name>.sqlite3, recreated on every run, unless
DATABASE_URL already points at PostgreSQL — then that database is used (migrated first) and
the benchmark is expected to clean up the rows it created.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DB_DIR = BASE_DIR / "var" / "bench"

if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))


def _is_postgres_url(url: str) -> bool:
    return url.split(":", 1)[0].lower() in {"postgres", "postgresql", "pgsql", "postgis"}


def setup_django(name: str, *, fresh: bool = True, settings: str = "crm_project.settings.test"):
    """Point Django at the benchmark database, django.setup(), migrate quietly.

    `settings` defaults to the test settings: DEBUG off (no query log, like production),
    fast password hashing, no real mail. Returns the default connection.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    url = os.environ.get("DATABASE_URL", "")
    if not _is_postgres_url(url):
        DB_DIR.mkdir(parents=True, exist_ok=True)
        path = DB_DIR / f"{name}.sqlite3"
        if fresh:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"

    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    return connection


# --- timing ----------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 30 runs is the 29th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(samples_ms: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples_ms), 2),
        "p95_ms": round(percentile(samples_ms, 95), 2),
        "min_ms": round(min(samples_ms), 2),
        "max_ms": round(max(samples_ms), 2),
        "runs": len(samples_ms),
    }


def measure(fn: Callable[[], Any], *, repeat: int = 30, warmup: int = 3) -> dict[str, float]:
    """Run fn `warmup` times untimed, then `repeat` times timed with perf_counter."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return summarize(samples)


@contextmanager
def timer():
    """with timer() as t: ...; t["ms"] holds the elapsed milliseconds afterwards."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["ms"] = (time.perf_counter() - start) * 1000


# --- queries ---------------------------------------------------------------------------


def capture_queries(fn: Callable[[], Any], using: str = "default") -> tuple[Any, list[dict]]:
    """Run fn once; return (its result, its queries as [{"sql", "time", "ms"}...]).

    Counted with CaptureQueriesContext; "ms" is each query's own perf_counter time
    (CaptureQueriesContext's "time" is rounded to whole milliseconds).
    """
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    connection = connections[using]
    timings: list[float] = []

    def timed(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((time.perf_counter() - start) * 1000)

    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timed):
        result = fn()
    queries = [dict(q) for q in ctx.captured_queries]
    if len(timings) == len(queries):
        for query, ms in zip(queries, timings, strict=True):
            query["ms"] = round(ms, 3)
    else:  # not expected; fall back to the rounded times
        for query in queries:
            query["ms"] = float(query.get("time") or 0) * 1000
    return result, queries


def replay_selects(queries: list[dict], using: str = "default") -> None:
    """Re-run each captured SELECT and fetch all its rows; store the time as "replay_ms".

    On SQLite, execute() returns at the first row and the rest of the scan happens while
    rows are fetched, so "ms" (execute only) can hide a full scan; "replay_ms" does not.
    """
    from django.db import connections

    with connections[using].cursor() as cursor:
        for query in queries:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            start = time.perf_counter()
            cursor.execute(query["sql"])
            cursor.fetchall()
            query["replay_ms"] = round((time.perf_counter() - start) * 1000, 3)


def slowest_queries(queries: list[dict], top: int = 5, width: int = 300) -> list[dict]:
    def cost(q: dict) -> float:
        return max(q["ms"], q.get("replay_ms", 0.0))

    ranked = sorted(queries, key=cost, reverse=True)
    return [{"ms": round(cost(q), 2), "sql": q["sql"][:width]} for q in ranked[:top]]


# --- results ---------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    import django
    from django.db import connection

    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "django": django.get_version(),
        "db_vendor": connection.vendor,
    }
    if hasattr(os, "getloadavg"):  # a busy machine explains a noisy p95
        info["load_avg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    try:
        if connection.vendor == "sqlite":
            import sqlite3

            info["db_version"] = sqlite3.sqlite_version
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT version()")
                info["db_version"] = cursor.fetchone()[0]
    except Exception as exc:
        info["db_version"] = f"unknown ({exc})"
    with suppress(OSError):
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    return info


def format_table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "(no rows)"
    columns = columns or list(dict.fromkeys(key for row in rows for key in row))

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.2f}"
        if isinstance(value, bool):
            return "PASS" if value else "FAIL"
        return "" if value is None else str(value)

    cells = [[cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    line = "  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def write_results(
    name: str,
    data: dict,
    *,
    table_columns: list[str] | None = None,
    machine: dict[str, Any] | None = None,
) -> Path:
    """Write bench/results/<name>.json (data + machine info) and print a readable table.

    `data["rows"]` (a list of flat dicts), when present, is printed as the table; other
    top-level scalar values are printed as `key: value` lines. `machine` replaces
    machine_info() — for a parent process that ran each database in a child process
    (and so has no Django set up itself); pass the children's machine_info() merged.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine or machine_info(), **data}
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")

    machine = payload["machine"]
    print(f"\n== {name} ==")
    print(
        f"python {machine['python']} · django {machine['django']} · "
        f"{machine['db_vendor']} {machine.get('db_version', '')} · "
        f"{machine['cpu_count']} cpu · load {machine.get('load_avg_1_5_15', '?')} · "
        f"{machine['date']}"
    )
    for key, value in data.items():
        if key != "rows" and isinstance(value, str | int | float | bool):
            print(f"{key}: {value}")
    if data.get("rows"):
        print(format_table(data["rows"], table_columns))
    print(f"-> {path.relative_to(BASE_DIR)}")
    return path
