"""Imports never lock other writers out, and a request that still meets a busy database
answers 503 with Retry-After instead of 500 (issue 9, item 2)."""

import sqlite3
import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import api_key_create
from customers.importing import import_file
from customers.models import Customer, Purchase, Tag
from tests.factories import CustomerFactory

pytestmark = pytest.mark.usefixtures("media_in_tmp")

BUSY_TIMEOUT = 5  # seconds; the real default is 20


@pytest.fixture
def short_busy_timeout():
    """Every new SQLite connection (one per thread) waits only BUSY_TIMEOUT for a lock."""
    options = connections.settings["default"].setdefault("OPTIONS", {})
    before = options.get("timeout")
    if connection.vendor == "sqlite":
        options["timeout"] = BUSY_TIMEOUT  # threads' new connections
        with connection.cursor() as cursor:  # this thread's open one
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    yield
    if connection.vendor == "sqlite":
        options["timeout"] = before
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int((before or 5) * 1000)}")


def _in_thread(target, results, *args):
    def run():
        try:
            target(results, *args)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_writers_are_not_locked_out_while_a_file_is_checked(
    transactional_db, tea, make_file, short_busy_timeout
):
    """4 API writers and 1 admin writer during an import whose check takes seconds: all of
    them succeed. Before, the check ran inside the import's write transaction and they all
    answered 500 "database is locked" after the busy timeout."""
    rows = [["日期", "会员号", "手机", "金额", "单号"]]
    rows += [["2025-03-01 10:00", f"N{i:05d}", "", "10", f"F-{i}"] for i in range(2000)]
    path = make_file(rows)
    _key, key = api_key_create(business=tea.business, name="till")
    admin = Client(raise_request_exception=False)
    admin.force_login(tea.owner)
    done = threading.Event()
    statuses: list[int] = []

    def slow_check(phase, _done, _total):
        if phase != "write":  # (before the fix the checking phase was called "import")
            time.sleep(BUSY_TIMEOUT + 1)  # a big file's check in miniature, longer than the wait

    def importer(results):
        results.append(
            import_file(
                path,
                business=tea.business,
                kind="purchases",
                create_customers=True,
                progress=slow_check,
            )
        )
        done.set()

    def till(results, n):
        api = APIClient(raise_request_exception=False)
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        i = 0
        while not done.is_set() or i < 3:
            sale = {
                "customer_no": f"T{n}", "phone": f"+8613{n}0013800{n}", "name": f"till{n}",
                "occurred_at": "2026-01-01T10:00:00+08:00", "amount": "5.00",
                "external_id": f"TILL-{n}-{i}",
            }  # fmt: skip
            response = api.post("/api/v1/purchases/?create_customers=true", sale, format="json")
            results.append(response.status_code)
            i += 1
            time.sleep(0.05)

    def back_office(results):
        i = 0
        while not done.is_set() or i < 3:
            response = admin.post(reverse("admin:customers_tag_add"), {"name": f"tag-{i}"})
            results.append(response.status_code)
            i += 1
            time.sleep(0.05)

    reports: list = []
    threads = [_in_thread(importer, reports)]
    time.sleep(0.3)  # the import is checking
    threads += [_in_thread(till, statuses, n) for n in range(4)]
    threads.append(_in_thread(back_office, statuses))
    for thread in threads:
        thread.join(timeout=120)
    assert reports, "the import did not finish"
    report = reports[0]
    assert report.written, report.file_error
    assert Purchase.objects.filter(external_id__startswith="F-").count() == 2000
    assert statuses, "no writer ran"
    assert set(statuses) <= {201, 200, 302}, sorted(set(statuses))
    assert Tag.objects.filter(name__startswith="tag-").count() >= 3


@pytest.fixture
def sqlite_write_lock(transactional_db, short_busy_timeout):
    """Another process holding SQLite's write lock (as a long import used to)."""
    if connection.vendor != "sqlite":
        pytest.skip("the lock is SQLite's; PostgreSQL takes row locks")
    holder = sqlite3.connect(connection.settings_dict["NAME"], timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield
    holder.execute("ROLLBACK")
    holder.close()


def test_api_write_meeting_a_held_lock_answers_503_json_with_retry_after(
    transactional_db, tea, request
):
    _key, key = api_key_create(business=tea.business, name="till")
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    api.get("/api/v1/customers/")  # the key's last-used time is written now, not below
    request.getfixturevalue("sqlite_write_lock")
    response = api.post("/api/v1/customers/", {"name": "甲"}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (503, "busy")
    assert "try again" in error["message"]


def test_admin_write_meeting_a_held_lock_answers_a_plain_503_page(transactional_db, tea, request):
    customer = CustomerFactory(business=tea.business, name="甲")
    admin = Client(raise_request_exception=False)
    admin.force_login(tea.owner)
    admin.get(reverse("admin:index"))
    request.getfixturevalue("sqlite_write_lock")
    response = admin.post(reverse("admin:customers_tag_add"), {"name": "VIP"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "text/html" in response["Content-Type"]
    assert "try again" in response.content.decode()
    assert not Tag.objects.exists()
    assert Customer.objects.get() == customer


def test_a_row_written_by_someone_else_between_check_and_write_is_checked_again(
    tea, make_file, monkeypatch
):
    """A till sends the same sale while the file is being checked: the write meets the
    unique external id, the import checks again (now it is "skipped") and writes the rest."""
    from customers.importing.purchase_import import PurchaseImporter

    customer = CustomerFactory(business=tea.business, customer_no="001", phone="")
    path = make_file(
        [["日期", "会员号", "金额", "单号"], ["2025-03-01", "001", "10", "A"],
         ["2025-03-01", "001", "12", "B"]]
    )  # fmt: skip
    prepare = PurchaseImporter.prepare
    calls = []

    def prepare_then_till_sends_b(self):
        prepare(self)
        calls.append(1)
        if len(calls) == 1:
            Purchase.objects.create(
                business=tea.business, customer=customer, amount="12", external_id="B"
            )

    monkeypatch.setattr(PurchaseImporter, "prepare", prepare_then_till_sends_b)
    report = import_file(path, business=tea.business, kind="purchases")
    assert len(calls) == 2
    assert report.written
    assert (report.counts["new"], report.counts["skipped"]) == (1, 1)
    assert sorted(Purchase.objects.values_list("external_id", flat=True)) == ["A", "B"]
