"""SQLite has no statistics of its own: a big write refreshes them (issue 9, item 9)."""

import pytest
from django.db import connection

from customers.importing import import_file
from customers.models import Customer
from segmentation.models import CustomerScore
from segmentation.services import scoring_run_execute
from tests.factories import PurchaseFactory

pytestmark = pytest.mark.django_db(transaction=True)
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL keeps statistics itself (autovacuum)"
)


@pytest.fixture(autouse=True)
def no_statistics_yet():
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone() is not None:
                cursor.execute("DELETE FROM sqlite_stat1")


def _stat_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return set()
        cursor.execute("SELECT DISTINCT tbl FROM sqlite_stat1")
        return {row[0] for row in cursor.fetchall()}


@sqlite_only
def test_an_import_leaves_statistics_for_the_customer_table(tea, make_file):
    rows = [["姓名", "手机"], *([f"客户{i}", f"138001380{i:02d}"] for i in range(20))]
    report = import_file(make_file(rows), business=tea.business, kind="customers")
    assert report.written
    assert Customer._meta.db_table in _stat_tables()


@sqlite_only
def test_a_dry_run_leaves_statistics_alone(tea, make_file):
    rows = [["姓名", "手机"], ["客户", "13800138000"]]
    import_file(make_file(rows), business=tea.business, kind="customers", dry_run=True)
    assert Customer._meta.db_table not in _stat_tables()


@sqlite_only
def test_a_scoring_run_leaves_statistics_for_the_scores(tea):
    PurchaseFactory.create_batch(5, customer__business=tea.business)
    scoring_run_execute(business=tea.business)
    assert CustomerScore._meta.db_table in _stat_tables()
