"""Files that must not hurt the server, and cells that must become row errors (issue 9:
items 1, 10, 11)."""

import io
import zipfile

import openpyxl
import pytest

from customers.importing import import_file
from customers.importing.reading import estimate_rows
from customers.models import Customer, Purchase
from tests.customers.conftest import xlsx_bytes
from tests.factories import CustomerFactory


def _no_openpyxl(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl must not parse a refused workbook")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


# --- item 1: amounts above the bound ----------------------------------------------------


def test_amount_above_the_bound_is_a_row_error_naming_row_column_and_limit(tea, make_file):
    CustomerFactory(business=tea.business, customer_no="001", phone="13800138000")
    path = make_file(
        [
            ["日期", "会员号", "金额", "成本", "单号"],
            ["2025-03-01", "001", "1000000.00", "", "OK-1"],  # the bound itself is allowed
            ["2025-03-01", "001", "1000000.01", "", "BIG-1"],
            ["2025-03-01", "001", "9999999999.99", "", "BIG-2"],
            ["2025-03-01", "001", "10", "8197449450.00", "BIG-3"],
        ]
    )
    report = import_file(path, business=tea.business, kind="purchases")
    assert not report.written
    assert [(e["row"], e["column"]) for e in report.errors] == [
        (3, "金额"),
        (4, "金额"),
        (5, "成本"),
    ]
    assert "1,000,000.00" in report.errors[0]["message"]
    assert not Purchase.objects.exists()


# --- item 11: long CSV fields and NUL bytes ------------------------------------------------


def test_csv_field_over_131072_characters_is_a_row_error_not_a_crash(tea, tmp_path):
    rows = ["name,phone"] + [f"客户{i},1380013{i:04d}" for i in range(12)]
    rows.append("x" * 200_000 + ",13900139000")
    rows.append("after,13700137000")
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = import_file(path, business=tea.business, kind="customers", valid_only=True)
    assert not report.file_error
    assert [(e["row"], e["column"]) for e in report.errors] == [(14, "name")]
    assert "200000" in report.errors[0]["message"]
    assert report.written
    assert Customer.objects.for_business(tea.business).count() == 13  # the rows around it


def test_nul_byte_in_a_cell_is_a_row_error_on_every_database(tea, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"name,phone,notes\nA\x00B,13800138000,\nC,13900139000,x\x00y\n")
    report = import_file(path, business=tea.business, kind="customers")
    assert not report.written
    assert [(e["row"], e["column"]) for e in report.errors] == [(2, "name"), (3, "notes")]
    assert "NUL" in report.errors[0]["message"]
    assert not Customer.objects.exists()


def test_nul_in_purchase_file_is_a_row_error(tea, tmp_path):
    CustomerFactory(business=tea.business, customer_no="001", phone="13800138000")
    path = tmp_path / "nul.csv"
    path.write_bytes("日期,会员号,金额,单号\n2025-03-01,001,10,T\x001\n".encode())
    report = import_file(path, business=tea.business, kind="purchases")
    assert [(e["row"], e["column"]) for e in report.errors] == [(2, "单号")]
    assert not Purchase.objects.exists()


# --- item 10: XLSX bombs and row counts ------------------------------------------------------


def test_xlsx_whose_shared_strings_unpack_too_large_is_refused_before_parsing(
    tea, tmp_path, settings, monkeypatch
):
    settings.XW_IMPORT_XLSX_MAX_SHARED_STRINGS_MB = 1
    buffer = io.BytesIO(xlsx_bytes([["name"], ["A"]]))
    strings = "".join(f"<si><t>{i:07d}{'x' * 200}</t></si>" for i in range(20_000))
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", f"<sst>{strings}</sst>")
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 200_000  # compresses well: the point of a bomb
    _no_openpyxl(monkeypatch)
    report = import_file(path, business=tea.business, kind="customers", dry_run=True)
    assert "MB" in report.file_error
    assert "at most 1 MB of text" in report.file_error
    assert not Customer.objects.exists()
    # The upload's row estimate does not unpack it either.
    assert estimate_rows(path) >= 0


def test_xlsx_whose_parts_unpack_too_large_in_all_is_refused(tea, tmp_path, settings):
    settings.XW_IMPORT_XLSX_MAX_UNCOMPRESSED_MB = 1
    buffer = io.BytesIO(xlsx_bytes([["name"], ["A"]]))
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * (3 << 20))
    path = tmp_path / "padded.xlsx"
    path.write_bytes(buffer.getvalue())
    report = import_file(path, business=tea.business, kind="customers", dry_run=True)
    assert "at most 1 MB." in report.file_error


def test_xlsx_with_too_many_rows_is_refused_before_parsing(tea, tmp_path, settings, monkeypatch):
    settings.XW_IMPORT_MAX_ROWS = 100
    path = tmp_path / "rows.xlsx"
    path.write_bytes(xlsx_bytes([["name", "phone"]] + [[f"c{i}", ""] for i in range(150)]))
    _no_openpyxl(monkeypatch)
    report = import_file(path, business=tea.business, kind="customers")
    assert "more than 100 rows" in report.file_error
    assert estimate_rows(path) > 0  # a guess from the size, without openpyxl
    assert not Customer.objects.exists()


def test_xlsx_within_the_row_limit_still_imports(tea, tmp_path, settings):
    settings.XW_IMPORT_MAX_ROWS = 100
    path = tmp_path / "ok.xlsx"
    path.write_bytes(xlsx_bytes([["name", "phone"]] + [[f"c{i}", ""] for i in range(100)]))
    assert estimate_rows(path) == 101  # counted from the sheet's XML
    report = import_file(path, business=tea.business, kind="customers")
    assert report.written, report.file_error
    assert Customer.objects.count() == 100


def test_csv_with_too_many_rows_is_refused(tea, make_file, settings):
    settings.XW_IMPORT_MAX_ROWS = 100
    path = make_file([["name"]] + [[f"c{i}"] for i in range(200)])
    report = import_file(path, business=tea.business, kind="customers")
    assert "more than 100 rows" in report.file_error
    assert not Customer.objects.exists()


@pytest.mark.parametrize("name", ["a.csv", "a.xlsx"])
def test_row_limit_also_holds_while_reading(tea, make_file, settings, monkeypatch, name):
    """Even when the cheap count is fooled, reading stops at the limit."""
    from customers.importing import reading

    settings.XW_IMPORT_MAX_ROWS = 100
    path = make_file([["name"]] + [[f"c{i}"] for i in range(130)], name=name)
    monkeypatch.setattr(reading, "HEADER_SEARCH_ROWS", 10)
    monkeypatch.setattr(reading, "_ROW_TAG", reading.re.compile(rb"<never>"))
    monkeypatch.setattr(reading, "detect_encoding", lambda source: ("utf-8-sig", 0))
    report = import_file(path, business=tea.business, kind="customers")
    assert "more than 100 rows" in report.file_error
    assert not Customer.objects.exists()
