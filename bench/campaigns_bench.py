#!/usr/bin/env python
"""Benchmark: campaigns at 100k customers / 1M purchases (issue 15).

    .venv/bin/python bench/campaigns_bench.py [--customers 100000] [--purchases 1000000]

Builds the scoring benchmark's data set, scores it, gives 60 % of customers marketing
consent, then measures what an owner waits for on the phone:

1. **Live audience count** (`audience_count`) of "valuable customers at risk" (tiers A and B,
   churn risk ≥ 0.6) and of everyone — the count redrawn as filters change. Floor: a bare
   COUNT of the scores table with the same score filters.
2. **Start** of a one-off campaign to that audience (`campaign_start`: audience, messaging
   rules, random groups, one row per customer). Floor: `bulk_create` of the same rows.
3. **Results** (`campaign_results`) over the 90 days after entering, and `what_worked`.
   Floor: one aggregate over the same customers' purchases in the window.

Targets: live count median ≤ 300 ms; start ≤ 5 s; results ≤ 3 s.
Writes bench/results/campaigns.json.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_COUNT_MS = 300.0
TARGET_START_S = 5.0
TARGET_RESULTS_S = 3.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    connection = common.setup_django("campaigns")

    from django.db.models import Count, Sum
    from scoring_bench import AS_OF, build_dataset

    from campaigns.audience import audience_count, parse_audience
    from campaigns.models import Campaign, CampaignMember
    from campaigns.selectors import campaign_results, what_worked
    from campaigns.services import campaign_start
    from customers.models import Customer, Purchase
    from segmentation.models import CustomerScore
    from segmentation.services import scoring_run_execute

    with common.timer() as build_time:
        business, _other, owner, _staff = build_dataset(
            customers=args.customers, purchases=args.purchases, other_customers=2_000,
            other_purchases=20_000, seed=args.seed,
        )  # fmt: skip
        scoring_run_execute(business=business, as_of=AS_OF)
        ids = list(Customer.objects.for_business(business).values_list("pk", flat=True))
        consenting = [pk for pk in ids if pk % 5 in (0, 1, 2)]
        for start in range(0, len(consenting), 20_000):
            Customer.objects.filter(pk__in=consenting[start : start + 20_000]).update(
                marketing_consent=True
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"built in {build_time['ms'] / 1000:.1f}s on {connection.vendor}", flush=True)

    rows = []
    at_risk = {"tiers": ["A", "B"], "churn_min": 0.6}
    for label, raw in (("valuable at risk", at_risk), ("everyone", {})):
        audience = parse_audience(raw)
        app = common.measure(lambda a=audience: audience_count(business, a), repeat=args.repeat)
        scores = CustomerScore.objects.for_business(business)
        if raw:
            scores = scores.filter(value_tier__in=raw["tiers"], churn_risk__gte=raw["churn_min"])
        floor = common.measure(scores.count, repeat=args.repeat)
        counted = audience_count(business, audience)
        rows.append({
            "what": f"live audience count: {label} ({counted.matching} match, "
                    f"{counted.messageable} may be messaged)",
            "median_ms": app["median_ms"], "p95_ms": app["p95_ms"],
            "floor_ms": floor["median_ms"], "target": f"<= {TARGET_COUNT_MS:.0f} ms",
            "met": app["median_ms"] <= TARGET_COUNT_MS,
        })  # fmt: skip

    # Entered 90 days before the end of the history, at noon local: purchases follow.
    entered = datetime.combine(AS_OF - timedelta(days=90), time(12), tzinfo=business.zone)
    c = Campaign.objects.create(
        business=business, name="bench win-back", message="{name}，好久不见！{offer}",
        offer="立减20元", audience=at_risk, seed=42, window_days=90, created_by=owner,
    )  # fmt: skip
    with common.timer() as start_time:
        n = campaign_start(campaign=c, now=entered)
    floor_c = Campaign.objects.create(business=business, name="floor", message="x", seed=1)
    members = list(CampaignMember.objects.filter(campaign=c).values("customer_id", "group"))
    with common.timer() as floor_time:
        CampaignMember.objects.bulk_create(
            [CampaignMember(business=business, campaign=floor_c, customer_id=m["customer_id"],
                            group=m["group"], status="held_out", entered_at=entered,
                            due_at=entered) for m in members],
            batch_size=500,
        )  # fmt: skip
    rows.append({
        "what": f"start a one-off campaign: {n} customers enter",
        "median_ms": start_time["ms"], "p95_ms": None, "floor_ms": floor_time["ms"],
        "target": f"<= {TARGET_START_S:.0f} s", "met": start_time["ms"] <= TARGET_START_S * 1000,
    })  # fmt: skip
    floor_c.delete()

    now = datetime.combine(AS_OF, time(23), tzinfo=business.zone)
    results = common.measure(lambda: campaign_results(c, now), repeat=5, warmup=1)
    customer_ids = [m["customer_id"] for m in members]

    def floor_results():
        return (
            Purchase.objects.for_business(business)
            .filter(customer_id__in=customer_ids, occurred_at__gte=entered, occurred_at__lt=now)
            .aggregate(n=Count("id"), s=Sum("amount"))
        )

    floor = common.measure(floor_results, repeat=5, warmup=1)
    r = campaign_results(c, now)
    rows.append({
        "what": f"results of {r.entered} customers over 90 days "
                f"({r.treated} got it, {r.control} held out)",
        "median_ms": results["median_ms"], "p95_ms": results["p95_ms"],
        "floor_ms": floor["median_ms"], "target": f"<= {TARGET_RESULTS_S:.0f} s",
        "met": results["median_ms"] <= TARGET_RESULTS_S * 1000,
    })  # fmt: skip
    c.status = Campaign.Status.FINISHED
    c.save(update_fields=["status"])
    lessons = common.measure(lambda: what_worked(business, now), repeat=5, warmup=1)
    rows.append({
        "what": "what worked, per segment, over every campaign",
        "median_ms": lessons["median_ms"], "p95_ms": lessons["p95_ms"],
        "floor_ms": floor["median_ms"], "target": f"<= {TARGET_RESULTS_S:.0f} s",
        "met": lessons["median_ms"] <= TARGET_RESULTS_S * 1000,
    })  # fmt: skip
    print(r.summary)
    common.write_results(
        "campaigns",
        {
            "customers": args.customers,
            "purchases": args.purchases,
            "all_targets_met": all(row["met"] for row in rows),
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
