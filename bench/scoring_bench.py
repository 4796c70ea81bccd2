#!/usr/bin/env python
"""Benchmark: customer-value scoring of one business end to end, beside its floor.

    .venv/bin/python bench/scoring_bench.py [--db sqlite|postgres|both] [--repeat 3]

Builds one business with 100k customers and 1M purchases over two years (regulars,
occasional and one-time buyers, and leads who never bought; some customers stop buying;
30 % of purchases with a cost), plus a small second business, loaded with raw executemany
(SQLite) or COPY (PostgreSQL) — not timed. Then, each of `--repeat` times (median reported):

- end to end: `segmentation.services.scoring_run_execute(business=…, as_of=…)` — read from
  the database, fit, score, write every score in one transaction;
- its pieces: `segmentation.selectors.scoring_inputs` (read) and
  `segmentation.services.score_compute` (read + maths); maths = compute - read,
  write = end to end - compute;
- the floor, in the same run: one raw SELECT (the customer ids UNION ALL the purchases up to
  the cutoff) into per-customer numpy arrays, the same maths
  (`segmentation.maths.score_population` on those arrays), and a raw write of the same
  number of score rows (DELETE + executemany INSERT into the scores table, one transaction;
  on PostgreSQL through a server-side-binding psycopg cursor, which pipelines it).
  Floor = the sum of the three. On PostgreSQL the write is also timed with COPY
  (`x_floor_copy`: the ratio to that stricter floor).

Each database runs in its own process (Django settings are per process): SQLite in a
throwaway file var/bench/scoring.sqlite3, PostgreSQL in a database created and dropped here
(`--pg-url`, default postgres://postgres@127.0.0.1:5432/xiaowei_bench). A PostgreSQL server
that cannot be reached is reported as skipped, not as a failure.

Targets (issue 4): at most 10 s end to end on SQLite, and at most 3x the floor.
Writes bench/results/scoring.json. Exits 0 even if a target is missed (--strict: exit 1).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import numpy as np

TARGET_SQLITE_S = 10.0
TARGET_FLOOR_RATIO = 3.0
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/xiaowei_bench"
AS_OF = date(2025, 6, 30)  # the last day of the two years of history
HISTORY_DAYS = 730
ZONE = ZoneInfo("Asia/Shanghai")  # the businesses' time zone (the model's default)
CHANNELS = ("门店", "门店", "门店", "外卖", "小程序", "团购")
RESULT_PREFIX = "RESULT "
ROW_COLUMNS = (
    "db", "end_to_end_s", "read_s", "maths_s", "write_s", "floor_read_s", "floor_maths_s",
    "floor_write_s", "floor_s", "x_floor", "x_floor_copy", "target_met",
)  # fmt: skip


# --- data ------------------------------------------------------------------------------


def purchase_arrays(
    customer_ids: np.ndarray, n_purchases: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Purchases of one business's customers over HISTORY_DAYS days up to AS_OF.

    Customers are regulars (12 %), occasional (38 %), one-time buyers (35 %) or leads who
    never bought (15 %); each buys from a first day until they stop (some stop early, which
    is what BG/NBD models); the total is exactly `n_purchases`. Returns column arrays, one
    row per purchase, in no particular order.
    """
    n = customer_ids.size
    kind = rng.choice(4, size=n, p=[0.12, 0.38, 0.35, 0.15])  # regular/occasional/once/lead
    regular, occasional, once = kind == 0, kind == 1, kind == 2
    repeaters = regular | occasional
    fixed = int(once.sum()) + 2 * int(repeaters.sum())  # repeaters buy at least twice
    if n_purchases < fixed:  # tiny runs: fewer repeaters
        counts = np.where(once | repeaters, 1, 0)
        extra = max(0, n_purchases - int(counts.sum()))
        pool = np.flatnonzero(counts)
        counts[rng.choice(pool, size=min(extra, pool.size), replace=False)] += 1
    else:
        # Appetite: regulars ~10x occasional buyers, both gamma-spread.
        weight = np.where(regular, rng.gamma(2.0, 10.0, n), rng.gamma(1.5, 1.0, n)) * repeaters
        counts = np.where(once, 1, 0) + 2 * repeaters
        counts += rng.multinomial(n_purchases - fixed, weight / weight.sum())
    total = int(counts.sum())

    # Each buyer's active span: a first day, then buying until they stop.
    start = np.where(
        regular,
        rng.uniform(0, HISTORY_DAYS * 0.8, n),
        rng.uniform(0, HISTORY_DAYS, n),
    )
    life = np.where(regular, rng.exponential(900, n), rng.exponential(300, n))
    stop = np.minimum(HISTORY_DAYS - 1e-6, start + np.maximum(life, 1.0))
    owner = np.repeat(np.arange(n), counts)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    frac = rng.random(total)
    frac[first[counts > 0]] = 0.0  # the first purchase is on the first day
    day = np.floor(start[owner] + frac * (stop[owner] - start[owner]))
    seconds = rng.integers(9 * 3600, 21 * 3600, total)  # opening hours, local time
    first_local = datetime.combine(
        AS_OF - timedelta(days=HISTORY_DAYS - 1), datetime.min.time(), tzinfo=ZONE
    )
    ts = int(first_local.timestamp()) + day.astype(np.int64) * 86400 + seconds

    ticket = rng.lognormal(np.log(60.0), 0.6, n)  # each customer's usual spend
    amount = np.round(ticket[owner] * rng.lognormal(0.0, 0.35, total), 2)
    amount = np.maximum(amount, 1.0)
    has_cost = rng.random(total) < 0.30
    cost = np.where(has_cost, np.round(amount * rng.uniform(0.35, 0.7, total), 2), np.nan)
    return {
        "customer_id": customer_ids[owner],
        "ts": ts,
        "amount": amount,
        "cost": cost,
        "channel": rng.integers(0, len(CHANNELS), total),
        "till": rng.random(total) < 0.6,  # 60 % come from a till with its own sale id
    }


def concat_purchases(*parts: tuple[int, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several businesses' purchases, in time order (as a live till would have written them)."""
    business = np.concatenate([np.full(p["ts"].size, bid) for bid, p in parts])
    merged = {k: np.concatenate([p[k] for _, p in parts]) for k in parts[0][1]}
    merged["business_id"] = business
    order = np.argsort(merged["ts"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def load_purchases(connection, data: dict[str, np.ndarray], batch: int = 100_000) -> int:
    """Insert the purchases with raw executemany (SQLite) or COPY (PostgreSQL)."""
    from django.db import transaction

    from customers.models import Purchase

    table = connection.ops.quote_name(Purchase._meta.db_table)
    columns = (
        "business_id, customer_id, occurred_at, amount, cost, channel, items, external_id, "
        "created_at"
    )
    n = data["ts"].size
    stamps = np.datetime_as_string(data["ts"].astype("datetime64[s]"), unit="s")
    stamps = np.char.replace(stamps, "T", " ")  # Django's SQLite format: 'YYYY-MM-DD HH:MM:SS'
    ext = [f"POS-{i:08d}" if till else "" for i, till in enumerate(data["till"].tolist())]
    channels = [CHANNELS[c] for c in data["channel"].tolist()]
    cost = [None if c != c else c for c in data["cost"].tolist()]  # NaN -> NULL
    with transaction.atomic():
        if connection.vendor == "postgresql":
            raw = connection.connection  # the psycopg connection, inside Django's transaction
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for lo in range(0, n, batch):
                    lines = []
                    for i in range(lo, min(n, lo + batch)):
                        stamp = f"{stamps[i]}+00"
                        c = "\\N" if cost[i] is None else f"{cost[i]:.2f}"
                        lines.append(
                            f"{data['business_id'][i]}\t{data['customer_id'][i]}\t{stamp}\t"
                            f"{data['amount'][i]:.2f}\t{c}\t{channels[i]}\t\t{ext[i]}\t{stamp}\n"
                        )
                    copy.write("".join(lines))
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, '', %s, %s)"
            business = data["business_id"].tolist()
            customer = data["customer_id"].tolist()
            amount = data["amount"].tolist()
            stamp_list = stamps.tolist()
            with connection.cursor() as cursor:
                for lo in range(0, n, batch):
                    hi = min(n, lo + batch)
                    rows = zip(
                        business[lo:hi],
                        customer[lo:hi],
                        stamp_list[lo:hi],
                        amount[lo:hi],
                        cost[lo:hi],
                        channels[lo:hi],
                        ext[lo:hi],
                        stamp_list[lo:hi],
                        strict=True,
                    )
                    cursor.executemany(sql, list(rows))
    return n


def build_dataset(
    *,
    customers: int,
    purchases: int,
    other_customers: int,
    other_purchases: int,
    seed: int,
    batch: int = 5_000,
):
    """Two businesses (customers as in admin_list.py, purchases as above); returns
    (business, other_business_or_None, owner_user, staff_user)."""
    from admin_list import build_business
    from django.db import connection

    from customers.models import Customer

    suffix = time.strftime("%Y%m%d%H%M%S")
    py_rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    business, owner, staff = build_business(
        slug=f"bench-{suffix}",
        name="基准茶馆",
        owner_username=f"bench_owner_{suffix}",
        staff_username=f"bench_staff_{suffix}",
        customers=customers,
        batch=batch,
        rng=py_rng,
    )
    ids = np.fromiter(
        Customer.objects.filter(business=business).order_by("pk").values_list("pk", flat=True),
        dtype=np.int64,
    )
    parts = [(business.pk, purchase_arrays(ids, purchases, np_rng))]
    other = None
    if other_customers:
        other, _, _ = build_business(
            slug=f"bench-other-{suffix}",
            name="别家发艺",
            owner_username=f"bench_other_owner_{suffix}",
            staff_username=f"bench_other_staff_{suffix}",
            customers=other_customers,
            batch=batch,
            rng=py_rng,
        )
        other_ids = np.fromiter(
            Customer.objects.filter(business=other).values_list("pk", flat=True), dtype=np.int64
        )
        parts.append((other.pk, purchase_arrays(other_ids, other_purchases, np_rng)))
    load_purchases(connection, concat_purchases(*parts))
    return business, other, owner, staff


# --- the floor -------------------------------------------------------------------------


def floor_read(connection, business, as_of: date):
    """One SELECT (the business's customer ids UNION ALL its purchases up to the cutoff, read
    by the same index), straight into numpy arrays. A LEFT JOIN from customers was 3x slower
    on SQLite (a purchase index probe per customer)."""
    from customers.models import Customer, Purchase
    from segmentation.selectors import cutoff

    end = cutoff(business, as_of)
    offset = int(end.utcoffset().total_seconds())
    c = connection.ops.quote_name(Customer._meta.db_table)
    p = connection.ops.quote_name(Purchase._meta.db_table)
    # Local time as whole epoch seconds (as the app reads it: exact days, no float drift).
    if connection.vendor == "postgresql":
        secs = f"floor(extract(epoch from occurred_at))::bigint + {offset}"
        amount, cost, null = "amount::float8", "cost::float8", "NULL::float8"
    else:
        secs = f"CAST(strftime('%%s', occurred_at) AS INTEGER) + {offset}"
        amount, cost, null = "amount", "cost", "NULL"
    sql = (
        f"SELECT id, {null}, {null}, {null} FROM {c} WHERE business_id = %s UNION ALL "
        f"SELECT customer_id, {secs}, {amount}, {cost} FROM {p} "
        "WHERE business_id = %s AND occurred_at < %s"
    )
    params = [business.pk, business.pk, connection.ops.adapt_datetimefield_value(end)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        data = np.array(cursor.fetchall(), dtype=np.float64).reshape(-1, 4)  # NULL -> NaN
    ids, inverse = np.unique(data[:, 0].astype(np.int64), return_inverse=True)
    bought = ~np.isnan(data[:, 1])
    amount_arr = data[bought, 2]
    return {
        "customer_ids": ids,
        "customer_idx": inverse[bought],
        "day": np.floor_divide(data[bought, 1], 86400.0),
        "amount": amount_arr,
        "margin": amount_arr - data[bought, 3],  # NaN where no cost
        "as_of_day": float((as_of - date(1970, 1, 1)).days),
    }


def floor_maths(business, arrays: dict):
    from django.conf import settings

    from segmentation import maths

    cfg = settings.XW_SCORING

    def score(keep, as_of_day):
        return maths.score_population(
            arrays["customer_idx"][keep],
            arrays["day"][keep],
            arrays["amount"][keep],
            arrays["margin"][keep],
            n_customers=arrays["customer_ids"].size,
            as_of=as_of_day,
            cost_to_serve=np.zeros(arrays["customer_ids"].size),
            satisfaction=np.full(arrays["customer_ids"].size, np.nan),
            horizon_months=cfg["horizon_months"],
            discount_rate_annual=cfg["discount_rate_annual"],
            default_margin_rate=float(business.default_margin_pct) / 100.0,
            loyalty_weights=cfg["loyalty_weights"],
            min_repeat_customers=cfg["min_repeat_customers"],
            expected_window_days=float(cfg["churn_window_days"]),
            model=cfg["model"],
            seasonal=cfg["seasonality"],
        )

    if cfg["self_check"]:  # the app also re-scores as of one window earlier: same work
        split = arrays["as_of_day"] - cfg["churn_window_days"]
        score(arrays["day"] <= split, split)
    return score(slice(None), arrays["as_of_day"])


SCORE_COLUMNS = (
    "business_id", "customer_id", "run_id", "as_of", "recency_days", "frequency", "monetary",
    "total_spent", "tenure_days", "margin_so_far", "cost_to_serve", "satisfaction", "r_score",
    "f_score", "m_score", "rfm_segment", "p_alive", "churn_risk", "expected_purchases_90d",
    "expected_order_value", "predicted_clv", "net_value", "value_tier", "loyalty_score",
    "action", "value_at_stake",
)  # fmt: skip


def score_tuples(
    connection, business_id, run_id, as_of, ids, result, cost_to_serve=None, satisfaction=None
) -> list[tuple]:
    """One tuple per customer in SCORE_COLUMNS order, straight from the arrays (rounded as
    segmentation.services._score_rows rounds them)."""
    n = ids.size
    a = result.arrays()

    def money(values):
        return np.round(values, 2).tolist()

    def ints(name):
        return a[name].astype(np.int64).tolist()

    def floats(name, digits=6):
        return np.round(a[name], digits).tolist()

    cost = [0.0] * n if cost_to_serve is None else money(cost_to_serve)
    if satisfaction is None or np.isnan(satisfaction).all():
        sat = [None] * n
    else:
        sat = [None if s != s else round(s, 4) for s in satisfaction.tolist()]
    columns = [
        [business_id] * n,
        ids.tolist(),
        [run_id] * n,
        [connection.ops.adapt_datefield_value(as_of)] * n,
        ints("recency_days"),
        ints("frequency"),
        money(a["monetary"]),
        money(a["total_spent"]),
        ints("tenure_days"),
        money(a["margin_so_far"]),
        cost,
        sat,
        ints("r_score"),
        ints("f_score"),
        ints("m_score"),
        a["rfm_segment"].tolist(),
        floats("p_alive"),
        floats("churn_risk"),
        floats("expected_purchases_90d"),
        money(a["expected_order_value"]),
        money(a["predicted_clv"]),
        money(a["net_value"]),
        a["value_tier"].tolist(),
        floats("loyalty_score", 2),
        a["action"].tolist(),
        money(a["value_at_stake"]),
    ]
    return list(zip(*columns, strict=True))


def insert_scores(connection, rows: list[tuple], *, copy: bool = False) -> None:
    """executemany INSERT (COPY with copy=True, PostgreSQL only) of score tuples, in the
    caller's transaction. On PostgreSQL the executemany goes through a server-side-binding
    psycopg cursor, which pipelines it: Django's default client-side-binding cursor sends
    one statement per row (about 3x slower at 100k rows)."""
    from segmentation.models import CustomerScore

    q = connection.ops.quote_name
    table = q(CustomerScore._meta.db_table)
    names = ", ".join(q(c) for c in SCORE_COLUMNS)
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            if copy:
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as out:
                    for row in rows:
                        out.write_row(row)
            else:
                values = ", ".join(["%s"] * len(SCORE_COLUMNS))
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({values})", rows)
        return
    values = ", ".join(["%s"] * len(SCORE_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({values})", rows)


def floor_write(
    connection, business, run_id: int, as_of: date, ids: np.ndarray, result, *, copy=False
) -> int:
    """DELETE the business's scores, then executemany INSERT (COPY with copy=True) one row
    per customer, in one transaction; values straight from the arrays."""
    from django.db import transaction

    from segmentation.models import CustomerScore

    rows = score_tuples(connection, business.pk, run_id, as_of, ids, result)
    table = connection.ops.quote_name(CustomerScore._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE business_id = %s", [business.pk])
        insert_scores(connection, rows, copy=copy)
    return len(rows)


# --- one database ----------------------------------------------------------------------


def _seconds(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def profile_run(fn, top: int = 30) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"/segmentation/|/customers/|django/db/models/(query|base|sql/compiler)", top)
    text = out.getvalue()
    return text[text.find("   ncalls") :] if "   ncalls" in text else text


def placeholder_run(business):
    from django.utils import timezone

    from segmentation.models import ScoringRun

    return ScoringRun.objects.create(
        business=business,
        as_of=AS_OF,
        trigger=ScoringRun.Trigger.COMMAND,
        started_at=timezone.now(),
        status=ScoringRun.Status.FAILED,
        error="scoring_bench: the floor's rows point at this run",
    )


def run_variant(args) -> dict:
    connection = common.setup_django("scoring")
    from django.db import connection as conn
    from django.db import reset_queries

    from customers.models import Customer, Purchase
    from segmentation.models import CustomerScore, ScoringRun
    from segmentation.selectors import scoring_inputs
    from segmentation.services import score_compute, scoring_run_execute

    vendor = connection.vendor
    print(
        f"[{vendor}] building {args.customers} customers / {args.purchases} purchases", flush=True
    )
    build_s, (business, _other, _owner, _staff) = _seconds(
        lambda: build_dataset(
            customers=args.customers,
            purchases=args.purchases,
            other_customers=args.other_customers,
            other_purchases=args.other_purchases,
            seed=args.seed,
        )
    )
    analyzed = vendor != "sqlite" or args.analyze
    if analyzed:
        with conn.cursor() as cursor:
            cursor.execute("ANALYZE")
    n_customers = Customer.objects.filter(business=business).count()
    n_purchases = Purchase.objects.filter(business=business).count()
    print(
        f"[{vendor}] built {n_customers} customers / {n_purchases} purchases "
        f"(+{args.other_customers} / {args.other_purchases} in another business) "
        f"in {build_s:.1f}s",
        flush=True,
    )

    samples: dict[str, list[float]] = {
        k: [] for k in ("end_to_end", "read", "compute", "floor_read", "floor_maths", "floor_write")
    }
    copy_samples: list[float] = []  # PostgreSQL: the floor's write with COPY, for reference
    checks: dict = {}
    for i in range(args.warmup + args.repeat):
        keep = i >= args.warmup
        # The floor first, the app last: the table ends each round with the app's rows.
        last_run = ScoringRun.objects.filter(business=business).order_by("-pk").first()
        run_pk = (last_run or placeholder_run(business)).pk  # score rows need a run
        fr_s, arrays = _seconds(floor_read, conn, business, AS_OF)
        fm_s, floor_result = _seconds(floor_maths, business, arrays)
        ids = arrays["customer_ids"]
        fw_s, written = _seconds(floor_write, conn, business, run_pk, AS_OF, ids, floor_result)
        if vendor == "postgresql":
            fwc_s, _ = _seconds(
                floor_write, conn, business, run_pk, AS_OF, ids, floor_result, copy=True
            )
            if keep:
                copy_samples.append(fwc_s)
        read_s, inputs = _seconds(scoring_inputs, business, AS_OF)
        compute_s, computed = _seconds(score_compute, business=business, as_of=AS_OF)
        e2e_s, run = _seconds(scoring_run_execute, business=business, as_of=AS_OF)
        run.refresh_from_db()
        if run.status != ScoringRun.Status.SUCCEEDED or run.customers_scored != n_customers:
            raise SystemExit(f"scoring run {run.pk}: {run.status} {run.error}")
        reset_queries()
        if keep:
            for key, value in zip(
                samples, (e2e_s, read_s, compute_s, fr_s, fm_s, fw_s), strict=True
            ):
                samples[key].append(value)
        print(
            f"[{vendor}] run {i + 1}{'' if keep else ' (warm-up)'}: floor {fr_s:.2f}+{fm_s:.2f}+"
            f"{fw_s:.2f}s · read {read_s:.2f}s · compute {compute_s:.2f}s · "
            f"end to end {e2e_s:.2f}s",
            flush=True,
        )
        if i == 0:  # the floor works on the same inputs and finds the same model
            app = computed[2]
            checks = {
                "customers_scored": run.customers_scored,
                "floor_rows_written": written,
                "same_customers": bool(np.array_equal(inputs.customer_ids, arrays["customer_ids"])),
                "same_purchases": int(inputs.day.size) == int(arrays["day"].size),
                "bgnbd_fitted": bool(app.bgnbd_fitted),
                "gg_fitted": bool(app.gg_fitted),
                "same_bgnbd_params": bool(
                    np.allclose(app.bgnbd_params.as_tuple(), floor_result.bgnbd_params.as_tuple())
                ),
                "bgnbd_params": [round(x, 4) for x in app.bgnbd_params.as_tuple()],
                "repeat_customers": int(app.n_repeat_customers),
                "customers_with_purchases": int(app.n_with_purchases),
                "value_tiers": {t: int((app.value_tier == t).sum()) for t in ("A", "B", "C")},
                "warnings": app.warnings,
            }
    med = {k: statistics.median(v) for k, v in samples.items()}
    total = med["end_to_end"]
    floor_s = med["floor_read"] + med["floor_maths"] + med["floor_write"]
    ratio = total / floor_s if floor_s else float("nan")
    target_s = TARGET_SQLITE_S if vendor == "sqlite" else None
    passed = ratio <= TARGET_FLOOR_RATIO and (target_s is None or total <= target_s)
    result = {
        "db": vendor,
        "customers": n_customers,
        "purchases": n_purchases,
        "other_customers": args.other_customers,
        "other_purchases": args.other_purchases,
        "as_of": AS_OF.isoformat(),
        "repeat": args.repeat,
        "warmup": args.warmup,
        "analyzed": analyzed,
        "build_s": round(build_s, 1),
        "end_to_end_s": round(total, 2),
        "read_s": round(med["read"], 2),
        "maths_s": round(med["compute"] - med["read"], 2),
        "write_s": round(total - med["compute"], 2),
        "floor_read_s": round(med["floor_read"], 2),
        "floor_maths_s": round(med["floor_maths"], 2),
        "floor_write_s": round(med["floor_write"], 2),
        "floor_s": round(floor_s, 2),
        "x_floor": round(ratio, 2),
        # PostgreSQL: a stricter floor whose write is COPY instead of executemany.
        "floor_write_copy_s": round(statistics.median(copy_samples), 2) if copy_samples else None,
        "x_floor_copy": round(
            total / (floor_s - med["floor_write"] + statistics.median(copy_samples)), 2
        )
        if copy_samples
        else None,
        "target": (
            f"<= {TARGET_SQLITE_S:g} s and <= {TARGET_FLOOR_RATIO:g}x floor"
            if target_s
            else f"<= {TARGET_FLOOR_RATIO:g}x floor"
        ),
        "target_met": passed,
        "samples_s": {k: [round(x, 3) for x in v] for k, v in samples.items()},
        "checks": checks,
        "scores_in_table": CustomerScore.objects.filter(business=business).count(),
        "machine": common.machine_info(),
    }
    if args.profile or (not passed and not args.no_profile):
        print(f"[{vendor}] profiling one more end-to-end run", flush=True)
        result["profile"] = profile_run(lambda: scoring_run_execute(business=business, as_of=AS_OF))
        print("\n".join(result["profile"].splitlines()[:40]), flush=True)
    return result


# --- PostgreSQL database lifecycle -----------------------------------------------------


def _pg_admin_conninfo(url: str) -> tuple[str, str]:
    """(conninfo of the 'postgres' maintenance database, the bench database's name)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"unexpected database name in {url!r}")
    scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, "/postgres", parts.query, "")), name


def pg_recreate(url: str, *, drop_only: bool = False) -> str | None:
    """Drop (and create) the bench database; returns an error text when unreachable."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg missing: {exc}"
    admin, name = _pg_admin_conninfo(url)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not drop_only:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        return f"PostgreSQL not reachable: {str(exc).strip().splitlines()[0]}"
    return None


# --- parent ----------------------------------------------------------------------------


def run_child(db: str, args, argv: list[str]) -> tuple[dict | None, str | None]:
    env = dict(os.environ)
    if db == "postgres":
        error = pg_recreate(args.pg_url)
        if error:
            return None, error
        env["DATABASE_URL"] = args.pg_url
    else:
        env.pop("DATABASE_URL", None)  # common.setup_django: the throwaway SQLite file
    command = [sys.executable, __file__, *argv, "--variant", db]
    result = None
    try:
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(RESULT_PREFIX):
                    result = json.loads(line[len(RESULT_PREFIX) :])
                else:
                    print(line, end="", flush=True)
        if proc.returncode or result is None:
            return None, f"{db} variant failed (exit {proc.returncode})"
        return result, None
    finally:
        if db == "postgres":
            pg_recreate(args.pg_url, drop_only=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--other-customers", type=int, default=2_000)
    parser.add_argument("--other-purchases", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="created and dropped by this script"
    )
    parser.add_argument("--analyze", action="store_true", help="ANALYZE on SQLite too")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra run")
    parser.add_argument("--no-profile", action="store_true", help="no cProfile on a miss")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--variant", choices=("sqlite", "postgres"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.variant:
        print(RESULT_PREFIX + json.dumps(run_variant(args), default=str), flush=True)
        return 0

    child_argv = [a for a in argv if not a.startswith("--db")]
    if "--db" in argv:  # "--db X" as two words
        at = argv.index("--db")
        child_argv = argv[:at] + argv[at + 2 :]
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results, rows, skipped, failed = {}, [], {}, []
    for db in dbs:
        result, error = run_child(db, args, child_argv)
        if result is None:
            skipped[db] = error
            if not (db == "postgres" and "not reachable" in (error or "")):
                failed.append(db)
            print(f"[{db}] {error}", file=sys.stderr, flush=True)
            continue
        results[result["db"]] = result
        rows.append({k: result[k] for k in ROW_COLUMNS})
    if not results:
        print(f"no database variant ran: {skipped}", file=sys.stderr)
        return 1

    machines = [r.pop("machine") for r in results.values()]
    machine = {**machines[0]}
    machine["db_vendor"] = ", ".join(m["db_vendor"] for m in machines)
    machine["db_version"] = " | ".join(str(m.get("db_version")) for m in machines)
    machine["per_db"] = {r: m for r, m in zip(results, machines, strict=True)}
    all_pass = all(r["target_met"] for r in results.values())
    first = next(iter(results.values()))
    data = {
        "customers": first["customers"],
        "purchases": first["purchases"],
        "as_of": first["as_of"],
        "repeat": args.repeat,
        "target": f"SQLite <= {TARGET_SQLITE_S:g} s end to end; every DB <= "
        f"{TARGET_FLOOR_RATIO:g}x the floor (raw read + same maths + raw write)",
        "target_met": all_pass,
        "rows": rows,
        "skipped": skipped,
        "databases": results,
    }
    common.write_results("scoring", data, machine=machine)
    print(f"\nTARGET {'MET' if all_pass else 'MISSED'}: {data['target']}")
    if failed:
        return 1
    return 1 if (args.strict and not all_pass) else 0


if __name__ == "__main__":
    sys.exit(main())
