"""Browser tests: a real Chromium (Playwright, sync API) against pytest-django's live server.

Chromium is expected at /usr/bin/chromium (never `playwright install`). Without it the
browser tests skip — except with CI=true, where a missing browser is a failure.
"""

from pathlib import Path

import pytest

from tests.browsing import CHROMIUM, CHROMIUM_ARGS, SCREENS, need_chromium
from tests.browsing import PHONE_VIEWPORT as MOBILE_VIEWPORT

DEFAULT_TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """new_page(locale=None, accept_language=None) -> a page in a fresh 390x844 context."""
    contexts = []

    def make(locale: str | None = None, accept_language: str | None = None):
        options: dict = {"viewport": MOBILE_VIEWPORT, "device_scale_factor": 1}
        if locale:
            options["locale"] = locale
        if accept_language:
            options["extra_http_headers"] = {"Accept-Language": accept_language}
        context = browser.new_context(**options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screens() -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    return SCREENS
