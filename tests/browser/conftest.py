"""Browser tests: a real Chromium (Playwright, sync API) against pytest-django's live server.

Chromium is expected at /usr/bin/chromium (never `playwright install`). Without it the
browser tests skip — except with CI=true, where a missing browser is a failure.
"""

# The browser fixtures (browser, new_page, screens) live in tests/conftest.py.
