#!/usr/bin/env python
"""Benchmark: the weekly owner report of one business of 100k customers / 1M purchases.

    .venv/bin/python bench/report_bench.py [--customers 100000] [--purchases 1000000] [--repeat 3]

Builds the data set of bench/scoring_bench.py (two years of purchases, plus a small second
business), adds feedback, complaints and follow-ups, scores the business once (not timed),
then times, `--repeat` times (median reported, after one warm-up):

- the report: `reports.services.weekly_report_build(..., rebuild=True)` — every figure read,
  computed and stored, plus the score snapshot;
- the floor, in the same run: the same main reads as raw SQL, fetched and nothing else
  (first/last purchase per customer, the 5 weeks of purchases, every score, every
  customer's source).

Target (issue 14): at most 5 s. SQLite by default; DATABASE_URL=postgres://… runs it on
PostgreSQL (its rows are left for the next run's fresh database to replace).
Writes bench/results/report.json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_S = 5.0


def add_feedback_and_work(business, rng: random.Random, n_feedback: int, n_complaints: int):
    from scoring_bench import AS_OF, ZONE

    from customers.models import Customer, FollowUp, Interaction
    from feedback.models import Feedback

    ids = list(Customer.objects.filter(business=business).values_list("pk", flat=True))
    end = datetime.combine(AS_OF, datetime.min.time(), tzinfo=ZONE)

    def when(days: int) -> datetime:
        return end - timedelta(days=rng.uniform(0, days))

    Feedback.objects.bulk_create(
        Feedback(
            business=business, customer_id=rng.choice(ids), nps=rng.randrange(11),
            stars=rng.randrange(1, 6), created_at=when(120),
            reply="谢谢" if rng.random() < 0.5 else "",
        )
        for _ in range(n_feedback)
    )  # fmt: skip
    Interaction.objects.bulk_create(
        Interaction(
            business=business, customer_id=rng.choice(ids), kind="complaint",
            occurred_at=when(365), cost_minutes=rng.randrange(5, 60),
        )
        for _ in range(n_complaints)
    )  # fmt: skip
    FollowUp.objects.bulk_create(
        FollowUp(
            business=business, customer_id=rng.choice(ids),
            due_on=(end - timedelta(days=rng.randrange(0, 60))).date(), task="回访",
            done_at=when(40) if rng.random() < 0.6 else None,
        )
        for _ in range(n_complaints)
    )  # fmt: skip


def floor(connection, business, weeks, end):
    """The same main reads as raw SQL, fetched."""
    start = weeks[-1][0]
    queries = [
        (
            "SELECT customer_id, MIN(occurred_at), MAX(occurred_at) FROM customers_purchase "
            "WHERE business_id = %s AND occurred_at < %s GROUP BY customer_id",
            [business.pk, end],
        ),
        (
            "SELECT customer_id, occurred_at, amount FROM customers_purchase "
            "WHERE business_id = %s AND occurred_at >= %s AND occurred_at < %s",
            [business.pk, start, end],
        ),
        (
            "SELECT customer_id, value_tier, rfm_segment, predicted_clv, margin_so_far, "
            "cost_to_serve, net_value, total_spent, frequency FROM segmentation_customerscore "
            "WHERE business_id = %s ORDER BY customer_id",
            [business.pk],
        ),
        ("SELECT id, source FROM customers_customer WHERE business_id = %s", [business.pk]),
    ]
    rows = 0
    with connection.cursor() as cursor:
        for sql, params in queries:
            cursor.execute(sql, params)
            rows += len(cursor.fetchall())
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--reuse", action="store_true", help="time again on the data of the last SQLite run"
    )
    args = parser.parse_args(argv)

    connection = common.setup_django("report", fresh=not args.reuse)
    from scoring_bench import AS_OF, ZONE, build_dataset

    from accounts.models import Business
    from customers.models import Purchase
    from reports.selectors import report_weeks
    from reports.services import weekly_report_build
    from reports.weeks import monday_of
    from segmentation.services import scoring_run_execute

    vendor = connection.vendor
    build_s = score_s = 0.0
    business = Business.objects.filter(name="基准茶馆").order_by("-pk").first()
    if not (args.reuse and business):
        t0 = time.perf_counter()
        business, _other, _owner, _staff = build_dataset(
            customers=args.customers,
            purchases=args.purchases,
            other_customers=2_000,
            other_purchases=20_000,
            seed=args.seed,
        )
        add_feedback_and_work(business, random.Random(args.seed), 5_000, 3_000)
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        scoring_run_execute(business=business, as_of=AS_OF)
        score_s = time.perf_counter() - t0
    print(f"[{vendor}] data built in {build_s:.1f}s, scored in {score_s:.1f}s", flush=True)

    week = monday_of(AS_OF) - timedelta(days=7)
    now = datetime.combine(AS_OF, datetime.min.time(), tzinfo=ZONE) + timedelta(hours=8)
    weeks = report_weeks(business, week)
    report_samples, floor_samples, report_cpu, floor_cpu = [], [], [], []
    report = None
    for i in range(args.repeat + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        floor_rows = floor(connection, business, weeks, weeks[0][1])
        floor_s, floor_c = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        report = weekly_report_build(business=business, week_start=week, rebuild=True, now=now)
        report_s, report_c = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"[{vendor}] run {i + 1}{' (warm-up)' if i == 0 else ''}: report {report_s:.2f}s · "
            f"floor {floor_s:.2f}s (CPU: report {report_c:.2f}s, floor {floor_c:.2f}s)",
            flush=True,
        )
        if i:
            report_samples.append(report_s)
            floor_samples.append(floor_s)
            report_cpu.append(report_c)
            floor_cpu.append(floor_c)
    report_s = statistics.median(report_samples)
    floor_s = statistics.median(floor_samples)
    data = report.data
    row = {
        "db": vendor,
        "customers": data["customers_scored"],
        "purchases": Purchase.objects.filter(business=business).count(),
        "report_s": round(report_s, 2),
        "floor_s": round(floor_s, 2),
        "x_floor": round(report_s / floor_s, 2) if floor_s else None,
        # CPU time of this process (SQLite runs in it): what the work costs, whatever else
        # shares the cores. On PostgreSQL the server's share is not in it.
        "report_cpu_s": round(statistics.median(report_cpu), 2),
        "floor_cpu_s": round(statistics.median(floor_cpu), 2),
        "target_met": report_s <= TARGET_S,
    }
    common.write_results(
        f"report-{vendor}" if vendor != "sqlite" else "report",
        {
            "target": f"<= {TARGET_S:g} s",
            "rows": [row],
            "week": report.week_label,
            "checks": {
                "floor_rows": floor_rows,
                "sales": data["sales"]["sales"],
                "purchases": data["sales"]["purchases"],
                "customers_scored": data["customers_scored"],
                "sources": len(data["acquisition"]["sources"]),
                "at_stake": len(data["at_stake"]),
                "prune_count": data["prune"]["count"],
                "sum_matches": Decimal(data["sales"]["sales"][0])
                == sum(Decimal(v) for v in data["daily_sales"]),
            },
            "samples_s": {
                "report": report_samples,
                "floor": floor_samples,
                "report_cpu": report_cpu,
                "floor_cpu": floor_cpu,
            },
            "build_s": round(build_s, 1),
            "score_s": round(score_s, 1),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
