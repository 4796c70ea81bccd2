"""The customer's card page and the checkout screen in a real Chromium, on phones."""

from decimal import Decimal

import pytest
from django.urls import reverse

from membership.card import card_path
from membership.models import VisitProduct
from membership.services import checkout, visit_package_sell
from tests.browsing import SCREENS, need_chromium
from tests.feedback.test_feedback_browser import PASSWORD, in_own_thread, log_in
from tests.membership.conftest import open_card

pytestmark = [pytest.mark.browser]
PHONES = {"360x640": {"width": 360, "height": 640}, "390x844": {"width": 390, "height": 844}}


def look_at_card(browser, url: str) -> list[str]:
    seen = []
    for size, viewport in PHONES.items():
        for locale, lang in (("zh-CN", "zh-hans"), ("en-US", "en")):
            context = browser.new_context(
                viewport=viewport, locale=locale, java_script_enabled=False,
                extra_http_headers={"Accept-Language": locale},
            )  # fmt: skip
            page = context.new_page()
            page.goto(url)
            assert page.locator("html").get_attribute("lang") == lang
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            for link in page.locator(".langs a, a.button").all():
                box = link.bounding_box()
                assert box["height"] >= 48, link.inner_text()
            assert page.locator("svg.xw-qr").is_visible()
            path = SCREENS / f"member_card_{size}_{lang}.png"
            page.screenshot(path=str(path), full_page=True)
            seen.append(page.locator("h2#balance").inner_text())
            context.close()
    return seen


def checkout_on_a_phone(browser, base_url: str, account_pk: int) -> None:
    context = browser.new_context(viewport=PHONES["390x844"], locale="zh-CN",
                                  extra_http_headers={"Accept-Language": "zh-CN"})  # fmt: skip
    page = context.new_page()
    log_in(page, base_url, "tea_staff")
    page.goto(base_url + reverse("admin:membership_memberaccount_command",
                                 args=[account_pk, "checkout"]))  # fmt: skip
    assert page.locator("#id_amount").get_attribute("inputmode") == "decimal"
    assert page.locator("#id_points").get_attribute("inputmode") == "numeric"
    page.locator("#id_amount").fill("30.00")
    page.locator("#id_stored_value").fill("30.00")
    page.screenshot(path=str(SCREENS / "member_checkout_390x844_zh.png"), full_page=True)
    with page.expect_navigation(wait_until="load"):
        page.locator("input[type=submit]").click()
    assert "/change/" in page.url
    page.screenshot(path=str(SCREENS / "member_account_390x844_zh.png"), full_page=True)
    context.close()


def test_card_page_and_checkout_on_phones(live_server, transactional_db):
    from tests.conftest import make_tenant

    need_chromium()
    SCREENS.mkdir(parents=True, exist_ok=True)
    tea = make_tenant("tea", "清风茶馆")
    tea.staff.set_password(PASSWORD)
    tea.staff.save()
    account = open_card(tea, stored="500", bonus="50", name="王芳芳")
    product = VisitProduct.objects.create(
        business=tea.business, name="精洗十次卡", visits=10, price=Decimal("300")
    )
    visit_package_sell(account=account, product=product)
    checkout(account=account, amount=Decimal("88"), stored_value=Decimal("88"), items="龙井")
    headings = in_own_thread(look_at_card, live_server.url + card_path(account))
    assert headings == ["储值余额", "Stored value"] * 2
    in_own_thread(checkout_on_a_phone, live_server.url, account.pk)
    account.refresh_from_db()
    assert account.stored_value == Decimal("432.00")
