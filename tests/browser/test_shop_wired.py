"""The wired screens in Debian's Chromium, at 360×640 and 390×844, in Chinese and English:
a member's sale and card, and the weekly report in the app. No sideways scrolling, tap
targets of at least 48 px, text of at least 16 px, no serious or critical axe violations;
screenshots in var/screens/shop-wired-*.png."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.services import campaign_start
from membership.services import coupon_issue, visit_package_sell
from reports.services import weekly_report_build
from tests.browser.test_shop_app import LANGS, LAYOUT_JS, VIEWPORTS, _axe_serious, _log_in
from tests.campaigns.conftest import campaign, customers
from tests.factories import PurchaseFactory
from tests.membership.conftest import open_card, products  # noqa: F401
from tests.reports.conftest import NOW, WEEK, known_week, local  # noqa: F401

pytestmark = [pytest.mark.browser]


@pytest.fixture
def wired_world(transactional_db, tea, known_week, products):  # noqa: F811
    account = open_card(tea, stored="300", bonus="30", name="会员王芳")
    visit_package_sell(account=account, product=products["visits"], key="v1", actor=tea.owner)
    coupon_issue(account=account, template=products["coupon"], key="c1", actor=tea.owner)
    _campaign_in_the_week(tea.business)
    weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    return account


def _campaign_in_the_week(business) -> None:
    """A win-back campaign that ran in the report's week, so the report shows its section
    (a long name, a result in words, the return shares)."""
    people = customers(business, 60, start=7000)
    start = local(2026, 3, 2, 12)
    c = campaign(business, name="老朋友回店礼 · 三月 Long-Campaign-Name", control_pct=30, seed=5)
    campaign_start(campaign=c, now=start)
    for person in people[::3]:
        PurchaseFactory(customer=person, occurred_at=start + timedelta(days=2))


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", list(LANGS))
def test_wired_screens_fit_a_phone(browser, live_server, wired_world, screens, lang, viewport):
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="zh-CN" if lang == "zh" else "en-US",
        extra_http_headers={"Accept-Language": LANGS[lang]},
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    customer = wired_world.customer_id
    pages = [
        ("member-sale", reverse("shop:sale") + f"?customer={customer}"),
        ("member-card", reverse("shop:customer", args=[customer])),
        ("reports", reverse("shop:reports")),
    ]
    try:
        _log_in(page, live_server.url, "tea_owner")
        problems = []
        for name, path in pages:
            response = page.goto(live_server.url + path)
            assert response.status == 200, (name, response.status)
            if name == "reports":  # the week's campaign, with its result in words
                assert "老朋友回店礼" in page.content()
            layout = page.evaluate(LAYOUT_JS)
            if layout["overflow"] > 0:
                problems.append(f"{name}: scrolls sideways by {layout['overflow']} px")
            problems += [f"{name}: small target {s}" for s in layout["small"]]
            problems += [f"{name}: small text {s}" for s in layout["tiny"]]
            if viewport == "390x844":
                problems += [f"{name}: axe {v}" for v in _axe_serious(page)]
            page.screenshot(
                path=str(screens / f"shop-wired-{name}-{lang}-{viewport}.png"), full_page=True
            )
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_member_pays_from_the_card_in_the_browser(browser, live_server, wired_world, new_page):
    page = new_page(locale="zh-CN", accept_language="zh-CN,zh;q=0.9")
    _log_in(page, live_server.url, "tea_staff")
    page.goto(live_server.url + reverse("shop:sale") + f"?customer={wired_world.customer_id}")
    assert page.get_attribute("#id_stored_value", "inputmode") == "decimal"
    assert page.get_attribute("#id_points", "inputmode") == "numeric"
    page.fill("#id_amount", "88")
    page.fill("#id_stored_value", "88")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "获得积分" in page.locator(".flash").inner_text()
    wired_world.refresh_from_db()
    assert wired_world.principal + wired_world.bonus == Decimal("242.00")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", list(LANGS))
def test_report_with_a_campaign_in_admin_and_email(
    browser, live_server, wired_world, screens, lang, viewport, tea
):
    """The report's campaigns section where the owner reads it at a desk (admin) and in the
    e-mail, on a phone: no sideways scrolling; screenshots to look at."""
    from reports.models import WeeklyReport
    from reports.services import report_email

    report = WeeklyReport.objects.get(business=tea.business, week_start=WEEK)
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="zh-CN" if lang == "zh" else "en-US",
        extra_http_headers={"Accept-Language": LANGS[lang]},
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("admin:login"))
        page.fill("#id_username", "tea_owner")
        page.fill("#id_password", "pw-xiaowei-1")
        with page.expect_navigation():
            page.click("#login-form [type=submit]")
        page.goto(live_server.url + reverse("admin:reports_weeklyreport_change", args=[report.pk]))
        assert "老朋友回店礼" in page.content()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        page.screenshot(
            path=str(screens / f"report-campaign-admin-{lang}-{viewport}.png"), full_page=True
        )
        assert overflow <= 0, f"admin report scrolls sideways by {overflow} px"
        language = "zh-hans" if lang == "zh" else "en"
        html = report_email(report=report, language=language, to=["o@tea.test"]).alternatives[0][0]
        page.set_content(html, wait_until="load")
        assert "老朋友回店礼" in page.content()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        page.screenshot(
            path=str(screens / f"report-campaign-email-{lang}-{viewport}.png"), full_page=True
        )
        assert overflow <= 0, f"report e-mail scrolls sideways by {overflow} px"
    finally:
        context.close()
