"""The weekly report on a phone: the admin page and the e-mail HTML, in English and Chinese,
in Debian's Chromium at 390x844 (and no sideways scrolling at 360x640). Screenshots go to
var/screens/report-*.png."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from reports.models import WeeklyReport
from reports.presenting import present
from reports.services import report_email

pytestmark = [pytest.mark.browser]

PASSWORD = "xiaowei-demo"  # the demo password (customers/demo.py), test-only


@pytest.fixture
def demo_report(transactional_db):
    call_command("seed_demo", customers=120, stdout=StringIO())
    return WeeklyReport.objects.select_related("business").get(business__slug="tea")


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"page is {width}px wide in a {viewport}px screen"


def small_tap_targets(page, selector: str) -> list:
    boxes = [el.bounding_box() for el in page.locator(selector).all()]
    return [b for b in boxes if b and (b["height"] < 48 or b["width"] < 48)]


@pytest.mark.parametrize(("lang", "accept"), [("en", "en-US,en;q=0.9"), ("zh", "zh-CN,zh;q=0.9")])
def test_admin_report_page_on_a_phone(live_server, new_page, screens, demo_report, lang, accept):
    page = new_page(locale="zh-CN" if lang == "zh" else "en-US", accept_language=accept)
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.locator("#id_username").fill("tea_owner")
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.locator("#login-form [type=submit]").click()
    url = reverse("admin:reports_weeklyreport_change", args=[demo_report.pk])
    page.goto(live_server.url + url)
    heading = page.locator(".xwr h1").inner_text()
    assert ("周报" if lang == "zh" else "Weekly report") in heading
    assert page.locator(".xwr svg[role=img]").count() == 2  # charts, drawn server-side
    assert page.locator(".xwr svg title").first.text_content()  # with a text alternative
    page.screenshot(path=str(screens / f"report-admin-{lang}.png"), full_page=True)
    no_sideways_scroll(page)
    assert small_tap_targets(page, ".xwr a.xwr-tel, .xwr a.xwr-btn") == []
    page.set_viewport_size({"width": 360, "height": 640})
    no_sideways_scroll(page)


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_report_email_on_a_phone(new_page, screens, demo_report, lang):
    message = report_email(report=demo_report, language=lang, to=["owner@tea.test"])
    html = message.alternatives[0][0]
    page = new_page()
    page.set_content(html, wait_until="load")
    with translation.override(lang):
        title = present(demo_report)["subject"]
    assert page.title() == title
    assert page.locator("svg").count() == 0
    assert page.locator("table.xwr-bars").count() == 2  # the same charts as HTML bars
    page.screenshot(path=str(screens / f"report-email-{lang}.png"), full_page=True)
    no_sideways_scroll(page)
    page.set_viewport_size({"width": 360, "height": 640})
    no_sideways_scroll(page)
