"""The customer admin on a phone-sized screen: log in, add a customer, record a purchase.

Runs the real login form and admin forms in Chromium at 390x844, in English and in
Chinese (Accept-Language zh-CN -> Django's LocaleMiddleware picks zh-hans).
"""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from customers.models import Customer, Purchase

pytestmark = [pytest.mark.browser]

PASSWORD = "xiaowei-demo"  # the demo password (customers/demo.py), test-only
PHONE_TYPED = "138 0013 8000"
PHONE_STORED = "+8613800138000"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def tea_login(tea):
    tea.owner.set_password(PASSWORD)
    tea.owner.save()
    return tea


def submit(page, selector: str) -> None:
    """Click a submit button and wait until the resulting page has loaded."""
    with page.expect_navigation(wait_until="load"):
        page.locator(selector).click()


def assert_no_form_errors(page) -> None:
    errors = page.locator(".errornote, .errorlist")
    if errors.count():
        texts = " | ".join(t.strip() for t in errors.all_inner_texts() if t.strip())
        pytest.fail(f"the admin form reported errors at {page.url}: {texts}")


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    submit(page, "#login-form [type=submit]")
    assert page.url.rstrip("/").endswith(reverse("admin:index").rstrip("/")), page.url
    assert page.locator("#login-form").count() == 0, "still on the login page"


def add_customer(page, base_url: str, business, name: str) -> Customer:
    page.goto(base_url + reverse("admin:customers_customer_add"))
    page.locator("#id_name").fill(name)
    page.locator("#id_phone").fill(PHONE_TYPED)
    submit(page, "input[name=_save]")
    assert_no_form_errors(page)
    assert page.url.endswith(reverse("admin:customers_customer_changelist")), page.url
    customer = Customer.objects.get(business=business, name=name)
    assert customer.phone == PHONE_STORED
    return customer


def add_purchase(page, base_url: str, customer: Customer, amount: str) -> None:
    change_url = base_url + reverse("admin:customers_customer_change", args=[customer.pk])
    page.goto(change_url)
    # The first (extra) row of the Purchase inline; occurred_at is a split date/time widget.
    page.locator("input[name='purchases-0-occurred_at_0']").fill("2025-03-08")
    page.locator("input[name='purchases-0-occurred_at_1']").fill("14:30:00")
    page.locator("input[name='purchases-0-amount']").fill(amount)
    page.locator("input[name='purchases-0-channel']").fill("门店")
    submit(page, "input[name=_continue]")
    assert_no_form_errors(page)
    assert page.url == change_url, page.url


def assert_purchase_saved(customer: Customer, business, amount: str) -> None:
    purchase = Purchase.objects.get(customer=customer)
    assert purchase.business_id == business.pk
    assert purchase.amount == Decimal(amount)
    assert purchase.occurred_at == datetime(2025, 3, 8, 14, 30, tzinfo=SHANGHAI)


def assert_timeline_shows(page, amount: str) -> None:
    timeline = page.locator("ul.xw-timeline")
    timeline.wait_for(state="visible")
    purchase_row = timeline.locator("li.xw-purchase")
    assert purchase_row.count() == 1
    text = purchase_row.inner_text()
    assert f"¥{amount}" in text, text
    assert "2025-03-08 14:30" in text, text


def test_add_customer_and_purchase_on_phone_english(
    live_server, transactional_db, tea_login, new_page, screens
):
    page = new_page(locale="en-US", accept_language="en-US,en;q=0.9")
    log_in(page, live_server.url, "tea_owner")
    assert page.locator("html").get_attribute("lang") == "en"

    customer = add_customer(page, live_server.url, tea_login.business, "Lin Mei")
    add_purchase(page, live_server.url, customer, "88.50")

    assert_timeline_shows(page, "88.50")
    assert_purchase_saved(customer, tea_login.business, "88.50")
    page.screenshot(path=str(screens / "admin_mobile_en.png"), full_page=True)


def test_add_customer_and_purchase_on_phone_chinese(
    live_server, transactional_db, tea_login, new_page, screens
):
    page = new_page(locale="zh-CN", accept_language="zh-CN,zh;q=0.9")
    log_in(page, live_server.url, "tea_owner")
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    page.goto(live_server.url + reverse("admin:customers_customer_add"))
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    # Django's own admin translations: the save buttons.
    assert page.locator("input[name=_save]").get_attribute("value") == "保存"
    assert page.locator("input[name=_continue]").get_attribute("value") == "保存并继续编辑"

    customer = add_customer(page, live_server.url, tea_login.business, "王芳")
    add_purchase(page, live_server.url, customer, "128.00")

    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator("input[name=_save]").get_attribute("value") == "保存"
    assert_timeline_shows(page, "128.00")
    assert_purchase_saved(customer, tea_login.business, "128.00")
    page.screenshot(path=str(screens / "admin_mobile_zh.png"), full_page=True)
