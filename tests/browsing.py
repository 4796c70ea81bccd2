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
