#!/usr/bin/env python
"""Benchmark: the REST API's customer list at 100k customers, page after page.

    .venv/bin/python bench/api_bench.py [--customers 100000] [--pages 10] [--repeat 30]

Builds one business with N customers (as in admin_list.py: tags, statuses, staff) and their
purchases (as in scoring_bench.py), scores them once (not timed), plus a small second
business, and creates a read-write API key. Then, through django.test.Client with
`Authorization: Api-Key …` (full middleware, authentication, filters, cursor pagination and
JSON rendering), follows the cursor `next` link for up to `--pages` pages of:

- the filtered list `GET /api/v1/customers/?status=active&tier=A&page_size=50`,
- the plain list `GET /api/v1/customers/`,
- a phone search `GET /api/v1/customers/?q=138 0013`.

For each page: median and p95 ms over `--repeat` requests after warm-up, the queries of one
request (they must be the same number on every page), and — in the same run — the bare ORM
time for the same page: the same queryset (filters, select_related("score"),
prefetch_related("tags"), order_by("-id"), the cursor's id bound) sliced [:51] and evaluated.

Experiment (skip with --no-experiment): the filtered pages again with
ScoredCustomerSerializer.get_score monkeypatched to reuse one CustomerScoreSerializer
instead of building one (and its 22 fields) per customer, checking the responses are
byte-identical — the change recommended for segmentation/api.py; the app is not touched.

Throttling: the API throttles per key (XW_API_RATE, default 1200/min); this script sets
XW_API_RATE=1000000/min before Django starts so the throttle never answers 429 here (the
throttle's cache bookkeeping still runs on every request and is in the figures). The key's
last-used time is refreshed before each captured request so the once-a-minute
`UPDATE … last_used_at` does not land in one page's query count by chance.

Target (issue 6): median <= 10 ms on SQLite for the filtered list, queries constant across
pages. Writes bench/results/api.json. Exits 0 even if the target is missed (--strict: 1).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_MEDIAN_MS = 10.0
SEARCH_TERM = "138 0013"
API_URL = "/api/v1/customers/"
VARIANTS = {
    "filtered": {"status": "active", "tier": "A", "page_size": "50"},
    "list": {},
    "search": {"q": SEARCH_TERM},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--other-customers", type=int, default=2_000)
    parser.add_argument("--other-purchases", type=int, default=20_000)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--analyze", action="store_true", help="ANALYZE on SQLite too")
    parser.add_argument("--no-profile", action="store_true", help="skip cProfile on a miss")
    parser.add_argument(
        "--no-experiment",
        action="store_true",
        help="skip re-running the filtered pages with the serializer change monkeypatched",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    return parser.parse_args(argv)


def timed(fn, *, repeat: int, warmup: int) -> list[float]:
    """common.measure(), keeping every sample (ms) so pages can be pooled."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def orm_page(business, variant: str, before_id: int | None):
    """The bare ORM for one page: the API's queryset by hand, 51 rows, evaluated."""
    from django.db.models import Q

    from customers.models import Customer
    from customers.phones import phone_search_q

    qs = Customer.objects.filter(business=business)
    if variant == "filtered":
        qs = qs.filter(status="active", score__value_tier="A")
    elif variant == "search":
        phone = phone_search_q(SEARCH_TERM, business.phone_region)
        qs = qs.filter(Q(name__icontains=SEARCH_TERM) | Q(customer_no=SEARCH_TERM) | phone)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    qs = qs.select_related("score").prefetch_related("tags").order_by("-id")[:51]
    return list(qs)


def experiment(client, pages: list[dict], bodies: dict, args) -> dict:
    """The filtered pages again, with ScoredCustomerSerializer.get_score reusing one
    CustomerScoreSerializer instead of building a new one (and its 22 fields) per customer —
    the change recommended for segmentation/api.py, tried by monkeypatching, not in the app."""
    from unittest import mock

    from segmentation import api
    from segmentation.models import CustomerScore

    shared = api.CustomerScoreSerializer()

    def get_score(self, customer):
        try:
            score = customer.score
        except CustomerScore.DoesNotExist:
            return None
        return shared.to_representation(score)

    samples, identical = [], True
    with mock.patch.object(api.ScoredCustomerSerializer, "get_score", get_score):
        for info in pages:
            url = info["url"]
            response = client.get(url)
            identical &= response.content == bodies[("filtered", info["page"])]
            fetch = partial(client.get, url)
            samples += timed(fetch, repeat=args.repeat, warmup=args.warmup)
    return {
        "pages": len(pages),
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(common.percentile(samples, 95), 2),
        "identical_responses": identical,
    }


def profile_requests(fetch, repeat: int = 10, top: int = 30) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        fetch()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(
        r"rest_framework|django_filters|/accounts/|/customers/|/segmentation/|"
        r"django/db/models/(query|sql/compiler)|django/test/client",
        top,
    )
    text = out.getvalue()
    return text[text.find("   ncalls") :] if "   ncalls" in text else text


def main(argv=None) -> int:
    args = parse_args(argv)
    # Before Django reads its settings: the throttle must not answer 429 in a benchmark.
    os.environ["XW_API_RATE"] = "1000000/min"
    connection = common.setup_django("api")

    from django.conf import settings
    from django.test import Client
    from django.utils import timezone
    from scoring_bench import AS_OF, build_dataset

    from accounts.models import BusinessAPIKey
    from accounts.services import api_key_create
    from customers.models import Customer
    from segmentation.models import CustomerScore
    from segmentation.services import scoring_run_execute

    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api"]
    is_sqlite = connection.vendor == "sqlite"
    made = []
    try:
        with common.timer() as build_time:
            business, other, _owner, _staff = build_dataset(
                customers=args.customers,
                purchases=args.purchases,
                other_customers=args.other_customers,
                other_purchases=args.other_purchases,
                seed=args.seed,
            )
            made += [b for b in (business, other) if b is not None]
            with common.timer() as score_time:
                run = scoring_run_execute(business=business, as_of=AS_OF)
            if other is not None:
                scoring_run_execute(business=other, as_of=AS_OF)
            if not is_sqlite or args.analyze:
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
        total = Customer.objects.filter(business=business).count()
        scored = CustomerScore.objects.filter(business=business).count()
        tier_a_active = Customer.objects.filter(
            business=business, status="active", score__value_tier="A"
        ).count()
        print(
            f"built {total} customers ({scored} scored, {tier_a_active} active in tier A; "
            f"scoring run {run.duration_s}s) in {build_time['ms'] / 1000:.1f}s "
            f"on {connection.vendor}; throttle rate {rate}",
            flush=True,
        )

        api_key, key = api_key_create(business=business, name="bench", read_only=False)
        client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Api-Key {key}")

        def touch_key():  # "used within the last minute", as under steady traffic
            BusinessAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())

        rows, details, per_variant, bodies = [], {}, {}, {}
        for variant, params in VARIANTS.items():
            url = f"{API_URL}?{urlencode(params)}" if params else API_URL
            before_id = None
            samples_all, orm_all, query_counts = [], [], []
            details[variant] = []
            for page in range(1, args.pages + 1):

                def fetch(url=url, page=page, variant=variant):
                    response = client.get(url)
                    if response.status_code != 200:
                        raise SystemExit(
                            f"{variant} page {page}: HTTP {response.status_code} "
                            f"{response.content[:300]!r}"
                        )
                    return response

                touch_key()
                response, queries = common.capture_queries(fetch)
                common.replay_selects(queries)
                body = response.json()
                bodies[(variant, page)] = response.content
                ids = [c["id"] for c in body["results"]]
                touch_key()
                page_samples = timed(fetch, repeat=args.repeat, warmup=args.warmup)
                api = common.summarize(page_samples)

                def orm(before_id=before_id, variant=variant):
                    return orm_page(business, variant, before_id)

                orm_rows = orm()
                orm_ids = [c.pk for c in orm_rows[:50]]
                orm_samples = timed(orm, repeat=args.repeat, warmup=args.warmup)
                orm_stats = common.summarize(orm_samples)
                samples_all += page_samples
                orm_all += orm_samples
                query_counts.append(len(queries))
                sql_ms = sum(max(q["ms"], q.get("replay_ms", 0.0)) for q in queries)
                rows.append(
                    {
                        "variant": variant,
                        "page": page,
                        "rows": len(ids),
                        "median_ms": api["median_ms"],
                        "p95_ms": api["p95_ms"],
                        "queries": len(queries),
                        "sql_ms": round(sql_ms, 2),
                        "orm_median_ms": orm_stats["median_ms"],
                        "orm_p95_ms": orm_stats["p95_ms"],
                        "x_orm": round(api["median_ms"] / orm_stats["median_ms"], 1)
                        if orm_stats["median_ms"]
                        else None,
                        "same_rows": ids == orm_ids,
                    }
                )
                details[variant].append(
                    {
                        "page": page,
                        "url": url,
                        "api": api,
                        "orm": orm_stats,
                        "queries": [
                            {
                                "ms": round(q["ms"], 2),
                                "replay_ms": q.get("replay_ms"),
                                "sql": q["sql"][:500],
                            }
                            for q in queries
                        ],
                    }
                )
                print(
                    f"{variant} page {page}: {len(ids)} rows, median {api['median_ms']:.2f} ms, "
                    f"p95 {api['p95_ms']:.2f} ms, {len(queries)} queries; "
                    f"ORM {orm_stats['median_ms']:.2f} ms",
                    flush=True,
                )
                next_url = body.get("next")
                if not next_url or not ids:
                    break
                parts = urlsplit(next_url)  # the cursor link, as a client follows it
                url = f"{parts.path}?{parts.query}"
                before_id = ids[-1]
            per_variant[variant] = {
                "pages": len(query_counts),
                "requests": len(samples_all),
                "median_ms": round(statistics.median(samples_all), 2),
                "p95_ms": round(common.percentile(samples_all, 95), 2),
                "orm_median_ms": round(statistics.median(orm_all), 2),
                "orm_p95_ms": round(common.percentile(orm_all, 95), 2),
                "queries_per_page": query_counts,
                "queries_constant": len(set(query_counts)) == 1,
                "target": statistics.median(samples_all) <= TARGET_MEDIAN_MS
                and len(set(query_counts)) == 1,
            }
            if not per_variant[variant]["target"] and not args.no_profile:
                first = details[variant][0]["url"]
                per_variant[variant]["profile"] = profile_requests(
                    lambda first=first: client.get(first)
                )

        experiments = {}
        if not args.no_experiment:
            from segmentation import api

            label = "get_score with one reused CustomerScoreSerializer"
            if not hasattr(api.ScoredCustomerSerializer, "get_score"):
                experiments[label] = {"skipped": "the app no longer has get_score"}
            else:
                try:
                    experiments[label] = experiment(client, details["filtered"], bodies, args)
                except Exception as exc:  # an experiment never fails the benchmark
                    experiments[label] = {"error": f"{type(exc).__name__}: {exc}"}

        filtered = per_variant["filtered"]
        all_pass = filtered["target"]
        data = {
            "customers": total,
            "scored": scored,
            "active_tier_a": tier_a_active,
            "other_customers": args.other_customers,
            "purchases": args.purchases,
            "pages": args.pages,
            "repeat": args.repeat,
            "warmup": args.warmup,
            "analyzed": not is_sqlite or args.analyze,
            "throttle_rate": rate,
            "build_s": round(build_time["ms"] / 1000, 1),
            "scoring_s": round(score_time["ms"] / 1000, 1),
            "target": f"filtered list median <= {TARGET_MEDIAN_MS:g} ms, queries constant "
            "across pages",
            "target_met": all_pass,
            "filtered_median_ms": filtered["median_ms"],
            "filtered_p95_ms": filtered["p95_ms"],
            "filtered_orm_median_ms": filtered["orm_median_ms"],
            "variants": per_variant,
            "experiments": experiments,
            "rows": rows,
            "details": details,
        }
        common.write_results("api", data)
        for variant, info in per_variant.items():
            print(
                f"{variant}: median {info['median_ms']} ms, p95 "
                f"{info['p95_ms']} ms, ORM {info['orm_median_ms']} ms, queries per page "
                f"{info['queries_per_page']}, target {'met' if info['target'] else 'missed'}"
            )
            print("  queries of page 1:")
            for q in details[variant][0]["queries"]:
                print(f"    {max(q['ms'], q['replay_ms'] or 0):7.2f} ms  {q['sql'][:150]}")
            if "profile" in info:
                print(f"[{variant}] profile (top by cumulative time):")
                print("\n".join(info["profile"].splitlines()[:35]))
        for label, info in experiments.items():
            if "median_ms" not in info:
                print(f"experiment '{label}': {info}")
                continue
            print(
                f"experiment '{label}' (filtered list): median {info['median_ms']} ms, p95 "
                f"{info['p95_ms']} ms (app {filtered['median_ms']} ms), identical responses: "
                f"{info['identical_responses']}"
            )
        print(f"\nTARGET {'MET' if all_pass else 'MISSED'}: {data['target']}")
        return 1 if (args.strict and not all_pass) else 0
    finally:
        if not is_sqlite:  # a shared PostgreSQL database: remove what we created
            from django.contrib.auth.models import User

            from segmentation.models import ScoringRun

            for business in made:
                user_ids = list(business.memberships.values_list("user_id", flat=True))
                CustomerScore.objects.filter(business=business).delete()
                ScoringRun.objects.filter(business=business).delete()
                business.delete()
                User.objects.filter(pk__in=user_ids).delete()


if __name__ == "__main__":
    sys.exit(main())
