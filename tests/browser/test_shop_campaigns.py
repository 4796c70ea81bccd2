"""Campaigns in the phone app, in Debian's Chromium (issue 15): the owner creates a win-back
campaign from the phone and starts it, staff send it (SMS opens the messages app, WeChat
copies the text), and the owner reads what it earned — in Chinese and English, at 360×640 and
390×844: no sideways scrolling, tap targets ≥ 48 px, text ≥ 16 px, numeric keypads, no serious
or critical axe violations. Screenshots in var/screens/shop-campaign-*.png."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse

from campaigns.models import Campaign, CampaignMember
from campaigns.services import campaign_start
from membership.models import Coupon, CouponTemplate
from segmentation.models import Tier
from tests.browser.test_shop_app import LANGS, LAYOUT_JS, VIEWPORTS, _axe_serious, _log_in
from tests.campaigns.conftest import NOON, campaign, customers
from tests.factories import PurchaseFactory, give_score

pytestmark = [pytest.mark.browser]


@pytest.fixture
def clock():
    """The live server's clock (same process): midday in Shanghai, outside quiet hours."""
    patcher = mock.patch("django.utils.timezone.now", return_value=NOON)
    now = patcher.start()
    yield now
    patcher.stop()


@pytest.fixture
def tea_shop(transactional_db, tea, clock):
    """150 valuable customers slipping away (long names among them), 10 steady ones and a
    coupon: enough for a control group that can tell (at least 10 held out)."""
    b = tea.business
    at_risk = customers(b, 150)
    for i, c in enumerate(at_risk):
        if i % 29 == 0:
            c.name = f"老客人{i:02d} Long-Name-Customer-{i}"
            c.wechat_id = f"wx_long_{i}"
            c.save()
        give_score(c, value_tier=Tier.A if i % 2 else Tier.B, churn_risk=0.8)
    for c in customers(b, 10, start=1000):
        give_score(c, value_tier=Tier.C, churn_risk=0.1)
    CouponTemplate.objects.create(
        business=b, name="立减20元", kind="amount_off", value=Decimal("20.00"), validity_days=30
    )
    return {"at_risk": at_risk}


def _context(browser, lang, viewport="390x844"):
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="zh-CN" if lang == "zh" else "en-US",
        extra_http_headers={"Accept-Language": LANGS[lang]},
    )
    context.set_default_timeout(15_000)
    return context


def _check(page, name, problems, axe=True):
    layout = page.evaluate(LAYOUT_JS)
    if layout["overflow"] > 0:
        problems.append(f"{name}: scrolls sideways by {layout['overflow']} px")
    problems += [f"{name}: small target {s}" for s in layout["small"]]
    problems += [f"{name}: small text {s}" for s in layout["tiny"]]
    if axe:
        problems += [f"{name}: axe {v}" for v in _axe_serious(page)]


def _results_campaign(tea) -> Campaign:
    """A campaign whose 7-day window is over, with customers who came back."""
    c = campaign(
        tea.business,
        name="上月回店礼",
        window_days=7,
        offer="下次到店立减20元",
        audience={"tiers": ["A", "B"]},
    )
    campaign_start(campaign=c, now=NOON - timedelta(days=10))
    members = list(CampaignMember.objects.filter(campaign=c).order_by("pk"))
    for m in members[::3]:
        PurchaseFactory(
            customer=m.customer,
            amount=Decimal("60.00"),
            occurred_at=NOON - timedelta(days=8),
        )
    CampaignMember.objects.filter(campaign=c, status="scheduled").update(
        status="sent", sent_at=NOON - timedelta(days=10), channel="sms"
    )
    return c


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", list(LANGS))
def test_campaign_screens_fit_a_phone(browser, live_server, tea_shop, tea, screens, lang, viewport):
    done = _results_campaign(tea)
    draft = campaign(tea.business, name="草稿：生日祝福", kind="birthday")
    running = campaign(tea.business, name="老朋友回店礼", audience={"tiers": ["C"]}, seed=777)
    campaign_start(campaign=running, now=NOON)
    screens_owner = [
        ("campaigns", reverse("shop:campaigns")),
        ("new", reverse("shop:campaign_new") + "?preset=win_back"),
        ("results", reverse("shop:campaign", args=[done.pk])),
        ("draft", reverse("shop:campaign", args=[draft.pk])),
        ("send", reverse("shop:send")),
        ("today", reverse("shop:today")),
    ]
    context = _context(browser, lang, viewport)
    page = context.new_page()
    problems: list[str] = []
    try:
        _log_in(page, live_server.url, "tea_owner")
        for name, path in screens_owner:
            response = page.goto(live_server.url + path)
            assert response.status == 200, (name, response.status)
            if name == "new":
                page.click(
                    "summary:has-text('%s')" % ("更多条件" if lang == "zh" else "More filters")
                )
                page.click(
                    "summary:has-text('%s')" % ("更多设置" if lang == "zh" else "More settings")
                )
            _check(page, name, problems, axe=viewport == "390x844")
            page.screenshot(
                path=str(screens / f"shop-campaign-{name}-{lang}-{viewport}.png"), full_page=True
            )
        # Numeric keypads for the numbers.
        page.goto(live_server.url + reverse("shop:campaign_new"))
        for field, mode in (
            ("control_pct", "numeric"),
            ("window_days", "numeric"),
            ("value_at_stake_min", "decimal"),
            ("cost_per_message", "decimal"),
            ("days_before", "numeric"),
        ):
            assert page.get_attribute(f"#id_{field}", "inputmode") == mode, field
        # Staff: the owner's campaign screens are closed, today's messages are open.
        staff = context.new_page()
        context.clear_cookies()
        _log_in(staff, live_server.url, "tea_staff")
        assert staff.goto(live_server.url + reverse("shop:campaigns")).status == 403
        assert staff.goto(live_server.url + reverse("shop:send")).status == 200
        _check(staff, "send-staff", problems, axe=False)
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_owner_creates_win_back_staff_send_owner_reads_results(
    browser, live_server, tea_shop, tea, screens, clock
):
    """The issue's 'done when', on a phone, in Chinese."""
    owner_ctx = _context(browser, "zh")
    staff_ctx = _context(browser, "zh")
    staff_ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    try:
        # The owner: Owner tab → Campaigns → New → Win back → the live count → Start.
        page = owner_ctx.new_page()
        _log_in(page, live_server.url, "tea_owner")
        page.click("nav.tabs a:has-text('店主')")
        page.click("a.button:has-text('营销活动')")
        page.click("a.button:has-text('新建活动')")
        with page.expect_navigation():
            page.click("a.preset:has-text('挽回可能流失的高价值客户')")
        live = page.locator("#live")
        assert "符合条件 150 人" in live.inner_text()
        assert "实际发送 135 人" in live.inner_text()
        # Adding tier C changes the count in place (htmx), without leaving the page.
        page.click("label.chip:has-text('C')")
        page.wait_for_function("document.querySelector('#live').innerText.includes('符合条件 150')")
        page.select_option("#id_churn_band", "")
        page.wait_for_function("document.querySelector('#live').innerText.includes('符合条件 160')")
        page.click("label.chip:has-text('C')")  # off again
        page.select_option("#id_churn_band", "high")
        page.wait_for_function("document.querySelector('#live').innerText.includes('实际发送 135')")
        page.fill("#id_offer", "下次到店立减20元")
        page.select_option("#id_coupon_template", label="立减20元")
        page.wait_for_function("document.querySelector('#preview').innerText.includes('立减20元')")
        assert "A1B2C3D4E5" in page.locator("#preview").inner_text()
        page.screenshot(path=str(screens / "shop-campaign-story-1-new-zh.png"), full_page=True)
        page.evaluate("document.getElementById('id_name').scrollIntoView()")
        page.evaluate("window.scrollBy(0, -110)")
        page.screenshot(path=str(screens / "shop-campaign-story-1-new-zh-phone.png"))
        with page.expect_navigation():
            page.click("button[value=start]")
        assert "活动已开始：150 位客户加入" in page.locator(".flash").inner_text()
        c = Campaign.objects.get(business=tea.business, status="running")
        assert CampaignMember.objects.filter(campaign=c, group="control").exists()
        page.screenshot(path=str(screens / "shop-campaign-story-2-started-zh.png"), full_page=True)

        # Staff: Today → the count card → the list.
        staff = staff_ctx.new_page()
        _log_in(staff, live_server.url, "tea_staff")
        to_send = CampaignMember.objects.filter(campaign=c, status="scheduled").count()
        with staff.expect_navigation():
            staff.click(f"a.to-send:has-text('{to_send} 条活动消息待发送')")
        rows = staff.locator("li.send")
        assert rows.count() == 20
        staff.screenshot(path=str(screens / "shop-campaign-story-3-send-zh.png"), full_page=True)
        # WeChat: the tap marks it sent and shows the text; Copy puts it on the clipboard.
        second = staff.locator("li.send").nth(0)
        wechat_id = int(second.get_attribute("id").removeprefix("send-"))
        second.locator("button:has-text('微信')").click()
        box = staff.locator(f"#wx-{wechat_id}")
        box.wait_for()
        text = box.input_value()
        assert "下次到店立减20元" in text
        # The clipboard answers a focused page only; two contexts share one headless window.
        staff_ctx.new_cdp_session(staff).send(
            "Emulation.setFocusEmulationEnabled", {"enabled": True}
        )
        staff.click(f"#send-{wechat_id} button:has-text('复制')")
        staff.locator(f"#send-{wechat_id} button:has-text('已复制')").first.wait_for()
        assert staff.evaluate("navigator.clipboard.readText()") == text
        assert CampaignMember.objects.get(pk=wechat_id).channel == "wechat"
        # SMS: the tap posts, the answer sends the phone to sms: with the text (htmx's
        # HX-Redirect; the sms: navigation itself never reaches the network).
        first = rows.nth(1)
        member_id = int(first.get_attribute("id").removeprefix("send-"))
        with staff.expect_response(lambda r: r.url.endswith(f"/send/{member_id}/sms/")) as info:
            first.locator("button:has-text('短信')").click()
        redirect = info.value.headers["hx-redirect"]
        member = CampaignMember.objects.select_related("customer").get(pk=member_id)
        assert redirect.startswith(f"sms:{member.customer.phone}?body=")
        staff.locator(f"#send-{member_id} .ok").wait_for()
        assert member.customer.name in staff.locator(f"#send-{member_id}").inner_text()
        member.refresh_from_db()
        assert member.status == "sent"
        assert Coupon.objects.filter(account__customer=member.customer).count() == 1
        staff.screenshot(path=str(screens / "shop-campaign-story-4-wechat-zh.png"), full_page=True)
        staff.evaluate("window.scrollTo(0, 0)")
        staff.screenshot(path=str(screens / "shop-campaign-story-4-wechat-zh-phone.png"))
        problems: list[str] = []
        _check(staff, "send-after-taps", problems)
        assert not problems, "\n".join(problems)

        # Two weeks later: customers came back; the owner reads what it really earned.
        for m in CampaignMember.objects.filter(campaign=c).order_by("pk")[::3]:
            PurchaseFactory(
                customer=m.customer, amount=Decimal("80.00"), occurred_at=NOON + timedelta(days=4)
            )
        clock.return_value = NOON + timedelta(days=14, hours=1)
        owner_ctx.clear_cookies()  # two weeks on, the session has expired: sign in again
        _log_in(page, live_server.url, "tea_owner")
        page.goto(live_server.url + reverse("shop:campaign", args=[c.pk]))
        assert "活动真正带来了什么" in page.content()
        assert page.locator("table.compare tbody tr").count() == 5
        page.screenshot(path=str(screens / "shop-campaign-story-5-results-zh.png"), full_page=True)
        page.evaluate("document.getElementById('h-res').scrollIntoView()")
        page.evaluate("window.scrollBy(0, -70)")
        page.screenshot(path=str(screens / "shop-campaign-story-5-results-zh-phone.png"))
    finally:
        owner_ctx.close()
        staff_ctx.close()
