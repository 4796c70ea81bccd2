"""Migration in through the customers import pipeline; exports are formula-safe."""

from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from customers.importing import import_file
from membership.models import LedgerEntry, MemberAccount
from membership.resources import MEMBER_BALANCES
from tests.factories import CustomerFactory

GOOD = (
    "卡号,手机,姓名,储值余额,赠送余额,积分,剩余次数,次卡名称,到期日\n"
    "8001,13800138001,老王,1280.50,100,350,6,洗车十次,2027-06-30\n"
    "8002,13800138002,新客户,0,0,20,,,\n"
)


def write(tmp_path, text: str, encoding: str = "utf-8-sig"):
    path = tmp_path / "old.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_opening_balances_import_all_or_nothing_and_once(tea, tmp_path):
    CustomerFactory(business=tea.business, name="老王", phone="+8613800138001")
    path = write(tmp_path, GOOD, "gb18030")
    preview = import_file(str(path), business=tea.business, kind=MEMBER_BALANCES, dry_run=True)
    assert not preview.blocked
    assert preview.counts["updated"] == 1
    assert preview.counts["new"] == 1
    assert not MemberAccount.objects.exists()
    report = import_file(str(path), business=tea.business, kind=MEMBER_BALANCES)
    assert report.written
    wang = MemberAccount.objects.get(card_no="8001")
    assert (wang.principal, wang.bonus, wang.points) == (Decimal("1280.50"), Decimal("100"), 350)
    package = wang.visit_packages.get()
    assert package.visits_left == 6
    assert package.name == "洗车十次"
    assert LedgerEntry.objects.filter(kind="opening").count() == 3
    assert report.customers_created == 1
    again = import_file(str(path), business=tea.business, kind=MEMBER_BALANCES)
    assert again.counts["skipped"] == 2
    assert LedgerEntry.objects.filter(kind="opening").count() == 3


def test_a_bad_row_writes_nothing_and_names_row_and_column(tea, tmp_path):
    text = GOOD + "8003,13800138003,张三,-5,0,0,,,\n8004,,,10,0,0,,,\n"
    report = import_file(str(write(tmp_path, text)), business=tea.business, kind=MEMBER_BALANCES)
    assert report.blocked
    assert not report.written
    rows = {(e["row"], e["column"]) for e in report.errors}
    assert (4, "储值余额") in rows
    assert 5 in {e["row"] for e in report.errors}
    assert not MemberAccount.objects.exists()


def test_card_of_another_business_is_not_touched(tea, salon, tmp_path):
    from membership.services import account_open

    theirs = account_open(
        customer=CustomerFactory(business=salon.business, phone="+8613800138001"), card_no="8001"
    )
    report = import_file(str(write(tmp_path, GOOD)), business=tea.business, kind=MEMBER_BALANCES)
    assert report.written
    theirs.refresh_from_db()
    assert theirs.principal == Decimal("0.00")
    assert MemberAccount.objects.filter(business=tea.business).count() == 2


def test_command_line_import(tea, tmp_path, capsys):
    call_command(
        "import_member_balances", str(write(tmp_path, GOOD)), business="tea", language="en"
    )
    assert "2 rows" in capsys.readouterr().out
    assert MemberAccount.objects.filter(business=tea.business).count() == 2


def test_admin_upload_preview_confirm(tea, client_for, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(tea.owner)
    url = reverse("admin:membership_memberaccount_import")
    upload = SimpleUploadedFile("old.csv", GOOD.encode("utf-8-sig"), content_type="text/csv")
    response = client.post(url, {"file": upload})
    assert response.status_code == 200
    assert not MemberAccount.objects.exists()
    response = client.post(url, {"confirm": "1"})
    assert response.status_code == 302
    assert MemberAccount.objects.filter(business=tea.business).count() == 2
    assert client_for(tea.staff).get(url).status_code == 403


def test_formula_cells_in_the_file_are_kept_as_text(tea, tmp_path):
    text = "卡号,手机,姓名,储值余额\n8009,13800138009,=cmd|' /C calc'!A0,10\n"
    report = import_file(str(write(tmp_path, text)), business=tea.business, kind=MEMBER_BALANCES)
    assert report.written
    assert MemberAccount.objects.get(card_no="8009").customer.name.startswith("=")
