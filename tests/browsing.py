"""Shared settings for the browser tests: Debian's Chromium, driven by Playwright."""

import os
from pathlib import Path

# Playwright's sync API runs an asyncio event loop in its thread; Django's ORM refuses to
# run while a loop is running unless told it is safe (the test code itself is not async).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}
SCREENS = Path(__file__).resolve().parents[1] / "var" / "screens"


def need_chromium() -> None:
    """Skip (fail under CI=true) when Debian's Chromium or the playwright package is missing."""
    from tests.conftest import need_or_skip

    need_or_skip(
        os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK),
        f"Chromium not found at {CHROMIUM}",
    )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        need_or_skip(False, "the Python package playwright is not installed")
