"""The command line: same pipeline, a summary, and an exit status scripts can trust."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.models import Customer, Purchase
from tests.factories import CustomerFactory

GOOD = [
    ["姓名", "手机", "会员号", "积分"],
    ["张三", "13800138000", "001", "5"],
    ["李四", "13900139000", "", ""],
]
BAD = [*GOOD, ["王五", "not a phone", "", ""]]


def run(*argv):
    """The exit status a shell would see: `manage.py` turns a CommandError into exit(1)."""
    try:
        call_command(*map(str, argv))
    except CommandError as exc:
        run.message = str(exc)
        return exc.returncode
    return 0


def test_clean_file_exits_zero_with_summary(tea, make_file, capsys):
    path = make_file(GOOD)
    assert run("import_customers", path, "--business", "tea", "--language", "en") == 0
    out = capsys.readouterr().out
    assert "2 rows: 2 new, 0 updated, 0 unchanged, 0 merged, 0 skipped, 0 with errors." in out
    assert "Ignored columns: 积分" in out
    assert Customer.objects.for_business(tea.business).count() == 2


def test_errors_write_nothing_and_exit_non_zero(tea, make_file, capsys):
    path = make_file(BAD)
    assert run("import_customers", path, "--business", "tea", "--language", "en") == 1
    captured = capsys.readouterr()
    assert "Row 4, 手机: “not a phone” is not a phone number." in captured.out
    assert "Nothing was written" in run.message
    assert not Customer.objects.exists()


def test_valid_only_writes_the_good_rows_and_exits_zero(tea, make_file):
    path = make_file(BAD)
    assert run("import_customers", path, "--business", "tea", "--valid-only") == 0
    assert Customer.objects.count() == 2


def test_dry_run_writes_nothing(tea, make_file, capsys):
    assert run("import_customers", make_file(GOOD), "--business", "tea", "--dry-run") == 0
    assert not Customer.objects.exists()
    assert run("import_customers", make_file(BAD), "--business", "tea", "--dry-run") == 1


def test_unknown_business_and_unreadable_file_fail(tea, make_file, tmp_path):
    with pytest.raises(CommandError, match="No business"):
        call_command("import_customers", str(make_file(GOOD)), business="nope")
    bad = tmp_path / "x.csv"
    bad.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(CommandError):
        call_command("import_customers", str(bad), business="tea")


def test_import_purchases_twice_and_with_create_customers(tea, make_file, capsys):
    CustomerFactory(business=tea.business, name="张三", phone="13800138000", customer_no="001")
    path = make_file(
        [
            ["日期", "会员号", "手机", "金额", "单号"],
            ["2025-03-01", "001", "", "10", "A"],
            ["2025-03-01", "", "13700137000", "10", "B"],
        ]
    )
    assert run("import_purchases", path, "--business", "tea") == 1
    assert not Purchase.objects.exists()
    assert run("import_purchases", path, "--business", "tea", "--create-customers") == 0
    assert Purchase.objects.count() == 2
    assert Customer.objects.count() == 2
    again = ("import_purchases", path, "--business", "tea", "--create-customers")
    assert run(*again, "--language", "en") == 0
    assert Purchase.objects.count() == 2
    assert "0 new" in capsys.readouterr().out.splitlines()[-2]


def test_export_commands_write_files(tea, tmp_path):
    CustomerFactory(business=tea.business, name="=张三")
    csv_path, xlsx_path = tmp_path / "c.csv", tmp_path / "c.xlsx"
    call_command("export_customers", str(csv_path), business="tea", language="en")
    call_command("export_purchases", str(xlsx_path), business="tea")
    assert "'=张三" in csv_path.read_text(encoding="utf-8-sig")
    assert xlsx_path.read_bytes().startswith(b"PK")
