"""Purchase import: matched to customers, never counted twice."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from customers.importing import import_file
from customers.models import Customer, Purchase
from tests.factories import CustomerFactory, PurchaseFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _customers(tea):
    return (
        CustomerFactory(business=tea.business, name="张三", phone="13800138000", customer_no="001"),
        CustomerFactory(business=tea.business, name="李四", phone="13900139000", customer_no="002"),
    )


def test_same_purchases_file_twice_creates_nothing_the_second_time(tea, make_file):
    _customers(tea)
    path = make_file(
        [
            ["日期", "会员号", "手机", "金额", "单号", "渠道"],
            ["2025-03-01 10:00", "001", "", "¥128", "T-1", "门店"],
            ["2025-03-01 11:00", "", "139 0013 9000", "58.5", "T-2", "外卖"],
            ["2025-03-02", "001", "", "20", "", ""],  # no external id
            ["2025-03-02", "001", "", "20", "", ""],  # the same sale again: two cups of tea
        ]
    )
    first = import_file(path, business=tea.business, kind="purchases")
    assert first.written
    assert first.counts["new"] == 4
    assert Purchase.objects.for_business(tea.business).count() == 4
    second = import_file(path, business=tea.business, kind="purchases")
    assert second.counts["new"] == 0
    assert second.counts["skipped"] == 4
    assert Purchase.objects.for_business(tea.business).count() == 4


def test_purchases_are_matched_by_customer_number_then_phone(tea, make_file):
    _zhang, _li = _customers(tea)
    path = make_file(
        [
            ["日期", "会员号", "手机", "金额", "单号"],
            ["2025-03-01", "001", "13900139000", "10", "A"],  # the number wins
            ["2025-03-01", "", "+86 139-0013-9000", "20", "B"],
            ["2025-03-01", "999", "13800138000", "30", "C"],  # unknown number: phone matches
        ]
    )
    import_file(path, business=tea.business, kind="purchases")
    got = dict(Purchase.objects.values_list("external_id", "customer__customer_no"))
    assert got == {"A": "001", "B": "002", "C": "001"}
    assert set(Purchase.objects.values_list("business_id", flat=True)) == {tea.business.pk}


def test_repeated_external_id_in_file_and_in_database_are_skipped(tea, make_file):
    zhang, _li = _customers(tea)
    PurchaseFactory(customer=zhang, external_id="OLD-1")
    path = make_file(
        [
            ["日期", "会员号", "金额", "单号"],
            ["2025-03-01", "001", "10", "OLD-1"],
            ["2025-03-01", "001", "10", "NEW-1"],
            ["2025-03-02", "001", "12", "NEW-1"],
        ]
    )
    report = import_file(path, business=tea.business, kind="purchases")
    states = [(r["row"], r["state"]) for r in report.preview]
    assert states == [(2, "skipped"), (3, "new"), (4, "skipped")]
    assert "row 3" in report.preview[2]["message"]
    assert Purchase.objects.filter(external_id="NEW-1").get().amount == Decimal("10.00")


def test_external_id_of_another_business_does_not_block(tea, salon_world, make_file):
    _customers(tea)
    path = make_file([["日期", "会员号", "金额", "单号"], ["2025-03-01", "001", "10", "SALON-1"]])
    report = import_file(path, business=tea.business, kind="purchases")
    assert report.counts["new"] == 1
    assert Purchase.objects.filter(external_id="SALON-1").count() == 2


def test_salon_customer_with_same_phone_is_never_used_for_tea(tea, salon_world, make_file):
    path = make_file([["日期", "手机", "金额"], ["2025-03-01", "13800138000", "10"]])
    report = import_file(path, business=tea.business, kind="purchases")
    assert not report.written
    assert [e["row"] for e in report.errors] == [2]
    assert salon_world["customer"].purchases.count() == 1


def test_missing_customers_are_errors_unless_created(tea, make_file):
    path = make_file(
        [
            ["日期", "会员号", "手机", "姓名", "金额", "单号"],
            ["2025-03-01", "NEW-9", "13700137000", "王五", "10", "X1"],
            ["2025-03-02", "NEW-9", "", "", "15", "X2"],
            ["2025-03-02", "", "13600136000", "", "15", "X3"],
        ]
    )
    refused = import_file(path, business=tea.business, kind="purchases")
    assert [e["row"] for e in refused.errors] == [2, 3, 4]
    assert not Customer.objects.exists()
    created = import_file(path, business=tea.business, kind="purchases", create_customers=True)
    assert created.counts["new"] == 3
    assert created.customers_created == 2
    wang = Customer.objects.get(customer_no="NEW-9")
    assert (wang.name, wang.phone, wang.business) == ("王五", "+8613700137000", tea.business)
    assert wang.purchases.count() == 2
    assert Customer.objects.get(phone="+8613600136000").name == "+8613600136000"
    again = import_file(path, business=tea.business, kind="purchases", create_customers=True)
    assert again.counts["new"] == 0
    assert again.customers_created == 0
    assert Customer.objects.count() == 2


def test_margin_without_cost_gives_the_cost(tea, make_file):
    _customers(tea)
    path = make_file(
        [
            ["日期", "会员号", "金额", "毛利", "成本", "单号"],
            ["2025-03-01", "001", "100", "30", "", "M1"],
            ["2025-03-01", "001", "100", "30", "50", "M2"],  # a cost given wins
            ["2025-03-01", "001", "100", "130", "", "M3"],  # margin above amount: error
        ]
    )
    report = import_file(path, business=tea.business, kind="purchases", valid_only=True)
    assert [(e["row"], e["column"]) for e in report.errors] == [(4, "毛利")]
    assert dict(Purchase.objects.values_list("external_id", "cost")) == {
        "M1": Decimal("70.00"),
        "M2": Decimal("50.00"),
    }


def test_date_and_time_in_separate_columns_are_combined(tea, make_file):
    _customers(tea)
    path = make_file([["日期", "时间", "会员号", "金额"], ["2025/3/1", "14:30", "001", "10"]])
    import_file(path, business=tea.business, kind="purchases")
    when = Purchase.objects.get().occurred_at.astimezone(SHANGHAI).replace(tzinfo=None)
    assert when == datetime(2025, 3, 1, 14, 30)


def test_negative_amount_and_missing_date_are_errors(tea, make_file):
    _customers(tea)
    path = make_file(
        [
            ["日期", "会员号", "金额"],
            ["2025-03-01", "001", "-5"],
            ["", "001", "5"],
            ["2025-03-01", "001", ""],
        ]
    )
    report = import_file(path, business=tea.business, kind="purchases")
    assert [(e["row"], e["column"]) for e in report.errors] == [
        (2, "金额"),
        (3, "日期"),
        (4, "金额"),
    ]
    assert not Purchase.objects.exists()


def test_times_are_stored_in_the_business_time_zone(tea, make_file):
    tea.business.time_zone = "Europe/London"
    tea.business.save()
    _customers(tea)
    path = make_file([["日期", "会员号", "金额"], ["2025-07-01 09:00", "001", "10"]])
    import_file(path, business=tea.business, kind="purchases")
    stored = Purchase.objects.get().occurred_at
    assert stored == datetime(2025, 7, 1, 8, 0, tzinfo=ZoneInfo("UTC"))  # 09:00 BST
