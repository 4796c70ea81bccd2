"""Render the shop app's icons (PNG) with Debian's Chromium: `python scripts/make_app_icons.py`.

The icons are committed under shop/static/shop/; rerun only to change the design."""

from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "shop" / "static" / "shop"
HTML = """<html><body style="margin:0"><div style="width:{s}px;height:{s}px;background:#0b6e4f;
display:flex;align-items:center;justify-content:center;color:#fff;
font:700 {f}px 'Noto Sans CJK SC',sans-serif">小微</div></body></html>"""

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    for size in (192, 512):
        page = browser.new_page(viewport={"width": size, "height": size})
        page.set_content(HTML.format(s=size, f=int(size * 0.3)))
        page.screenshot(path=str(OUT / f"icon-{size}.png"))
    browser.close()
