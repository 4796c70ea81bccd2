#!/usr/bin/env python
"""Benchmark: member-card checkout and the nightly reconciliation at 100k members / 2M entries.

    .venv/bin/python bench/membership_bench.py [--members 100000] [--entries 2000000]

Builds one business with N customers, each with a member card and its share of the ledger
(balanced: the cached balances equal the sums, as the services keep them), plus a small second
business. Then, in the same run:

- checkout: `membership.services.checkout` with a stored-value spend of 30.00 and points
  earned (lock, idempotency check, purchase through customers.services.purchases_ingest, three
  entries, cached balances, level check), median/p95 over --repeat calls on random cards;
  floor: the bare SQL of the same rows in one transaction (INSERT operation, INSERT purchase,
  INSERT two entries, UPDATE account) through a raw cursor.
- reconciliation: `membership.services.ledger_reconcile()` over everything, --recon-repeat
  times; floor: the bare GROUP BY of the entries per account alone.

Targets (issue 13): checkout median <= 30 ms, reconciliation <= 10 s. Writes
bench/results/membership.json. Exits 0 even if a target is missed (--strict: 1).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_CHECKOUT_MS = 30.0
TARGET_RECONCILE_S = 10.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--recon-repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--strict", action="store_true")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database of the last run (no rebuild)"
    )
    args, _unknown = parser.parse_known_args(argv)  # run_all passes other scripts' options
    return args


ENTRY_SQL = (
    "INSERT INTO membership_ledgerentry (business_id, account_id, operation_id, kind, "
    "principal, bonus, points, visits, coupons, value, actor_label, idempotency_key, reason, "
    "created_at) VALUES (%s, %s, %s, %s, %s, 0, %s, 0, 0, 0, '', %s, '', %s)"
)


def build(business, members: int, entries: int, rng: random.Random) -> list[int]:
    from django.db import connection, transaction

    from customers.models import Customer
    from membership.models import LedgerOperation, MemberAccount

    per = max(2, entries // members) // 2 * 2  # even: +50 / -30 pairs
    now = common_now()
    batch = 2000
    account_ids: list[int] = []
    for start in range(0, members, batch):
        n = min(batch, members - start)
        with transaction.atomic():
            customers = Customer.objects.bulk_create(
                [
                    Customer(business=business, name=f"会员{start + i}",
                             phone=f"+86139{start + i:08d}", customer_no=f"C{start + i}")
                    for i in range(n)
                ]
            )  # fmt: skip
            accounts = MemberAccount.objects.bulk_create(
                [
                    MemberAccount(
                        business=business, customer=c, card_no=f"{8_000_000_000 + start + i}",
                        principal=Decimal(20 * per // 2), points=5 * per,
                    )
                    for i, c in enumerate(customers)
                ]
            )  # fmt: skip
            ops = LedgerOperation.objects.bulk_create(
                [
                    LedgerOperation(business=business, key=f"seed-{a.pk}", request_hash="-",
                                    command="seed", created_at=now)
                    for a in accounts
                ]
            )  # fmt: skip
            rows = [
                (business.pk, a.pk, op.pk, "top_up" if j % 2 == 0 else "spend",
                 50 if j % 2 == 0 else -30, 5, op.key, now)
                for a, op in zip(accounts, ops, strict=True)
                for j in range(per)
            ]  # fmt: skip
            with connection.cursor() as cursor:
                cursor.executemany(ENTRY_SQL, rows)
            account_ids.extend(a.pk for a in accounts)
        if start and start % 20000 == 0:
            print(f"  {start} members built", flush=True)
    del rng
    return account_ids


def common_now():
    from django.utils import timezone

    return timezone.now()


def bare_sql_checkout(business_id: int, account_id: int, customer_id: int) -> None:
    """The same rows as one checkout, written with raw SQL in one transaction."""
    from django.db import connection, transaction

    key = uuid.uuid4().hex
    now = common_now()
    with transaction.atomic(), connection.cursor() as c:
        c.execute(
            "INSERT INTO membership_ledgeroperation (business_id, key, request_hash, command, "
            "result, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [business_id, key, "h", "checkout", "{}", now],
        )
        c.execute("SELECT id FROM membership_ledgeroperation WHERE business_id=%s AND key=%s",
                  [business_id, key])  # fmt: skip
        op_id = c.fetchone()[0]
        c.execute(
            "INSERT INTO customers_purchase (business_id, customer_id, occurred_at, amount, "
            "channel, items, external_id, created_at) VALUES (%s, %s, %s, %s, '', '', %s, %s)",
            [business_id, customer_id, now, Decimal("30.00"), f"bare-{key}", now],
        )
        c.execute("SELECT id FROM customers_purchase WHERE business_id=%s AND external_id=%s",
                  [business_id, f"bare-{key}"])  # fmt: skip
        purchase_id = c.fetchone()[0]
        for kind, principal, points in (("spend", Decimal("-30.00"), 0),
                                        ("points_earned", Decimal("0"), 30)):  # fmt: skip
            c.execute(
                "INSERT INTO membership_ledgerentry (business_id, account_id, operation_id, "
                "kind, principal, bonus, points, visits, coupons, value, purchase_id, "
                "actor_label, idempotency_key, reason, created_at) VALUES "
                "(%s, %s, %s, %s, %s, 0, %s, 0, 0, 30, %s, '', %s, '', %s)",
                [business_id, account_id, op_id, kind, principal, points, purchase_id, key, now],
            )
        c.execute(
            "UPDATE membership_memberaccount SET principal = principal - 30, "
            "points = points + 30 WHERE id = %s",
            [account_id],
        )


def bare_group_by() -> None:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            "SELECT account_id, SUM(principal), SUM(bonus), SUM(points) "
            "FROM membership_ledgerentry GROUP BY account_id"
        )
        c.fetchall()


def main(argv=None) -> int:
    args = parse_args(argv)
    connection = common.setup_django("membership", fresh=not args.reuse)
    from accounts.models import Business
    from membership.models import LedgerEntry, MemberAccount
    from membership.services import checkout, ledger_reconcile

    rng = random.Random(args.seed)
    existing = Business.objects.filter(slug__startswith="member-bench-").first()
    if args.reuse and existing is not None:
        business = existing
        ids = list(MemberAccount.objects.filter(business=business).values_list("pk", flat=True))
        build_s = 0.0
    else:
        slug = uuid.uuid4().hex[:6]
        business = Business.objects.create(name="会员压测", slug=f"member-bench-{slug}")
        other = Business.objects.create(name="隔壁", slug=f"member-other-{slug}")
        started = time.perf_counter()
        ids = build(business, args.members, args.entries, rng)
        build(other, max(10, args.members // 100), max(200, args.entries // 100), rng)
        build_s = time.perf_counter() - started
        with connection.cursor() as c:
            c.execute("ANALYZE")
    entries = LedgerEntry.objects.count()
    print(f"built {len(ids)} members, {entries} entries in {build_s:.0f} s", flush=True)

    accounts = {
        a.pk: a
        for a in MemberAccount.objects.filter(
            pk__in=rng.sample(ids, min(len(ids), 2000))
        ).select_related("customer__business", "level")
    }
    picks = list(accounts)

    def one_checkout():
        account = accounts[rng.choice(picks)]
        checkout(account=account, amount=Decimal("30.00"), stored_value=Decimal("30.00"),
                 key=uuid.uuid4().hex, items="bench")  # fmt: skip

    def one_bare():
        account = accounts[rng.choice(picks)]
        bare_sql_checkout(business.pk, account.pk, account.customer_id)

    _result, queries = common.capture_queries(one_checkout)
    cpu0 = time.process_time()
    checkout_stats = common.measure(one_checkout, repeat=args.repeat, warmup=5)
    checkout_stats["cpu_ms_per_call"] = round(
        (time.process_time() - cpu0) * 1000 / (args.repeat + 5), 2
    )
    cpu0 = time.process_time()
    bare_stats = common.measure(one_bare, repeat=args.repeat, warmup=5)
    bare_stats["cpu_ms_per_call"] = round(
        (time.process_time() - cpu0) * 1000 / (args.repeat + 5), 2
    )

    recon_samples = []
    differences = None
    for _ in range(args.recon_repeat):
        t0 = time.perf_counter()
        runs = ledger_reconcile()
        recon_samples.append(time.perf_counter() - t0)
        differences = sum(r.difference_count for r in runs)
    bare_recon = common.measure(bare_group_by, repeat=args.recon_repeat, warmup=0)
    recon_s = statistics.median(recon_samples)

    ok_checkout = checkout_stats["median_ms"] <= TARGET_CHECKOUT_MS
    ok_recon = recon_s <= TARGET_RECONCILE_S and differences == 0
    data = {
        "members": len(ids),
        "entries": entries,
        "build_s": round(build_s, 1),
        "checkout_queries": len(queries),
        "reconcile_differences": differences,
        "rows": [
            {
                "case": "checkout (service)",
                **checkout_stats,
                "target_ms": TARGET_CHECKOUT_MS,
                "pass": ok_checkout,
            },
            {"case": "checkout floor (bare SQL)", **bare_stats},
            {
                "case": "reconcile (service)",
                "median_ms": round(recon_s * 1000, 1),
                "runs": len(recon_samples),
                "target_ms": TARGET_RECONCILE_S * 1000,
                "pass": ok_recon,
            },
            {"case": "reconcile floor (bare GROUP BY)", **bare_recon},
        ],
        "slowest_checkout_queries": common.slowest_queries(queries),
    }
    suffix = "" if connection.vendor == "sqlite" else "-postgresql"
    columns = ["case", "median_ms", "p95_ms", "cpu_ms_per_call", "runs", "target_ms", "pass"]
    common.write_results(f"membership{suffix}", data, table_columns=columns)
    if connection.vendor != "sqlite":
        # PostgreSQL: ledger rows are append-only (a trigger refuses deletes), so the bench
        # uses a database of its own, dropped afterwards rather than emptied.
        print("note: PostgreSQL rows stay in the bench database (the ledger is append-only)")
    return 0 if (ok_checkout and ok_recon) or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
