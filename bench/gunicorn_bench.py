#!/usr/bin/env python
"""Requests/s of the API customer list under gunicorn (production settings, PostgreSQL, Redis)
with 1, 4 and 16 concurrent keep-alive clients; floor: /healthz (no database) through the same
server and clients in the same run, i.e. what gunicorn + this client can do at all.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xiaowei_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/2 CACHE_URL=redis://127.0.0.1:6379/3 \
    .venv/bin/python bench/gunicorn_bench.py [--seconds 10] [--workers N]

The database named in DATABASE_URL is dropped and recreated (use a throwaway one). Data: the
demo (300 customers per business, scored); a page is 50 customers of one business with scores.
The API throttle is lifted for the run (XW_API_RATE). Client and server share the machine."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "scripts"))
sys.path.insert(0, str(BASE_DIR / "bench"))

from common import write_results  # noqa: E402
from prodserver import (  # noqa: E402
    Client,
    prepare,
    production_env,
    recreate_database,
    start_gunicorn,
)


def load(port: int, path: str, headers: dict, clients: int, seconds: float) -> dict:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start_at = time.monotonic() + 0.5
    stop_at = start_at + seconds

    def run(i: int) -> None:
        client = Client(port)
        client.get(path, headers)  # connect and warm this worker
        while time.monotonic() < start_at:
            time.sleep(0.01)
        while (t0 := time.perf_counter()) and time.monotonic() < stop_at:
            status = client.get(path, headers).status
            if status == 200:
                latencies[i].append((time.perf_counter() - t0) * 1000)
            else:
                errors[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = sorted(x for lat in latencies for x in lat)
    return {
        "requests_per_s": round(len(flat) / seconds, 1),
        "median_ms": round(statistics.median(flat), 2) if flat else None,
        "p95_ms": round(flat[int(0.95 * (len(flat) - 1))], 2) if flat else None,
        "errors": sum(errors),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=None, help="default: gunicorn.conf.py")
    parser.add_argument("--port", type=int, default=8766)
    args, _ = parser.parse_known_args()
    database_url = os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/xiaowei_bench"
    )
    if not database_url.startswith("postgres"):
        database_url = "postgres://postgres@127.0.0.1:5432/xiaowei_bench"
    env = production_env(
        database_url,
        os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2"),
        os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/3"),
        XW_API_RATE="100000000/min",
        GUNICORN_ACCESS_LOG="",  # no access log: it would be the slowest part
    )
    recreate_database(database_url)
    api_key = prepare(env, customers=300)
    server = start_gunicorn(env, args.port, workers=args.workers)
    rows = []
    try:
        auth = {"Authorization": f"Api-Key {api_key}"}
        probe = Client(args.port).get("/api/v1/customers/", auth)
        if probe.status != 200 or len(probe.json()["results"]) != 50:
            raise SystemExit(f"API list failed: {probe.text[:300]}")
        for clients in (1, 4, 16):
            api = load(args.port, "/api/v1/customers/", auth, clients, args.seconds)
            floor = load(args.port, "/healthz", {}, clients, args.seconds)
            rows.append(
                {
                    "clients": clients,
                    "api_requests_per_s": api["requests_per_s"],
                    "api_median_ms": api["median_ms"],
                    "api_p95_ms": api["p95_ms"],
                    "api_errors": api["errors"],
                    "healthz_requests_per_s": floor["requests_per_s"],
                    "healthz_median_ms": floor["median_ms"],
                }
            )
            print(rows[-1], flush=True)
    finally:
        server.stop()
    workers = args.workers or int(
        os.environ.get("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 9))
    )
    machine = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "django": "see requirements.txt",
        "db_vendor": "postgresql",
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    write_results(
        "gunicorn",
        {
            "server": f"gunicorn, {workers} sync workers, crm_project.settings.production",
            "page": "GET /api/v1/customers/ (50 customers with scores, API key)",
            "seconds_per_point": args.seconds,
            "rows": rows,
        },
        machine=machine,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
