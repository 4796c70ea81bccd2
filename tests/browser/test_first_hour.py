"""A new owner's first hour, in Chromium at 390x844, in English and in Chinese, offline:
log in, open the business settings and save them, see scores on the home page, and open
/api/docs/ — with every request to anything but this server blocked."""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Business

pytestmark = [pytest.mark.browser]

PASSWORD = "xiaowei-demo"  # the demo password (customers/demo.py), demo data only

TEXT = {
    "en": {"accept": "en-US,en;q=0.9", "chart": "Customers by segment and value tier",
           "saved": "was changed successfully", "lang": "en"},
    "zh": {"accept": "zh-CN,zh;q=0.9", "chart": "按客户分群和价值等级统计的客户",
           "saved": "成功", "lang": "zh-hans"},
}  # fmt: skip


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", "--customers", "40")
    return Business.objects.get(slug="tea")


def offline_page(new_page, accept_language: str, locale: str):
    """A page whose requests to any host but this machine are aborted and recorded."""
    page = new_page(locale=locale, accept_language=accept_language)
    blocked: list[str] = []

    def only_local(route):
        host = urlsplit(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_local)
    return page, blocked


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("document.documentElement.clientWidth")
    assert width <= viewport + 1, f"{page.url}: {width}px wide in a {viewport}px viewport"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_first_hour_offline(live_server, demo, new_page, screens, lang):
    text = TEXT[lang]
    page, blocked = offline_page(new_page, text["accept"], "zh-CN" if lang == "zh" else "en-US")
    base = live_server.url

    # Log in.
    page.goto(f"{base}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.locator("#id_username").fill("tea_owner")
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.locator("#login-form [type=submit]").click()
    assert page.locator("#login-form").count() == 0, "still on the login page"
    assert page.locator("html").get_attribute("lang") == text["lang"]

    # Scores on the home page, straight after seed_demo.
    chart = page.locator("#xw-segment-chart")
    assert text["chart"] in chart.inner_text()
    assert chart.locator("tbody tr").count() > 0, "no scores on the home page"
    no_sideways_scroll(page)
    page.screenshot(path=str(screens / f"first_hour_{lang}_1_home.png"), full_page=True)

    # Business settings: open and save a new margin.
    page.goto(base + reverse("admin:accounts_business_change", args=[demo.pk]))
    margin = page.locator("#id_default_margin_pct")
    assert margin.get_attribute("type") == "number"  # a numeric keypad on a phone
    margin.fill("35.5")
    no_sideways_scroll(page)
    page.set_viewport_size({"width": 360, "height": 640})  # the smaller phone too
    no_sideways_scroll(page)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screens / f"first_hour_{lang}_2_settings.png"), full_page=True)
    with page.expect_navigation(wait_until="load"):
        page.locator("input[name=_save]").click()
    assert page.locator(".errornote, .errorlist").count() == 0
    assert text["saved"] in page.locator(".messagelist").inner_text()
    demo.refresh_from_db()
    assert demo.default_margin_pct == Decimal("35.50")

    # The API docs, served from the project: Swagger UI renders without the internet.
    page.goto(base + "/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for(state="visible")
    assert "XiaoWei CRM API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".swagger-ui .opblock").count() > 5
    page.screenshot(path=str(screens / f"first_hour_{lang}_3_api_docs.png"))

    assert page.request.get(base + "/favicon.ico").status == 200
    assert blocked == [], f"requests left this machine: {blocked}"
