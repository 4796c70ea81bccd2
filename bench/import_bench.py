#!/usr/bin/env python
"""Benchmark: importing 100k customer rows and 1M purchase rows through the import pipeline.

    .venv/bin/python bench/import_bench.py [--customers 100000] [--purchases 1000000]

Generates CSV files under var/bench/ (customers with Chinese headers and mixed phone formats,
about 5% of rows repeating an earlier customer's phone, to be merged; purchases with ¥ amounts,
dates with times, 90% with an order number), then measures, each variant in its own process
on a fresh SQLite database (var/bench/import.sqlite3):

- the pipeline (`customers.importing.import_file`: decode, map headers, parse and validate,
  de-duplicate, match, bulk write, in one transaction), plus a dry run and a second import of
  the same file (everything unchanged / skipped);
- raw `Model.objects.bulk_create` of the same rows already parsed (the default library path);
- raw `sqlite3` `executemany` of the same rows (the floor).

Rows/s is file rows per second for the pipeline and inserted rows per second for the
references; customer variants run three times and the median run is kept. The machine is
shared, so rows per CPU-second (process time, independent of the others' load) and the
1-minute load average are recorded too. Memory: resident memory sampled every 20 ms during
the timed part (peak), beside the resident memory when it started (Django, the connection,
customers loaded for the purchase variants and, for the references, the parsed rows) and
their difference (growth).
Target (issue 3): at least 25,000 customer rows/s through the pipeline on SQLite.
Writes bench/results/import.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TARGET_ROWS_PER_S = 25_000
DATA_DIR = common.DB_DIR
DB_NAME = "import"
ZONE = ZoneInfo("Asia/Shanghai")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
CITIES = ["杭州", "上海", "苏州", "南京", "宁波", "", ""]
CHANNELS = ["门店", "外卖", "小程序", "团购"]


def _phone(k: int) -> str:
    return f"13{k:09d}"


def _phone_as_typed(digits: str, style: int) -> str:
    a, b, c = digits[:3], digits[3:7], digits[7:]
    return (digits, f"{a} {b} {c}", f"+86 {a}-{b}-{c}", f"0086 {digits}", f"{a}-{b}-{c}")[style % 5]


def customer_rows(n: int, seed: int = 1):
    """(file row, canonical customer or None for a repeat) for n file rows."""
    rng = random.Random(seed)
    uniques: list[tuple] = []
    for i in range(n):
        if i > 100 and rng.random() < 0.05:
            c = uniques[rng.randrange(len(uniques))]  # the same person again, phone retyped
            row = [c[0], _phone_as_typed(c[1][3:], i), "", "", "", "", ""]
            yield row, None
            continue
        k = len(uniques)
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        phone = _phone(k)
        no = f"V{k:06d}"
        city = rng.choice(CITIES)
        birthday = date(1960, 1, 1) + timedelta(days=rng.randrange(16000)) if k % 3 else None
        tags = "VIP" if k % 10 == 0 else ""
        canonical = (name, "+86" + phone, no, city, birthday, tags)
        uniques.append(canonical)
        typed_birthday = (
            "" if birthday is None else birthday.strftime(("%Y-%m-%d", "%Y/%m/%d")[k % 2])
        )
        row = [name, _phone_as_typed(phone, k), no, city, typed_birthday, tags, "会员"]
        yield row, canonical


def purchase_rows(n: int, customers: int, seed: int = 2):
    """(file row, canonical (customer index, when, amount, external id, channel))."""
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, 9, 0, tzinfo=ZONE)
    for i in range(n):
        k = rng.randrange(customers)
        when = start + timedelta(seconds=rng.randrange(900 * 86400))
        cents = rng.randrange(500, 50000)
        amount = Decimal(cents).scaleb(-2)
        ext = f"R{i:08d}" if i % 10 else ""
        channel = CHANNELS[i % 4]
        typed_amount = (f"¥{amount}", str(amount), f"{amount:,}")[i % 3]
        by_no = i % 10 < 7
        row = [
            when.strftime("%Y-%m-%d %H:%M:%S"),
            f"V{k:06d}" if by_no else "",
            "" if by_no else _phone_as_typed(_phone(k), i),
            typed_amount,
            ext,
            channel,
        ]
        yield row, (k, when, amount, ext, channel)


def write_files(customers: int, purchases: int) -> dict[str, Path]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    paths = {
        "customers": DATA_DIR / f"import-customers-{customers}.csv",
        "purchases": DATA_DIR / f"import-purchases-{purchases}.csv",
    }
    if not paths["customers"].exists():
        with open(paths["customers"], "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["姓名", "手机", "会员号", "城市", "生日", "标签", "备注"])
            writer.writerows(row for row, _c in customer_rows(customers))
    if not paths["purchases"].exists():
        unique = sum(1 for _r, c in customer_rows(customers) if c is not None)
        with open(paths["purchases"], "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["日期", "会员号", "手机", "金额", "单号", "渠道"])
            writer.writerows(row for row, _c in purchase_rows(purchases, unique))
    return paths


# --- one variant, in its own process ---------------------------------------------------


def _rss_mb() -> float:
    """Resident memory now, from /proc (falls back to the high-water mark elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return round(int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except OSError:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class PeakMemory:
    """Samples RSS every 20 ms in a thread: the peak of one timed section, not of the process
    (whose high-water mark would include the set-up before it)."""

    def __init__(self):
        self.peak = self.start = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def _sqlite_only() -> None:
    # The references are SQLite's own executemany: always a fresh SQLite file, whatever
    # DATABASE_URL says.
    os.environ["DATABASE_URL"] = f"sqlite:///{DATA_DIR / (DB_NAME + '.sqlite3')}"


def run_variant(name: str, args) -> dict:
    _sqlite_only()
    connection = common.setup_django(DB_NAME)
    from django.db import transaction

    from accounts.models import Business
    from customers.importing import import_file
    from customers.models import Customer, Purchase

    business = Business.objects.create(name="Bench", slug="bench")
    paths = write_files(args.customers, args.purchases)
    result: dict = {"variant": name}

    def canonical_customers():
        return [c for _r, c in customer_rows(args.customers) if c is not None]

    def preload_customers() -> None:
        report = import_file(paths["customers"], business=business, kind="customers")
        assert report.written, report.file_error or report.errors[:3]

    if name.startswith("customers"):
        rows_in_file = args.customers
        if name == "customers_reimport":
            preload_customers()
        parsed = (
            canonical_customers()
            if name in {"customers_bulk_create", "customers_executemany"}
            else None
        )
    else:
        rows_in_file = args.purchases
        preload_customers()
        ids = dict(Customer.objects.for_business(business).values_list("customer_no", "id"))
        if name == "purchases_reimport":
            assert import_file(paths["purchases"], business=business, kind="purchases").written
        parsed = None
        if name in {"purchases_bulk_create", "purchases_executemany"}:
            nos = [c[2] for c in canonical_customers()]
            parsed = [
                (ids[nos[k]], when, amount, ext, channel)
                for _r, (k, when, amount, ext, channel) in purchase_rows(args.purchases, len(nos))
            ]
    memory = PeakMemory().__enter__()
    cpu_started = time.process_time()
    started = time.perf_counter()
    if name in {"customers_pipeline", "customers_dry_run", "customers_reimport"}:
        report = import_file(
            paths["customers"],
            business=business,
            kind="customers",
            dry_run=name.endswith("dry_run"),
        )
        assert not report.blocked, report.file_error or report.errors[:3]
        result.update(rows=rows_in_file, counts=report.counts)
        done = rows_in_file
    elif name in {"purchases_pipeline", "purchases_dry_run", "purchases_reimport"}:
        report = import_file(
            paths["purchases"],
            business=business,
            kind="purchases",
            dry_run=name.endswith("dry_run"),
        )
        assert not report.blocked, report.file_error or report.errors[:3]
        result.update(rows=rows_in_file, counts=report.counts)
        done = rows_in_file
    elif name == "customers_bulk_create":
        with transaction.atomic():
            Customer.objects.bulk_create(
                Customer(
                    business=business, name=n, phone=p, customer_no=no, city=city, birthday=b,
                    notes="会员",
                )
                for n, p, no, city, b, _t in parsed
            )  # fmt: skip
        done = len(parsed)
        result.update(rows=done)
    elif name == "purchases_bulk_create":
        with transaction.atomic():
            Purchase.objects.bulk_create(
                Purchase(
                    business=business, customer_id=c, occurred_at=w, amount=a, external_id=e,
                    channel=ch,
                )
                for c, w, a, e, ch in parsed
            )  # fmt: skip
        done = len(parsed)
        result.update(rows=done)
    elif name in {"customers_executemany", "purchases_executemany"}:
        import sqlite3

        path = connection.settings_dict["NAME"]
        connection.close()
        raw = sqlite3.connect(path, isolation_level=None)
        now = datetime.now(ZONE).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S.%f")
        raw.execute("BEGIN")
        if name == "customers_executemany":
            raw.executemany(
                "INSERT INTO customers_customer (business_id, name, phone, customer_no, "
                "wechat_id, email, gender, birthday, city, source, status, marketing_consent, "
                "notes, created_at, updated_at) VALUES (?, ?, ?, ?, '', '', '', ?, ?, "
                "'walk_in', 'active', 0, '会员', ?, ?)",
                (
                    (business.pk, n, p, no, b.isoformat() if b else None, city, now, now)
                    for n, p, no, city, b, _t in parsed
                ),
            )
        else:
            utc = ZoneInfo("UTC")
            raw.executemany(
                "INSERT INTO customers_purchase (business_id, customer_id, occurred_at, amount, "
                "channel, items, external_id, created_at) VALUES (?, ?, ?, ?, ?, '', ?, ?)",
                (
                    (
                        business.pk, c, w.astimezone(utc).strftime("%Y-%m-%d %H:%M:%S"), str(a),
                        ch, e, now,
                    )
                    for c, w, a, e, ch in parsed
                ),
            )  # fmt: skip
        raw.execute("COMMIT")
        raw.close()
        done = len(parsed)
        result.update(rows=done)
    else:
        raise SystemExit(f"unknown variant {name}")
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    memory.__exit__()
    result.update(
        seconds=round(seconds, 2),
        rows_per_s=round(done / seconds),
        cpu_s=round(cpu, 2),
        rows_per_cpu_s=round(done / cpu),
        rss_before_mb=memory.start,
        peak_rss_mb=memory.peak,
        peak_growth_mb=round(memory.peak - memory.start, 1),
        load_avg_1m=round(os.getloadavg()[0], 2),
    )
    return result


VARIANTS = {
    "customers_pipeline": "customers · pipeline: check + de-dup + write",
    "customers_dry_run": "customers · pipeline: check only (dry run)",
    "customers_reimport": "customers · pipeline: same file again (all unchanged)",
    "customers_bulk_create": "customers · bulk_create of parsed rows",
    "customers_executemany": "customers · sqlite3 executemany of parsed rows",
    "purchases_pipeline": "purchases · pipeline: check + de-dup + write",
    "purchases_reimport": "purchases · pipeline: same file again (all skipped)",
    "purchases_bulk_create": "purchases · bulk_create of parsed rows",
    "purchases_executemany": "purchases · sqlite3 executemany of parsed rows",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--only", help="comma-separated variants to run")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each customer variant (median kept)"
    )
    args = parser.parse_args()
    if args.variant:
        print("RESULT " + json.dumps(run_variant(args.variant, args), default=str))
        return 0

    started = time.perf_counter()
    write_files(args.customers, args.purchases)
    print(f"files ready in {time.perf_counter() - started:.1f}s", flush=True)
    names = args.only.split(",") if args.only else list(VARIANTS)
    rows = []
    for name in names:
        command = [
            sys.executable, __file__, "--variant", name,
            "--customers", str(args.customers), "--purchases", str(args.purchases),
        ]  # fmt: skip
        runs = []
        for _ in range(args.repeat if name.startswith("customers") else 1):
            proc = subprocess.run(command, capture_output=True, text=True, check=False)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
                raise SystemExit(f"variant {name} failed")
            runs.append(json.loads(line[len("RESULT ") :]))
        runs.sort(key=lambda r: r["rows_per_s"])
        result = runs[len(runs) // 2]  # the median run
        result["variant"] = VARIANTS[name]
        result["runs"] = len(runs)
        result["rows_per_s_all_runs"] = [r["rows_per_s"] for r in runs]
        print(result, flush=True)
        rows.append(result)

    _sqlite_only()
    common.setup_django(DB_NAME)  # for the machine info in the results
    by_name = dict(zip(names, rows, strict=True))
    pipeline = by_name.get("customers_pipeline", {}).get("rows_per_s")
    data = {
        "customers": args.customers,
        "purchases": args.purchases,
        "target": f">= {TARGET_ROWS_PER_S} customer rows/s through the pipeline on SQLite",
        "customers_pipeline_rows_per_s": pipeline,
        "target_met": bool(pipeline and pipeline >= TARGET_ROWS_PER_S),
        "rows": [
            {k: v for k, v in r.items() if k not in {"counts", "rows_per_s_all_runs"}} for r in rows
        ],
        "rows_per_s_all_runs": {r["variant"]: r["rows_per_s_all_runs"] for r in rows},
        "counts": {r["variant"]: r.get("counts") for r in rows if r.get("counts")},
    }
    common.write_results(
        "import",
        data,
        table_columns=[
            "variant",
            "rows",
            "seconds",
            "rows_per_s",
            "rows_per_cpu_s",
            "rss_before_mb",
            "peak_rss_mb",
            "peak_growth_mb",
            "load_avg_1m",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
