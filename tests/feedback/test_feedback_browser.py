"""The public feedback page in a real Chromium at 390x844 (a phone), then the admin.

Chromium is Debian's /usr/bin/chromium (never `playwright install`); without it the test
skips, except with CI=true, where it fails.
"""

import threading

import pytest
from django.urls import reverse

from feedback.models import Feedback
from tests.browsing import CHROMIUM, CHROMIUM_ARGS, SCREENS, need_chromium
from tests.browsing import PHONE_VIEWPORT as PHONE

from .conftest import business_path

pytestmark = [pytest.mark.browser]

PASSWORD = "xiaowei-demo"  # test-only
COMMENT = "茶很香，服务员很热情，下次还来！"


def in_own_thread(drive, *args):
    """Run `drive(browser, *args)` with a fresh Chromium in a thread of its own: Playwright's
    sync API refuses to start in a thread that already runs one (tests/browser keeps a
    session-wide browser in the main thread)."""
    outcome = {}

    def run():
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                try:
                    outcome["value"] = drive(browser, *args)
                finally:
                    browser.close()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=240)
    if thread.is_alive():
        pytest.fail("the browser did not finish within 240 s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def phone_page(browser, locale: str = "zh-CN"):
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=1,
        locale=locale,
        extra_http_headers={"Accept-Language": f"{locale},zh;q=0.9"},
    )
    context.set_default_timeout(15_000)
    return context.new_page()


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.locator("#login-form [type=submit]").click()
    assert page.locator("#login-form").count() == 0, "still on the login page"


def give_feedback(browser, url: str) -> None:
    page = phone_page(browser)
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator(".business").inner_text() == "清风茶馆"
    # Phone-first: nothing wider than the screen, big tap targets.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.locator("label[for=nps-9]").bounding_box()
    assert box["height"] >= 44
    assert box["width"] >= 44
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "feedback_form.png"))
    page.screenshot(path=str(SCREENS / "feedback_form_full.png"), full_page=True)

    page.locator("label[for=nps-9]").click()
    assert page.locator("#nps-9").is_checked()
    page.locator("label[for=stars-5]").click()
    page.locator("#id_comment").fill(COMMENT)
    page.screenshot(path=str(SCREENS / "feedback_form_filled.png"))
    with page.expect_navigation(wait_until="load"):
        page.locator("button[type=submit]").click()

    assert page.url.endswith("/thanks/"), page.url
    page.locator("#thanks").wait_for(state="visible")
    assert COMMENT in page.locator(".summary .comment").inner_text()
    page.screenshot(path=str(SCREENS / "feedback_thanks.png"))
    page.context.close()


def check_admins(browser, base_url: str, feedback_pk: int) -> None:
    feedback_list = base_url + reverse("admin:feedback_feedback_changelist")
    tea_page = phone_page(browser)
    log_in(tea_page, base_url, "tea_owner")
    tea_page.goto(feedback_list)
    assert COMMENT in tea_page.locator("#result_list").inner_text()
    assert tea_page.locator("#xw-feedback-months").is_visible()
    tea_page.screenshot(path=str(SCREENS / "feedback_admin_list.png"), full_page=True)
    tea_page.goto(base_url + reverse("admin:feedback_feedbacksettings_changelist"))
    with tea_page.expect_navigation(wait_until="load"):
        tea_page.locator("#result_list tbody th a").first.click()
    tea_page.locator("#xw-feedback-qr").wait_for(state="visible")
    assert tea_page.evaluate("document.getElementById('xw-feedback-qr').naturalWidth") > 100
    tea_page.screenshot(path=str(SCREENS / "feedback_admin_settings.png"), full_page=True)
    tea_page.context.close()

    salon_page = phone_page(browser)
    log_in(salon_page, base_url, "salon_owner")
    salon_page.goto(feedback_list)
    assert "美尚发艺" in salon_page.content()
    assert COMMENT not in salon_page.content()
    salon_page.goto(base_url + reverse("admin:feedback_feedback_change", args=[feedback_pk]))
    assert COMMENT not in salon_page.content()
    salon_page.context.close()


def test_customer_gives_feedback_on_a_phone_and_only_tea_sees_it(
    live_server, transactional_db, tea, salon
):
    need_chromium()
    for owner in (tea.owner, salon.owner):
        owner.set_password(PASSWORD)
        owner.save()

    in_own_thread(give_feedback, live_server.url + business_path(tea.business))

    feedback = Feedback.objects.get()
    assert (feedback.business, feedback.nps, feedback.stars) == (tea.business, 9, 5)
    assert feedback.comment == COMMENT
    assert feedback.language == "zh-hans"
    assert Feedback.objects.for_business(salon.business).count() == 0

    # Tea's back office lists it; salon's does not.
    in_own_thread(check_admins, live_server.url, feedback.pk)
