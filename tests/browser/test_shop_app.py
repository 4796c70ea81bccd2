"""The phone app in Debian's Chromium: screens 1–8 in Chinese and English, as owner and as
staff, at 360×640 and 390×844 — no sideways scrolling, tap targets of at least 48 px, text of
at least 16 px, numeric keypads, no serious or critical axe violations; a sale in three taps;
installable, with an offline page when the network is gone."""

from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Customer, Purchase
from tests.shop.conftest import give_score, tea_day  # noqa: F401 - tea_day is a fixture

pytestmark = [pytest.mark.browser]

PASSWORD = "pw-xiaowei-1"  # tests.factories.UserFactory's password, test-only
VIEWPORTS = {"360x640": {"width": 360, "height": 640}, "390x844": {"width": 390, "height": 844}}
LANGS = {"en": "en-US,en;q=0.9", "zh": "zh-CN,zh;q=0.9"}

LAYOUT_JS = """() => {
  const doc = document.documentElement;
  const out = {overflow: doc.scrollWidth - doc.clientWidth, small: [], tiny: []};
  for (const el of document.querySelectorAll('a, button, input, select, textarea, summary')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.type === 'hidden' || el.classList.contains('skip')) continue;
    if (el.tagName === 'A' && el.closest('p')) continue;  // a link inside a sentence
    if (r.height < 47.5 || r.width < 47.5)
      out.small.push(`${el.tagName}.${el.className} "${(el.innerText || el.name).trim()}" `
        + `${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    if (!el || el.closest('script, style, svg, .skip, .vh')) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 16) out.tiny.push(`${el.tagName} "${node.textContent.trim().slice(0, 30)}" ${size}`);
  }
  return out;
}"""


@pytest.fixture
def shop_world(transactional_db, tea, request):
    """tests/shop's working day at the tea house, plus 12 long-named valuable customers."""
    day = request.getfixturevalue("tea_day")
    for n in range(12):
        customer = Customer.objects.create(
            business=tea.business,
            name=f"老客人{n:02d} Long-Name-Customer-{n}",
            phone=f"+8613700{n:06d}",
        )
        give_score(customer, net_value=Decimal(500 - n))
    return day


def _screens(world, role):
    regular = world["regular"].pk
    screens = [
        ("1-today", reverse("shop:today")),
        ("2-search", reverse("shop:search") + "?q=8000"),
        ("3-sale", reverse("shop:sale") + f"?customer={regular}"),
        ("3-sale-new", reverse("shop:sale")),
        ("4-card", reverse("shop:customer", args=[regular])),
        ("5-list", reverse("shop:customers") + "?at_risk=1"),
        ("6-follow-ups", reverse("shop:follow_ups") + "?who=all"),
        ("7-feedback", reverse("shop:feedback")),
    ]
    if role == "owner":
        screens += [("8-owner", reverse("shop:owner")), ("8-poster", reverse("shop:poster"))]
    return screens


def _log_in(page, base_url, username):
    page.goto(base_url + reverse("shop:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith(reverse("shop:today")), page.url


def _axe_serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", list(LANGS))
@pytest.mark.parametrize("role", ["owner", "staff"])
def test_screens_fit_a_phone(browser, live_server, shop_world, tea, screens, role, lang, viewport):
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="zh-CN" if lang == "zh" else "en-US",
        extra_http_headers={"Accept-Language": LANGS[lang]},
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        _log_in(page, live_server.url, f"tea_{role}")
        problems = []
        for name, path in _screens(shop_world, role):
            response = page.goto(live_server.url + path)
            assert response.status == 200, (name, response.status)
            expected = "zh-hans" if lang == "zh" else "en"
            assert page.locator("html").get_attribute("lang") == expected
            layout = page.evaluate(LAYOUT_JS)
            if layout["overflow"] > 0:
                problems.append(f"{name}: scrolls sideways by {layout['overflow']} px")
            problems += [f"{name}: small target {s}" for s in layout["small"]]
            problems += [f"{name}: small text {s}" for s in layout["tiny"]]
            if viewport == "390x844":
                problems += [f"{name}: axe {v}" for v in _axe_serious(page)]
            page.screenshot(
                path=str(screens / f"shop-{name}-{role}-{lang}-{viewport}.png"), full_page=True
            )
        if role == "staff":
            response = page.goto(live_server.url + reverse("shop:owner"))
            assert response.status == 403
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_numeric_keypads_for_amount_and_phone(browser, live_server, shop_world, new_page):
    page = new_page(locale="en-US")
    _log_in(page, live_server.url, "tea_staff")
    page.goto(live_server.url + reverse("shop:sale"))
    assert page.get_attribute("#id_amount", "inputmode") == "decimal"
    assert page.get_attribute("#id_phone", "type") == "tel"
    page.click("summary")
    card = reverse("shop:customer", args=[shop_world["regular"].pk])
    page.goto(live_server.url + card)
    page.click("text=Log a call, visit or service")
    assert page.get_attribute("#id_cost_minutes", "inputmode") == "numeric"


def test_find_the_customer_and_record_a_sale_in_three_taps(
    browser, live_server, shop_world, new_page, screens
):
    page = new_page(locale="zh-CN", accept_language="zh-CN,zh;q=0.9")
    _log_in(page, live_server.url, "tea_staff")
    page.fill("#q", "8000")  # results as you type (htmx)
    result = page.locator("#found .rows a", has_text="王芳")
    result.wait_for()
    with page.expect_navigation():
        result.click()  # tap 1: the customer
    with page.expect_navigation():
        page.click("a.button:has-text('收银')")  # tap 2: sale
    page.fill("#id_amount", "66.60")
    with page.expect_navigation():
        page.click("button[type=submit]")  # tap 3: done
    assert page.locator(".flash").inner_text().startswith("已为 王芳 记下")
    page.screenshot(path=str(screens / "shop-sale-done-zh.png"), full_page=True)
    assert Purchase.objects.get(customer=shop_world["regular"]).amount == Decimal("66.60")


def test_follow_up_done_with_one_tap_in_place(browser, live_server, shop_world, new_page):
    page = new_page(locale="en-US")
    _log_in(page, live_server.url, "tea_staff")
    page.goto(live_server.url + reverse("shop:follow_ups"))
    row = f"#fu-{shop_world['follow_up'].pk}"
    page.click(f"{row} button:has-text('Done')")
    page.locator(f"{row} .ok").wait_for()
    shop_world["follow_up"].refresh_from_db()
    assert shop_world["follow_up"].done_at is not None


def test_installable_and_offline_page(browser, live_server, shop_world):
    context = browser.new_context(viewport=VIEWPORTS["390x844"], locale="en-US")
    try:
        page = context.new_page()
        _log_in(page, live_server.url, "tea_owner")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()  # now controlled by the service worker
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        cdp = context.new_cdp_session(page)
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        # Playwright's contexts are incognito profiles, where Chromium never installs apps;
        # every other criterion (manifest, icons, service worker, start URL) must hold.
        errors = [e for e in errors if e["errorId"] != "in-incognito"]
        assert errors == [], errors
        manifest = cdp.send("Page.getAppManifest")
        assert not manifest.get("errors"), manifest.get("errors")
        context.set_offline(True)
        page.goto(live_server.url + reverse("shop:customers"))
        assert "You are offline" in page.content()
    finally:
        context.close()
