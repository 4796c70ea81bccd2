"""The back office: setup, commands through services, read-only ledger, reports, isolation."""

from decimal import Decimal

import pytest
from django.urls import reverse

from membership.models import LedgerEntry, LedgerOperation, MemberAccount, ReconciliationRun
from membership.services import checkout, ledger_reconcile
from tests.membership.conftest import open_card


def command(client, account, name, data):
    url = reverse("admin:membership_memberaccount_command", args=[account.pk, name])
    return client.post(url, {"key": f"adm-{name}-{account.pk}", **data})


def test_owner_sells_a_top_up_a_visit_package_and_takes_payment_from_the_card(
    tea, client_for, products
):
    client = client_for(tea.staff)
    account = open_card(tea)
    assert command(client, account, "top-up", {"package": products["topup"].pk}).status_code == 302
    response = command(client, account, "sell-visits", {"product": products["visits"].pk})
    assert response.status_code == 302
    package = account.visit_packages.get()
    response = command(
        client, account, "checkout",
        {"amount": "88.00", "stored_value": "88.00", "visit_package": package.pk, "points": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.stored_value == Decimal("462.00")
    package.refresh_from_db()
    assert package.visits_left == 9
    entry = LedgerEntry.objects.filter(account=account, kind="spend").get()
    assert entry.actor == tea.staff


def test_refused_checkout_shows_the_message_and_changes_nothing(tea, client_for, card):
    response = command(client_for(tea.staff), card, "checkout",
                       {"amount": "300", "stored_value": "300"})  # fmt: skip
    assert response.status_code == 200
    assert "Not enough stored value" in response.content.decode()
    card.refresh_from_db()
    assert card.principal == Decimal("100.00")


def test_bad_amount_is_a_form_error(tea, client_for, card):
    response = command(client_for(tea.staff), card, "top-up", {"pay": "12.345"})
    assert response.status_code == 200
    assert LedgerEntry.objects.filter(account=card).count() == 1


def test_staff_cannot_adjust_owner_can(tea, client_for, card):
    assert command(client_for(tea.staff), card, "adjust",
                   {"principal": "5", "reason": "x"}).status_code == 404  # fmt: skip
    response = command(client_for(tea.owner), card, "adjust",
                       {"principal": "5.00", "reason": "till count"})  # fmt: skip
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.principal == Decimal("105.00")


def test_ledger_is_read_only_in_the_admin(tea, client_for, card):
    client = client_for(tea.owner)
    entry = LedgerEntry.objects.filter(account=card).first()
    change = reverse("admin:membership_ledgerentry_change", args=[entry.pk])
    assert client.get(change).status_code == 200
    client.post(change, {"principal": "999"})
    assert client.get(reverse("admin:membership_ledgerentry_add")).status_code == 403
    delete = reverse("admin:membership_ledgerentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.principal == Decimal("100.00")
    acct_change = reverse("admin:membership_memberaccount_change", args=[card.pk])
    client.post(acct_change, {"card_no": card.card_no, "principal": "5000"})
    card.refresh_from_db()
    assert card.principal == Decimal("100.00")


def test_owner_reverses_an_operation(tea, client_for, card):
    result = checkout(account=card, amount=Decimal("30"), stored_value=Decimal("30"))
    url = reverse("admin:membership_ledgeroperation_reverse", args=[result["operation"]])
    assert client_for(tea.staff).post(url, {"reason": "x"}).status_code == 403
    assert client_for(tea.owner).post(url, {"reason": "wrong card", "key": "r"}).status_code == 302
    card.refresh_from_db()
    assert card.principal == Decimal("100.00")


def test_find_by_card_number(tea, client_for, card):
    url = reverse("admin:membership_memberaccount_find")
    response = client_for(tea.staff).get(url, {"card_no": card.card_no})
    assert response.status_code == 302
    assert response["Location"].endswith(f"/{card.pk}/change/")
    assert client_for(tea.staff).get(url, {"card_no": "0000"}).status_code == 200


def test_report_figures(tea, client_for, products):
    account = open_card(tea, stored="500", bonus="50")
    checkout(account=account, amount=Decimal("110"), stored_value=Decimal("110"),
             actor=tea.staff)  # fmt: skip
    response = client_for(tea.owner).get(reverse("admin:membership_memberaccount_report"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<td id="outstanding">440.00</td>' in html
    assert '<td id="topped">500.00</td>' in html
    assert '<td id="spent">110.00</td>' in html
    assert '<td id="change">440.00</td>' in html
    assert "tea_staff" in html


def test_exports_are_owner_only_formula_safe_and_scoped(tea, salon, client_for):
    account = open_card(tea, stored="10", name="=HYPERLINK(1)")
    theirs = open_card(salon, stored="10", name="沙龙会员")
    url = reverse("admin:membership_memberaccount_export", args=["ledger", "csv"])
    assert client_for(tea.staff).get(url).status_code == 403
    response = client_for(tea.owner).get(url)
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in body
    assert account.card_no in body
    assert theirs.card_no not in body
    assert "沙龙会员" not in body
    xlsx = client_for(tea.owner).get(
        reverse("admin:membership_memberaccount_export", args=["balances", "xlsx"])
    )
    assert xlsx.status_code == 200
    assert xlsx["Content-Type"].startswith("application/vnd.openxml")


def test_reconciliation_differences_are_shown_to_the_owner(tea, client_for, card):
    MemberAccount.objects.filter(pk=card.pk).update(points=77)
    ledger_reconcile(business=tea.business)
    response = client_for(tea.owner).get(reverse("admin:membership_memberaccount_changelist"))
    assert "differ from the ledger" in response.content.decode()
    assert ReconciliationRun.objects.get().difference_count == 1


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_another_business_card_ledger_and_qr_are_404_in_the_admin(tea, salon, client_for, who):
    theirs = open_card(salon, stored="10")
    op = LedgerOperation.objects.filter(entries__account=theirs).first()
    entry = LedgerEntry.objects.filter(account=theirs).first()
    client = client_for(getattr(tea, who))
    urls = [
        reverse("admin:membership_memberaccount_change", args=[theirs.pk]),
        reverse("admin:membership_memberaccount_command", args=[theirs.pk, "checkout"]),
        reverse("admin:membership_memberaccount_qr", args=[theirs.pk, "png"]),
        reverse("admin:membership_memberaccount_qr", args=[theirs.pk, "svg"]),
        reverse("admin:membership_ledgerentry_change", args=[entry.pk]),
        reverse("admin:membership_ledgeroperation_change", args=[op.pk]),
        reverse("admin:membership_ledgeroperation_reverse", args=[op.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code in (302, 404), url
        if response.status_code == 302:  # the admin redirects a missing object to its index
            assert str(theirs.pk) not in response["Location"]
    assert client.post(urls[1], {"amount": "1", "stored_value": "1"}).status_code == 404
    assert (
        client.post(
            reverse("admin:membership_memberaccount_new_link", args=[theirs.pk])
        ).status_code
        == 404
    )
    find = client.get(reverse("admin:membership_memberaccount_find"), {"card_no": theirs.card_no})
    assert find.status_code == 200
    listing = client.get(reverse("admin:membership_memberaccount_changelist")).content.decode()
    assert theirs.card_no not in listing
    theirs.refresh_from_db()
    assert theirs.principal == Decimal("10.00")
