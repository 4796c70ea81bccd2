"""The screens issue 9 added, on phones: the login lockout page and the customer list's tag
search, at 360x640 and 390x844, in English and Chinese — no sideways scrolling, 48 px targets."""

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory, TagFactory

pytestmark = [pytest.mark.browser]

PASSWORD = "right-horse-battery-9"
VIEWPORTS = {"360": {"width": 360, "height": 640}, "390": {"width": 390, "height": 844}}
LANGUAGES = {"en": "en-US,en;q=0.9", "zh": "zh-CN,zh;q=0.9"}


@pytest.fixture
def page_for(browser):
    contexts = []

    def make(size: str, language: str):
        context = browser.new_context(
            viewport=VIEWPORTS[size], extra_http_headers={"Accept-Language": LANGUAGES[language]}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def _login(page, base_url: str, username: str, password: str):
    page.goto(f"{base_url}{reverse('admin:login')}?next=/admin/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    with page.expect_navigation(wait_until="load"):
        page.locator("#login-form [type=submit]").click()


@pytest.mark.parametrize("size", ["360", "390"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_lockout_page_on_a_phone(
    live_server, transactional_db, tea, page_for, screens, size, language
):
    tea.owner.set_password(PASSWORD)
    tea.owner.save()
    page = page_for(size, language)
    for _ in range(5):
        _login(page, live_server.url, "tea_owner", "wrong")
    _login(page, live_server.url, "tea_owner", PASSWORD)
    text = page.locator("#content-main").inner_text()
    assert ("登录失败次数过多" if language == "zh" else "Too many failed logins") in text
    assert "15" in text
    _no_sideways_scroll(page)
    page.screenshot(path=str(screens / f"lockout_{language}_{size}.png"), full_page=True)


@pytest.mark.parametrize("size", ["360", "390"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_tag_search_on_a_phone(
    live_server, transactional_db, tea, page_for, screens, size, language
):
    tea.owner.set_password(PASSWORD)
    tea.owner.save()
    vip = TagFactory(business=tea.business, name="VIP")
    for i in range(40):
        TagFactory(business=tea.business, name=f"标签{i:03d}")
    CustomerFactory(business=tea.business, name="贵宾客户", tags=[vip])
    CustomerFactory(business=tea.business, name="普通客户")
    page = page_for(size, language)
    _login(page, live_server.url, "tea_owner", PASSWORD)
    page.goto(live_server.url + reverse("admin:customers_customer_changelist"))
    box = page.locator("#xw-tag-search-input")
    if not box.is_visible():  # the filters sit behind a toggle on narrow screens
        page.locator("#changelist-filter").scroll_into_view_if_needed()
    assert box.bounding_box()["height"] >= 48
    box.fill("vi")
    with page.expect_navigation(wait_until="load"):
        box.press("Enter")
    results = page.locator("#result_list").inner_text()
    assert "贵宾客户" in results
    assert "普通客户" not in results
    _no_sideways_scroll(page)
    page.screenshot(path=str(screens / f"tag_search_{language}_{size}.png"), full_page=True)
