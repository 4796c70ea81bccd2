"""Customer import: all or nothing, matching, merging, and never touching another business."""

from datetime import date

import pytest

from customers.importing import import_file
from customers.importing.customer_import import CustomerImporter
from customers.models import Customer, Tag
from tests.factories import CustomerFactory, TagFactory

HEADER = ["姓名", "手机", "会员号", "邮箱", "生日"]


def ten_rows_three_bad():
    rows = [HEADER]
    for i in range(10):
        rows.append([f"客户{i}", f"1380013800{i}", f"N{i:03d}", "", "1990-01-01"])
    rows[3][1] = "call me"  # row 4: not a phone number
    rows[6][3] = "not-an-email"  # row 7
    rows[9][4] = "1990-02-31"  # row 10: no such day
    return rows


def test_ten_rows_with_three_bad_write_nothing_and_name_exactly_those_rows(tea, make_file):
    path = make_file(ten_rows_three_bad())
    report = import_file(path, business=tea.business, kind="customers")
    assert not report.written
    assert report.blocked
    assert sorted({e["row"] for e in report.errors}) == [4, 7, 10]
    assert report.error_rows == 3
    columns = {e["row"]: e["column"] for e in report.errors}
    assert columns == {4: "手机", 7: "邮箱", 10: "生日"}
    assert not Customer.objects.exists()


def test_valid_only_writes_the_seven_good_rows(tea, make_file):
    path = make_file(ten_rows_three_bad())
    report = import_file(path, business=tea.business, kind="customers", valid_only=True)
    assert report.written
    assert report.counts["new"] == 7
    assert report.error_rows == 3
    assert Customer.objects.for_business(tea.business).count() == 7
    names = set(Customer.objects.values_list("name", flat=True))
    assert {"客户2", "客户5", "客户8"}.isdisjoint(names)


def test_dry_run_writes_nothing_even_when_valid(tea, make_file):
    path = make_file([HEADER, ["甲", "13800138000", "", "", ""]])
    report = import_file(path, business=tea.business, kind="customers", dry_run=True)
    assert report.counts["new"] == 1
    assert not report.written
    assert not Customer.objects.exists()


def test_import_into_tea_never_touches_salon_even_with_identical_phones(
    tea, salon, salon_world, make_file
):
    salon_customer = salon_world["customer"]  # +8613800138000, customer number S-001
    before = Customer.objects.filter(pk=salon_customer.pk).values().get()
    path = make_file(
        [
            ["姓名", "手机", "会员号", "城市", "标签"],
            ["茶馆李白", "138 0013 8000", "S-001", "杭州", "茶客"],
        ]
    )
    report = import_file(path, business=tea.business, kind="customers")
    assert report.counts["new"] == 1
    assert Customer.objects.filter(pk=salon_customer.pk).values().get() == before
    assert [t.name for t in salon_customer.tags.all()] == ["沙龙标签"]
    mine = Customer.objects.get(business=tea.business)
    assert (mine.name, mine.phone, mine.customer_no) == ("茶馆李白", "+8613800138000", "S-001")
    assert Tag.objects.get(name="茶客").business == tea.business
    # And again: it matches tea's own row now, still not salon's.
    again = import_file(path, business=tea.business, kind="customers")
    assert again.counts["unchanged"] == 1
    assert Customer.objects.for_business(salon.business).count() == 1


def test_matched_by_customer_number_then_phone_and_only_filled_fields_change(tea, make_file):
    by_no = CustomerFactory(
        business=tea.business, name="老张", phone="13800138000", customer_no="001", city="杭州",
        email="zhang@example.com", notes="老客户",
    )  # fmt: skip
    by_phone = CustomerFactory(business=tea.business, name="老李", phone="13900139000", city="上海")
    path = make_file(
        [
            ["会员号", "姓名", "手机", "城市", "邮箱", "备注"],
            ["001", "", "", "苏州", "", ""],  # empty cells never blank a field
            ["", "李四", "139-0013-9000", "", "", ""],
        ]
    )
    report = import_file(path, business=tea.business, kind="customers")
    assert report.counts == {
        "new": 0, "updated": 2, "unchanged": 0, "merged": 0, "skipped": 0, "error": 0,
    }  # fmt: skip
    by_no.refresh_from_db()
    by_phone.refresh_from_db()
    assert (by_no.name, by_no.phone, by_no.city, by_no.email, by_no.notes) == (
        "老张", "+8613800138000", "苏州", "zhang@example.com", "老客户",
    )  # fmt: skip
    assert (by_phone.name, by_phone.city) == ("李四", "上海")
    assert by_no.updated_at > by_no.created_at


@pytest.mark.parametrize("stream_above", [5000, 0])  # by chunks of ids, or one pass
def test_reimporting_the_same_file_changes_nothing(
    tea, salon_world, make_file, monkeypatch, stream_above
):
    monkeypatch.setattr(CustomerImporter, "STREAM_ABOVE", stream_above)
    path = make_file(
        [
            ["姓名", "手机", "会员号", "生日", "标签", "性别", "状态", "同意营销"],
            ["甲", "13800138000", "007", "1990-05-06", "VIP, 茶客", "男", "活跃", "是"],
            ["乙", "13900139000", "", "", "", "女", "", ""],
        ]
    )
    first = import_file(path, business=tea.business, kind="customers")
    assert first.counts["new"] == 2
    stamps = dict(Customer.objects.values_list("pk", "updated_at"))
    second = import_file(path, business=tea.business, kind="customers")
    assert second.counts["unchanged"] == 2
    assert second.counts["updated"] == 0
    assert dict(Customer.objects.values_list("pk", "updated_at")) == stamps
    jia = Customer.objects.get(customer_no="007")
    assert (jia.gender, jia.status, jia.marketing_consent) == ("male", "active", True)
    assert jia.marketing_consent_at is not None
    assert jia.birthday == date(1990, 5, 6)


def test_duplicate_rows_in_one_file_are_merged_and_reported(tea, make_file):
    path = make_file(
        [
            ["姓名", "手机", "会员号", "城市", "邮箱", "标签"],
            ["张三", "13800138000", "001", "杭州", "", "VIP"],
            ["张三", "", "001", "", "z@example.com", "老客"],  # same customer number
            ["张三", "138 0013 8000", "", "苏州", "", ""],  # same phone
        ]
    )
    report = import_file(path, business=tea.business, kind="customers")
    assert report.counts["new"] == 1
    assert report.counts["merged"] == 2
    merged_rows = [r["row"] for r in report.preview if r["state"] == "merged"]
    assert merged_rows == [3, 4]
    customer = Customer.objects.get(business=tea.business)
    assert (customer.city, customer.email) == ("苏州", "z@example.com")  # later rows fill in
    assert sorted(t.name for t in customer.tags.all()) == ["VIP", "老客"]


def test_same_phone_with_another_customer_number_is_an_error_not_a_merge(tea, make_file):
    path = make_file(
        [
            ["姓名", "手机", "会员号"],
            ["张三", "13800138000", "001"],
            ["李四", "13800138000", "002"],
        ]
    )
    report = import_file(path, business=tea.business, kind="customers")
    assert not report.written
    assert [(e["row"], e["column"]) for e in report.errors] == [(3, "会员号")]
    assert "Row 2" in report.errors[0]["message"]


def test_phone_of_an_existing_customer_cannot_be_given_to_another(tea, make_file):
    CustomerFactory(business=tea.business, name="甲", phone="13800138000", customer_no="001")
    CustomerFactory(business=tea.business, name="乙", phone="13900139000", customer_no="002")
    path = make_file([["会员号", "手机"], ["002", "13800138000"]])
    report = import_file(path, business=tea.business, kind="customers")
    assert [e["row"] for e in report.errors] == [2]
    assert "001" in report.errors[0]["message"]
    assert Customer.objects.get(customer_no="002").phone == "+8613900139000"


def test_rows_without_phone_or_number_match_by_name(tea, make_file):
    CustomerFactory(business=tea.business, name="王阿姨", phone="", city="")
    path = make_file([["姓名", "城市"], ["王阿姨", "杭州"], ["新朋友", "上海"], ["新朋友", ""]])
    report = import_file(path, business=tea.business, kind="customers")
    assert (report.counts["updated"], report.counts["new"], report.counts["merged"]) == (1, 1, 1)
    assert Customer.objects.get(name="王阿姨").city == "杭州"
    assert Customer.objects.filter(name="新朋友").count() == 1


def test_new_customer_without_name_is_named_after_the_number(tea, make_file):
    path = make_file([["手机"], ["13800138000"]])
    import_file(path, business=tea.business, kind="customers")
    assert Customer.objects.get().name == "+8613800138000"


def test_tags_are_added_never_removed_and_reuse_existing(tea, make_file):
    vip = TagFactory(business=tea.business, name="VIP")
    old = TagFactory(business=tea.business, name="旧标签")
    customer = CustomerFactory(business=tea.business, phone="13800138000", tags=[old])
    path = make_file([["手机", "标签"], ["13800138000", "VIP、新标签"]])
    report = import_file(path, business=tea.business, kind="customers")
    assert report.counts["updated"] == 1
    assert sorted(t.name for t in customer.tags.all()) == ["VIP", "新标签", "旧标签"]
    assert Tag.objects.for_business(tea.business).filter(name="VIP").get() == vip


def test_assigned_staff_by_username(tea, make_file):
    path = make_file([["姓名", "负责人"], ["甲", "tea_staff"], ["乙", "nobody"]])
    report = import_file(path, business=tea.business, kind="customers", valid_only=True)
    assert [e["row"] for e in report.errors] == [3]
    assert Customer.objects.get(name="甲").assigned_to == tea.staff


@pytest.mark.parametrize(
    ("cell", "field"),
    [("x" * 101, "姓名"), ("Unknown", "性别"), ("maybe", "同意营销"), ("2099-01-01", "生日")],
)
def test_cell_errors_name_row_and_column(tea, make_file, cell, field):
    row = {"姓名": "甲", "性别": "", "同意营销": "", "生日": ""}
    row[field] = cell
    path = make_file([list(row), list(row.values())])
    report = import_file(path, business=tea.business, kind="customers")
    assert [(e["row"], e["column"]) for e in report.errors] == [(2, field)]
