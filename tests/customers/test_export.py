"""Export: safe to open in a spreadsheet, owners only, and it imports back unchanged."""

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from customers.exporting import customer_table, purchase_table, write_csv, write_xlsx
from customers.importing import import_file
from customers.models import Customer, Purchase
from tests.factories import CustomerFactory, PurchaseFactory, TagFactory

pytestmark = pytest.mark.usefixtures("media_in_tmp")

DANGEROUS = ["=1+1", "+SUM(A1)", "-2+3", "@SUM(A1:A2)", "\tTAB", "\rCR", '  =HYPERLINK("x")']


def _body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def _read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel on a Chinese PC needs the BOM
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture
def dangerous_customers(tea):
    return [
        CustomerFactory(business=tea.business, name=f"客户{i}", notes=value, wechat_id=value[:60])
        for i, value in enumerate(DANGEROUS)
    ]


def test_formula_cells_are_inert_in_csv(tea, dangerous_customers):
    out = io.BytesIO()
    write_csv(customer_table(tea.business), out)
    rows = _read_csv(out.getvalue())
    header = rows[0]
    notes = [row[header.index("Notes")] for row in rows[1:]]
    wechat = [row[header.index("WeChat ID")] for row in rows[1:]]
    assert sorted(notes) == sorted("'" + v for v in DANGEROUS)
    assert sorted(wechat) == sorted("'" + v for v in DANGEROUS)
    phones = [row[header.index("Phone")] for row in rows[1:]]
    assert all(p.startswith("'+86") for p in phones)  # a bare +86… is a number to Excel


def test_formula_cells_are_inert_in_xlsx(tea, dangerous_customers):
    out = io.BytesIO()
    write_xlsx(customer_table(tea.business), out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    header = [c.value for c in sheet[1]]
    notes = sheet.cell(row=1, column=header.index("Notes") + 1).column_letter
    cells = [c for c in sheet[notes][1:]]
    assert all(c.data_type == "s" for c in cells)  # strings, never formulas
    # XML turns a lone CR into LF on the way back; it stays quoted and inert either way.
    expected = sorted("'" + v.replace("\r", "\n") for v in DANGEROUS)
    assert sorted(c.value.replace("\r", "\n") for c in cells) == expected
    phone = sheet.cell(row=2, column=header.index("Phone") + 1)
    assert phone.data_type == "s"
    assert phone.value.startswith("+86")


def test_purchase_export_values(tea):
    customer = CustomerFactory(
        business=tea.business, name="=张三", phone="13800138000", customer_no="007"
    )
    PurchaseFactory(customer=customer, amount=Decimal("12.50"), cost=Decimal("5"), external_id="-1")
    out = io.BytesIO()
    write_csv(purchase_table(tea.business), out)
    rows = _read_csv(out.getvalue())
    assert rows[0] == [
        "Date", "Customer number", "Name", "Phone", "Amount", "Cost", "Channel", "Items",
        "External id",
    ]  # fmt: skip
    assert rows[1][1:] == ["007", "'=张三", "'+8613800138000", "12.50", "5.00", "", "", "'-1"]


def test_owner_exports_with_button_and_current_filters(tea, salon_world, client_for):
    CustomerFactory(business=tea.business, name="活跃客户", status="active")
    CustomerFactory(business=tea.business, name="潜在客户", status="lead")
    client = client_for(tea.owner)
    changelist = client.get(reverse("admin:customers_customer_changelist"))
    export_url = reverse("admin:customers_customer_export", args=["csv"])
    assert export_url in changelist.content.decode()
    response = client.get(export_url, {"status__exact": "lead"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    names = [row[1] for row in _read_csv(_body(response))[1:]]
    assert names == ["潜在客户"]
    everything = _read_csv(_body(client.get(export_url)))
    assert sorted(row[1] for row in everything[1:]) == ["活跃客户", "潜在客户"]  # no salon rows


def test_export_action_on_selected_rows(tea, client_for):
    a = CustomerFactory(business=tea.business, name="甲")
    CustomerFactory(business=tea.business, name="乙")
    response = client_for(tea.owner).post(
        reverse("admin:customers_customer_changelist"),
        {"action": "export_selected_xlsx", "_selected_action": [a.pk]},
    )
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(_body(response))).active
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["甲"]


@pytest.mark.parametrize(
    "url_name", ["admin:customers_customer_export", "admin:customers_purchase_export"]
)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_staff_cannot_export(tea, client_for, url_name, fmt):
    CustomerFactory(business=tea.business)
    client = client_for(tea.staff)
    assert client.get(reverse(url_name, args=[fmt])).status_code == 403
    changelist = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "/export/" not in changelist
    assert "export_selected" not in changelist


def test_staff_cannot_export_through_the_action(tea, client_for):
    a = CustomerFactory(business=tea.business, name="甲")
    response = client_for(tea.staff).post(
        reverse("admin:customers_customer_changelist"),
        {"action": "export_selected_csv", "_selected_action": [a.pk]},
    )
    assert response.status_code in (200, 302)
    assert not response.get("Content-Disposition")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_customer_export_imports_back_unchanged(tea, client_for, tmp_path, fmt):
    vip = TagFactory(business=tea.business, name="VIP")
    CustomerFactory(
        business=tea.business, name="张三", phone="13800138000", customer_no="007",
        email="z@example.com", gender="male", city="杭州", source="referral", status="lead",
        marketing_consent=True, notes="=先喝茶\n再聊天", tags=[vip], assigned_to=tea.staff,
        birthday="1990-05-06",
    )  # fmt: skip
    CustomerFactory(business=tea.business, name="李四", phone="", customer_no="")
    CustomerFactory(business=tea.business, name="+王五", phone="+442079460000", wechat_id="-wx")
    before = list(Customer.objects.order_by("pk").values())
    client = client_for(tea.owner)
    response = client.get(reverse("admin:customers_customer_export", args=[fmt]))
    path = tmp_path / f"customers.{fmt}"
    path.write_bytes(_body(response))
    report = import_file(path, business=tea.business, kind="customers")
    assert report.error_rows == 0, report.errors
    assert report.counts["unchanged"] == 3
    assert report.to_write == 0
    assert list(Customer.objects.order_by("pk").values()) == before


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_purchase_export_imports_back_creating_nothing(tea, client_for, tmp_path, fmt):
    customer = CustomerFactory(business=tea.business, name="张三", phone="13800138000")
    PurchaseFactory(customer=customer, amount=Decimal("12.50"), external_id="T-1")
    PurchaseFactory(customer=customer, amount=Decimal("8.00"))  # no external id, microseconds
    response = client_for(tea.owner).get(reverse("admin:customers_purchase_export", args=[fmt]))
    path = tmp_path / f"purchases.{fmt}"
    path.write_bytes(_body(response))
    report = import_file(path, business=tea.business, kind="purchases")
    assert report.error_rows == 0, report.errors
    assert report.counts["skipped"] == 2
    assert report.counts["new"] == 0
    assert Purchase.objects.count() == 2


def test_headers_follow_the_language_and_import_back(tea, client_for, monkeypatch):
    from django.utils.translation import trans_real

    catalog = trans_real.translation("zh-hans")._catalog._catalogs[0]
    monkeypatch.setitem(catalog, "Customer number", "会员编号")
    monkeypatch.setitem(catalog, "Name", "姓名")
    CustomerFactory(business=tea.business, name="张三", customer_no="007", phone="")
    client = client_for(tea.owner)
    client.cookies["django_language"] = "zh-hans"
    body = _body(client.get(reverse("admin:customers_customer_export", args=["csv"])))
    header = _read_csv(body)[0]
    assert header[:2] == ["会员编号", "姓名"]
    stream = io.BytesIO(body)
    assert import_file(stream, business=tea.business, kind="customers").counts["unchanged"] == 1


TRICKY_NAMES = ["'=1+1", "=1+1", "''=2", "'abc", "＝1+1", "＋86", "－3", "＠SUM(A1)", "﹦1"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_round_trip_is_exact_for_names_that_start_with_a_quote(tea, client_for, tmp_path, fmt):
    for i, name in enumerate(TRICKY_NAMES):
        CustomerFactory(business=tea.business, name=name, customer_no=f"Q{i}", phone="")
    before = list(Customer.objects.order_by("pk").values_list("name", flat=True))
    response = client_for(tea.owner).get(reverse("admin:customers_customer_export", args=[fmt]))
    path = tmp_path / f"customers.{fmt}"
    path.write_bytes(_body(response))
    report = import_file(path, business=tea.business, kind="customers")
    assert report.error_rows == 0, report.errors
    assert report.counts["unchanged"] == len(TRICKY_NAMES), report.preview
    assert list(Customer.objects.order_by("pk").values_list("name", flat=True)) == before


def test_full_width_formula_prefixes_are_neutralised(tea):
    for i, name in enumerate(["＝1+1", "＋1", "－1", "＠A1", "﹦1"]):
        CustomerFactory(business=tea.business, name=name, customer_no=f"F{i}", phone="")
    out = io.BytesIO()
    write_csv(customer_table(tea.business), out)
    rows = _read_csv(out.getvalue())
    names = [row[rows[0].index("Name")] for row in rows[1:]]
    assert sorted(names) == sorted(["'＝1+1", "'＋1", "'－1", "'＠A1", "'﹦1"])
