"""Files as micro businesses have them: encodings, Excel, header names, dates, amounts."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from customers.importing import import_file
from customers.importing.columns import CUSTOMERS, PURCHASES, map_headers
from customers.importing.parsing import CellError, Parsers, parse_amount
from customers.models import Customer, Purchase
from tests.factories import CustomerFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_gbk_csv_with_chinese_headers_and_mixed_phone_formats(tea, make_file):
    path = make_file(
        [
            ["姓名", "手机号", "会员卡号", "生日", "城市", "标签", "备注"],
            ["张三", "138 0013 8000", "0001", "1990年5月6日", "杭州", "VIP，老客", "爱喝龙井"],
            ["李四", "+86 139-0013-9000", "0002", "1985/3/1", "上海", "", ""],
            ["王五", "0086 13700137000", "", "19920102", "", "新客", ""],
            ["赵六", "(021) 6123 4567", "0004", "", "上海", "", ""],
        ],
        encoding="gbk",
    )
    report = import_file(path, business=tea.business, kind="customers")
    assert report.encoding == "gb18030"
    assert report.written
    assert report.counts["new"] == 4
    assert report.error_rows == 0
    got = {
        c.name: (c.phone, c.customer_no, c.birthday, c.city)
        for c in Customer.objects.for_business(tea.business)
    }
    assert got == {
        "张三": ("+8613800138000", "0001", date(1990, 5, 6), "杭州"),
        "李四": ("+8613900139000", "0002", date(1985, 3, 1), "上海"),
        "王五": ("+8613700137000", "", date(1992, 1, 2), ""),
        "赵六": ("+862161234567", "0004", None, "上海"),
    }
    zhang = Customer.objects.get(business=tea.business, name="张三")
    assert sorted(t.name for t in zhang.tags.all()) == ["VIP", "老客"]
    assert zhang.notes == "爱喝龙井"


def test_utf8_bom_csv_with_english_headers(tea, make_file):
    path = make_file(
        [
            ["Name", "Phone Number", "Customer No.", "E-mail", "Gender", "Source"],
            ["Li Bai", "13800138000", "A-1", "li@example.com", "male", "Referral"],
            ["杜甫", "13900139000", "A-2", "", "女", "抖音"],
        ],
        encoding="utf-8-sig",
    )
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    report = import_file(path, business=tea.business, kind="customers")
    assert report.encoding == "utf-8-sig"
    assert report.counts["new"] == 2
    assert report.error_rows == 0
    li = Customer.objects.get(business=tea.business, customer_no="A-1")
    assert (li.name, li.email, li.gender, li.source) == (
        "Li Bai",
        "li@example.com",
        "male",
        "referral",
    )
    du = Customer.objects.get(business=tea.business, customer_no="A-2")
    assert (du.gender, du.source) == ("female", "online")


def test_xlsx_with_excel_serial_dates(tea, make_file):
    CustomerFactory(business=tea.business, name="张三", phone="13800138000", customer_no="001")
    path = make_file(
        [
            ["日期", "会员号", "金额", "单号"],
            [45717, "001", 128.5, "T-1"],  # serial number: 2025-03-01
            [45717.75, "001", 30, "T-2"],  # serial with a time: 18:00
            ["45718", "001", "¥1,280.00", "T-3"],  # a serial typed as text, as CSV would have it
            [datetime(2025, 3, 4, 9, 15), "001", "12", "T-4"],  # a real date cell
        ],
        name="sales.xlsx",
    )
    report = import_file(path, business=tea.business, kind="purchases")
    assert report.file_format == "xlsx"
    assert report.errors == []
    assert report.counts["new"] == 4
    got = {
        p.external_id: (p.occurred_at.astimezone(SHANGHAI).replace(tzinfo=None), p.amount)
        for p in Purchase.objects.for_business(tea.business)
    }
    assert got == {
        "T-1": (datetime(2025, 3, 1), Decimal("128.50")),
        "T-2": (datetime(2025, 3, 1, 18, 0), Decimal("30.00")),
        "T-3": (datetime(2025, 3, 2), Decimal("1280.00")),
        "T-4": (datetime(2025, 3, 4, 9, 15), Decimal("12.00")),
    }


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_are_sniffed(tea, make_file, delimiter):
    path = make_file([["name", "phone"], ["A", "13800138000"]], delimiter=delimiter)
    report = import_file(path, business=tea.business, kind="customers")
    assert report.counts["new"] == 1
    assert Customer.objects.get(business=tea.business).phone == "+8613800138000"


def test_title_row_above_header_keeps_spreadsheet_row_numbers(tea, make_file):
    path = make_file(
        [
            ["2025 年客户名单", "", ""],
            ["姓名", "手机", "备注"],
            ["甲", "12", ""],
            ["乙", "13800138000", ""],
        ]
    )
    report = import_file(path, business=tea.business, kind="customers", dry_run=True)
    assert [e["row"] for e in report.errors] == [3]
    assert report.errors[0]["column"] == "手机"


def test_unknown_columns_are_ignored_and_named(tea, make_file):
    path = make_file([["姓名", "手机", "积分", "Lucky number"], ["甲", "13800138000", "100", "7"]])
    report = import_file(path, business=tea.business, kind="customers")
    assert report.ignored_columns == ["积分", "Lucky number"]
    assert report.counts["new"] == 1


def test_file_without_known_columns_is_refused_with_the_columns_found(tea, make_file):
    path = make_file([["foo", "bar"], ["1", "2"]])
    report = import_file(path, business=tea.business, kind="customers")
    assert "foo" in report.file_error
    assert not report.written
    assert not Customer.objects.exists()


def test_old_xls_is_refused_clearly(tea, tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    report = import_file(path, business=tea.business, kind="customers")
    assert ".xlsx" in report.file_error


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("手机号码", "phone"),
        (" Phone  Number ", "phone"),
        ("联系电话", "phone"),
        ("会员卡号", "customer_no"),
        ("customer_no", "customer_no"),
        ("ＣＵＳＴＯＭＥＲ ＮＯ", "customer_no"),  # full-width
        ("手机号（必填）", "phone"),
        ("微信号", "wechat_id"),
        ("邮箱", "email"),
        ("出生日期", "birthday"),
        ("客户来源", "source"),
        ("标签", "tags"),
        ("备注", "notes"),
    ],
)
def test_customer_header_aliases(header, field):
    assert map_headers([header], CUSTOMERS).fields == {field: (0, header)}


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("日期", "occurred_at"),
        ("消费时间", "occurred_at"),
        ("金额(元)", "amount"),
        ("实付金额", "amount"),
        ("成本", "cost"),
        ("毛利", "margin"),
        ("渠道", "channel"),
        ("单号", "external_id"),
        ("external_id", "external_id"),
        ("Order No.", "external_id"),
    ],
)
def test_purchase_header_aliases(header, field):
    assert map_headers([header], PURCHASES).fields == {field: (0, header)}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2025-03-01", date(2025, 3, 1)),
        ("2025/3/1", date(2025, 3, 1)),
        ("2025年3月1日", date(2025, 3, 1)),
        ("20250301", date(2025, 3, 1)),
        ("45717", date(2025, 3, 1)),
        (45717, date(2025, 3, 1)),
        (20250301, date(2025, 3, 1)),
        ("2025-03-01 14:30", datetime(2025, 3, 1, 14, 30)),
        ("2025/3/1 14:30:05", datetime(2025, 3, 1, 14, 30, 5)),
        ("2025年3月1日 14时30分", datetime(2025, 3, 1, 14, 30)),
        ("2025-03-01T14:30:00", datetime(2025, 3, 1, 14, 30)),
    ],
)
def test_dates_in_every_common_form(typed, expected):
    parsers = Parsers(region="CN", time_zone="Asia/Shanghai")
    moment = parsers.moment(typed)
    assert moment.tzinfo is not None  # aware, in the business's zone
    as_wall_clock = moment.astimezone(SHANGHAI).replace(tzinfo=None)
    if isinstance(expected, datetime):
        assert as_wall_clock == expected
    else:
        assert as_wall_clock == datetime(expected.year, expected.month, expected.day)


@pytest.mark.parametrize("typed", ["2025-13-01", "3/1/2025", "yesterday", "2025-02-30", "123456"])
def test_bad_dates_are_errors(typed):
    with pytest.raises(CellError, match="not a date"):
        Parsers(region="CN", time_zone="Asia/Shanghai").moment(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("¥1,280.50", Decimal("1280.50")),
        ("￥ 1 280", Decimal("1280.00")),
        ("1280元", Decimal("1280.00")),
        ("RMB 12.5", Decimal("12.50")),
        ("１２８．５", Decimal("128.50")),  # full-width digits
        ("12.345", Decimal("12.35")),
        (99.9, Decimal("99.90")),
        (100, Decimal("100.00")),
    ],
)
def test_amounts_in_every_common_form(typed, expected):
    assert parse_amount(typed) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("-5", "negative"), ("(5)", "negative"), ("1,2", "not an amount"), ("abc", "not an amount")],
)
def test_bad_amounts_are_errors(typed, reason):
    with pytest.raises(CellError, match=reason):
        parse_amount(typed)


@pytest.mark.parametrize(
    "typed", ["138 0013 8000", "+86 138-0013-8000", "13800138000", "0086 13800138000", 13800138000]
)
def test_phone_fast_path_agrees_with_phonenumbers(typed):
    assert Parsers(region="CN", time_zone="Asia/Shanghai").phone(typed) == "+8613800138000"


def test_errors_are_in_the_users_language(tea, make_file, monkeypatch):
    from django.utils import translation
    from django.utils.translation import trans_real

    # The zh_Hans catalogue is filled by the translators; give it this one message here.
    catalog = trans_real.translation("zh-hans")._catalog._catalogs[0]
    monkeypatch.setitem(catalog, "A birthday cannot be in the future.", "生日不能在将来。")
    path = make_file([["姓名", "生日"], ["甲", "2199-01-01"]])
    with translation.override("zh-hans"):
        chinese = import_file(path, business=tea.business, kind="customers", dry_run=True)
    with translation.override("en"):
        english = import_file(path, business=tea.business, kind="customers", dry_run=True)
    assert chinese.errors == [{"row": 2, "column": "生日", "message": "生日不能在将来。"}]
    assert english.errors[0]["message"] == "A birthday cannot be in the future."
