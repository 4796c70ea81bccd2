#!/usr/bin/env python
# ruff: noqa: E501
"""Benchmark: other writers during a large import on SQLite (issue 9, item 2), scaled down.

    .venv/bin/python bench/import_lock_bench.py [--rows 100000] [--busy-timeout 2] [--before-tree DIR]

The issue's scenario (4 API bulk writers + 1 admin writer during a 680k-row import, SQLite's
20 s busy timeout) in miniature: a purchase import of --rows rows (creating its customers)
while 4 threads post sales through `/api/v1/purchases/` and 1 thread saves in the admin (adds
a tag), every connection with a --busy-timeout second busy timeout. In-process (Django's test
client, one thread each), on a fresh SQLite file. Counts each writer's answers by status and
their slowest answer; the import's total time is the reference (how long a writer could be
held up when the import holds the lock throughout). `--before-tree` runs the same against
another checkout. Goal: 0 × 500.
Writes bench/results/import_lock.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
DATA_DIR = BASE_DIR / "var" / "bench"
RESULTS = BENCH_DIR / "results" / "import_lock.json"

CHILD = r"""
import json, os, sys, threading, time
from collections import Counter
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.db import connections
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient
from accounts.models import Business, Membership
from accounts.services import api_key_create
from customers.importing import import_file

business = Business.objects.create(slug="lock", name="lock")
owner = User.objects.create(username="lock_owner", is_staff=True)
Membership.objects.create(user=owner, business=business, role="owner")
_k, key = api_key_create(business=business, name="till")
admin = Client(raise_request_exception=False)
admin.force_login(owner)
connections["default"].settings_dict["OPTIONS"]["timeout"] = float(sys.argv[2])
connections.settings["default"]["OPTIONS"]["timeout"] = float(sys.argv[2])
connections.close_all()
done = threading.Event()
answers = {"api": Counter(), "admin": Counter()}
slowest = {"api": 0.0, "admin": 0.0}
lock = threading.Lock()

samples = {}
def record(kind, status, seconds, body=b""):
    with lock:
        if status >= 400 and status not in samples:
            samples[status] = body[:300].decode(errors="replace")
        answers[kind][status] += 1
        slowest[kind] = max(slowest[kind], seconds)

def till(n):
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    i = 0
    try:
        while not done.is_set():
            sale = {"customer_no": f"T{n}", "name": f"till{n}", "amount": "5.00",
                    "occurred_at": "2026-01-01T10:00:00+08:00", "external_id": f"TILL-{n}-{i}"}
            t = time.perf_counter()
            r = api.post("/api/v1/purchases/?create_customers=true", sale, format="json")
            record("api", r.status_code, time.perf_counter() - t, r.content)
            i += 1
            time.sleep(0.2)
    finally:
        connections.close_all()

def back_office():
    i = 0
    try:
        while not done.is_set():
            t = time.perf_counter()
            r = admin.post("/admin/customers/tag/add/", {"name": f"tag-{i}"})
            record("admin", r.status_code, time.perf_counter() - t, r.content)
            i += 1
            time.sleep(0.5)
    finally:
        connections.close_all()

result = {}
def run_import():
    t = time.perf_counter()
    try:
        report = import_file(sys.argv[1], business=business, kind="purchases", create_customers=True)
        result.update(written=report.written, rows=report.total_rows, error=report.file_error)
    except Exception as exc:
        result.update(written=False, error=f"{type(exc).__name__}: {exc}")
    result["import_s"] = round(time.perf_counter() - t, 2)
    done.set()
    connections.close_all()

threads = [threading.Thread(target=run_import)]
threads += [threading.Thread(target=till, args=(n,)) for n in range(4)]
threads.append(threading.Thread(target=back_office))
for t in threads:
    t.start()
for t in threads:
    t.join()
result["answers"] = {k: {str(s): n for s, n in sorted(v.items())} for k, v in answers.items()}
result["slowest_s"] = {k: round(v, 2) for k, v in slowest.items()}
result["sample_errors"] = {str(k): v for k, v in samples.items()}
result["http_500"] = answers["api"][500] + answers["admin"][500]
print(json.dumps(result))
"""


def make_file(rows: int) -> Path:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"lock_purchases_{rows}.csv"
    if not path.exists():
        with path.open("w", encoding="utf-8") as fh:
            fh.write("日期,会员号,姓名,金额,单号\n")
            for i in range(rows):
                fh.write(
                    f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d} 10:{i % 60:02d},C{i % 20000:05d},客{i % 20000},{i % 97 + 1}.50,F-{i}\n"
                )
    return path


def run(tree: Path, path: Path, busy: float) -> dict:
    db = DATA_DIR / f"lock_{os.getpid()}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_project.settings.local",
        "DATABASE_URL": f"sqlite:///{db}",
        "DJANGO_LOG_LEVEL": "CRITICAL",
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "DJANGO_DEBUG": "false",
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(busy)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": out.stderr[-800:]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--busy-timeout", type=float, default=2.0)
    parser.add_argument("--before-tree", type=Path)
    args = parser.parse_args()
    path = make_file(args.rows)
    result = {"rows": args.rows, "busy_timeout_s": args.busy_timeout, "writers": "4 API + 1 admin"}
    result["after"] = run(BASE_DIR, path, args.busy_timeout)
    print("after", result["after"], flush=True)
    if args.before_tree:
        result["before"] = run(args.before_tree, path, args.busy_timeout)
        print("before", result["before"], flush=True)
    elif RESULTS.exists() and "before" in (old := json.loads(RESULTS.read_text())):
        result["before"] = old["before"]
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0 if result["after"].get("http_500") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
