#!/usr/bin/env python
"""Benchmark: the REST API over HTTP under gunicorn (issue 9, items 7, 8 and 9).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xw_api_bench \
        .venv/bin/python bench/api_http_bench.py [--label after] [--customers 5000]

Builds two businesses with the same customers (imported from the same CSV file as
bench/import_bench.py writes), starts gunicorn (`--workers 5`, sync) on a free port and:

1. **Bulk ingest**: 1, 4 and 16 client threads, each POSTing batches of 100 purchases to
   `/api/v1/purchases/bulk/` (keep-alive connections); purchases/s over the wall time of
   each round, every status code counted (a 500 is a lost sale). The sales are "today"
   (`--recent-percent`) and a fifth of the customers gave marketing consent, so the
   feedback-request scheduling runs as it does for a real till. Medians of `--rounds`
   rounds, fresh external ids each.
   Beside it, in the same run: the file import (`customers.importing.import_file`) of the
   same purchase rows into the second business, in-process (rows/s).
2. **Customer list vs a trivial endpoint**: p50/p95 of `GET /api/v1/customers/?status=active`
   (a page deep in the list, reached through its cursor) and of `GET /api/v1/tags/`, one
   client, sequentially, after warm-up.

The database (PostgreSQL by default through DATABASE_URL; SQLite otherwise) is recreated.
Throttling is lifted (XW_API_RATE) so it never answers 429 here.
Writes bench/results/api_http_<label>.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

BATCH = 100


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", default="after")
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--batches-per-round", type=int, default=48, help="batches of 100")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--list-customers", type=int, default=100_000)
    parser.add_argument("--list-page", type=int, default=50, help="the page timed")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--recent-percent", type=int, default=100, help="share of today's sales")
    parser.add_argument(
        "--list-only", action="store_true", help="skip the ingest rounds and the file import"
    )
    return parser.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recreate_database() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not common._is_postgres_url(url):
        return "sqlite"
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return "postgresql"


class Server:
    def __init__(self, workers: int):
        self.port = _free_port()
        env = {**os.environ, "XW_API_RATE": "100000000/min", "DJANGO_LOG_LEVEL": "WARNING"}
        self.proc = subprocess.Popen(
            [
                str(common.BASE_DIR / ".venv" / "bin" / "gunicorn"),
                "crm_project.wsgi",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "--timeout",
                "120",
            ],
            cwd=common.BASE_DIR,
            env=env,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _request(conn, method: str, path: str, key: str, body: bytes | None = None):
    headers = {"Authorization": f"Api-Key {key}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def ingest_round(server: Server, key: str, batches: list[bytes], clients: int) -> dict:
    codes: Counter = Counter()
    lock = threading.Lock()
    queue = list(reversed(batches))

    def work():
        conn = server.connection()
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            status, _data = _request(conn, "POST", "/api/v1/purchases/bulk/", key, body)
            with lock:
                codes[status] += 1
        conn.close()

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "codes": dict(codes), "per_s": len(batches) * BATCH / seconds}


def _give_scores(business) -> None:
    """Every list customer has a score (the list nests it, with its wording), varied as a
    real shop's are: stored directly, as a nightly run would leave them."""
    from decimal import Decimal

    from django.utils import timezone

    from customers.models import Customer
    from segmentation.models import Action, CustomerScore, ScoringRun, Segment, Tier

    today = timezone.localdate()
    run = ScoringRun.objects.create(
        business=business,
        as_of=today,
        trigger=ScoringRun.Trigger.COMMAND,
        status=ScoringRun.Status.SUCCEEDED,
        started_at=timezone.now(),
    )
    segments, tiers, actions = list(Segment.values), list(Tier.values), list(Action.values)
    ids = Customer.objects.filter(business=business).values_list("pk", flat=True)
    CustomerScore.objects.bulk_create(
        (
            CustomerScore(
                business=business,
                customer_id=pk,
                run=run,
                as_of=today,
                recency_days=(i * 7) % 400,
                frequency=1 + i % 9,
                monetary=Decimal(60 + i % 140),
                total_spent=Decimal((60 + i % 140) * (1 + i % 9)),
                tenure_days=400 + i % 300,
                margin_so_far=Decimal((i % 500) / 2).quantize(Decimal("0.01")),
                cost_to_serve=Decimal("0.00"),
                satisfaction=None if i % 3 else (i % 5) / 4,
                r_score=1 + i % 5,
                f_score=1 + (i // 5) % 5,
                m_score=1 + (i // 25) % 5,
                rfm_segment=segments[i % len(segments)],
                p_alive=(i % 100) / 100,
                churn_risk=1 - (i % 97) / 97,
                expected_purchases_90d=(i % 30) / 10,
                expected_order_value=Decimal(60 + i % 140),
                predicted_clv=Decimal(i % 2000),
                net_value=Decimal(i % 2500),
                value_tier=tiers[i % len(tiers)],
                loyalty_score=float(i % 100),
                action=actions[i % len(actions)],
                value_at_stake=Decimal(i % 900),
            )
            for i, pk in enumerate(ids.iterator())
        ),
        batch_size=5_000,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    vendor = _recreate_database()
    common.setup_django(f"api_http_{args.label}")
    import import_bench
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Business
    from accounts.services import api_key_create
    from customers.importing import import_file
    from customers.models import Customer, Tag

    import_bench.DATA_DIR.mkdir(parents=True, exist_ok=True)
    shops = {
        slug: Business.objects.create(name=slug, slug=slug) for slug in ("api", "file", "list")
    }
    paths = import_bench.write_files(args.customers, 0)
    for slug in ("api", "file"):
        report = import_file(paths["customers"], business=shops[slug], kind="customers")
        assert report.written, report.file_error or report.errors[:3]
    unique = Customer.objects.filter(business=shops["api"]).count()
    # Some customers agreed to marketing: their same-day sales ask for feedback.
    for slug in ("api", "file"):
        ids = list(Customer.objects.filter(business=shops[slug]).values_list("pk", flat=True)[::5])
        Customer.objects.filter(pk__in=ids).update(marketing_consent=True)
    _obj, key = api_key_create(business=shops["api"], name="bench")

    clients = [] if args.list_only else [int(c) for c in args.clients.split(",")]
    total_rows = args.batches_per_round * BATCH * args.rounds * len(clients)
    rows = [c for _r, c in import_bench.purchase_rows(total_rows, unique, seed=7)]
    now = timezone.now()
    items = []
    for i, (k, when, amount, _ext, channel) in enumerate(rows):
        # A till pushes today's sales: recent enough to ask for feedback.
        when = now - timedelta(minutes=i % 600) if i % 100 < args.recent_percent else when
        items.append(
            {
                "customer_no": f"V{k:06d}",
                "occurred_at": when.isoformat(),
                "amount": str(amount),
                "channel": channel,
                "external_id": f"H{i:08d}",
            }
        )
    # The same rows as a file, for the import of the same sales into the "file" business.
    csv_path = import_bench.DATA_DIR / f"api-http-purchases-{total_rows}.csv"
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        import csv

        writer = csv.writer(fh)
        writer.writerow(["日期", "会员号", "金额", "单号", "渠道"])
        for item in items:
            when = datetime.fromisoformat(item["occurred_at"]).astimezone(import_bench.ZONE)
            writer.writerow(
                [
                    when.strftime("%Y-%m-%d %H:%M:%S"),
                    item["customer_no"],
                    item["amount"],
                    item["external_id"],
                    item["channel"],
                ]
            )

    # The list's business: more customers, each with a score, with a few tags.
    from customers.models import Customer as C

    statuses = ["active", "active", "active", "inactive", "lost"]
    C.objects.bulk_create(
        C(
            business=shops["list"],
            name=f"客{i}",
            phone=f"+86136{i:08d}",
            customer_no=f"L{i:06d}",
            status=statuses[i % 5],
        )
        for i in range(args.list_customers)
    )
    for n in range(10):
        Tag.objects.create(business=shops["list"], name=f"T{n}")
    _give_scores(shops["list"])
    _obj, list_key = api_key_create(business=shops["list"], name="bench")
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    connection.close()

    server = Server(args.workers)
    result: dict = {"label": args.label, "database": vendor, "workers": args.workers, "rows": []}
    try:
        # Warm every worker up (imports, connections) before anything is timed.
        def warm_up():
            conn = server.connection()
            for _ in range(5):
                _request(conn, "GET", "/api/v1/tags/", key)

        warm = [threading.Thread(target=warm_up) for _ in range(args.workers * 2)]
        for t in warm:
            t.start()
        for t in warm:
            t.join()
        offset = 0
        for n in clients:
            rounds = []
            for _r in range(args.rounds):
                chunk = items[offset : offset + args.batches_per_round * BATCH]
                offset += len(chunk)
                batches = [
                    json.dumps(chunk[i : i + BATCH]).encode() for i in range(0, len(chunk), BATCH)
                ]
                rounds.append(ingest_round(server, key, batches, n))
            median = sorted(rounds, key=lambda r: r["per_s"])[len(rounds) // 2]
            codes: Counter = Counter()
            for r in rounds:
                codes.update(r["codes"])
            result["rows"].append(
                {
                    "what": f"bulk ingest, {n} client(s), batches of {BATCH}",
                    "purchases_per_s": round(median["per_s"]),
                    "ms_per_request": round(median["seconds"] * 1000 * n / len(batches), 1),
                    "status_codes": dict(codes),
                }
            )
            print(result["rows"][-1], flush=True)

        if not args.list_only:
            started = time.perf_counter()
            report = import_file(csv_path, business=shops["file"], kind="purchases")
            seconds = time.perf_counter() - started
            assert report.written, report.file_error or report.errors[:3]
            result["rows"].append(
                {
                    "what": f"file import of the same {total_rows} purchase rows (in-process)",
                    "purchases_per_s": round(total_rows / seconds),
                }
            )
            print(result["rows"][-1], flush=True)

        conn = server.connection()
        path = "/api/v1/customers/?status=active&page_size=50"
        for _page in range(args.list_page - 1):  # a page deep in the list, through cursors
            status, body = _request(conn, "GET", path, list_key)
            assert status == 200, (status, body[:300])
            nxt = json.loads(body).get("next")
            if not nxt:
                break
            parts = urlsplit(nxt)
            path = f"{parts.path}?{parts.query}"
        timed = (
            (f"customer list, page {args.list_page} (status=active)", path),
            ("/api/v1/tags/ (trivial)", "/api/v1/tags/"),
        )
        samples: dict[str, list[float]] = {label: [] for label, _url in timed}
        for i in range(args.repeat + 5):
            # Interleaved, so a drift in the machine's load weighs on both alike.
            for label, url in timed:
                t0 = time.perf_counter()
                status, _body = _request(conn, "GET", url, list_key)
                elapsed = (time.perf_counter() - t0) * 1000
                assert status == 200, status
                if i >= 5:
                    samples[label].append(elapsed)
        for label, _url in timed:
            result["rows"].append(
                {
                    "what": label,
                    "p50_ms": round(statistics.median(samples[label]), 2),
                    "p95_ms": round(common.percentile(samples[label], 95), 2),
                }
            )
            print(result["rows"][-1], flush=True)
        conn.close()
    finally:
        server.stop()
    lists = [r["p50_ms"] for r in result["rows"] if "p50_ms" in r]
    result["list_vs_trivial"] = round(lists[0] / lists[1], 2)
    common.write_results(f"api_http_{args.label}", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
