#!/usr/bin/env python
"""Lighthouse (mobile) on the phone app's Today, search and customer card screens.

    npm ci --prefix tools/lighthouse        # once: Lighthouse 12.2.3, pinned
    .venv/bin/python scripts/lighthouse_app.py

Builds a throwaway SQLite database with the demo businesses (scored), signs in as
tea_owner, serves the app with `runserver --insecure` (test settings: DEBUG off) on
127.0.0.1:8765 and runs Lighthouse's mobile preset (performance, accessibility) with Debian's
Chromium (CHROME_PATH=/usr/bin/chromium). Writes bench/results/lighthouse.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = ROOT / "tools" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
PORT = 8765
DB = ROOT / "var" / "lighthouse.sqlite3"


def main() -> int:
    if not LIGHTHOUSE.exists():
        print("Lighthouse missing: run `npm ci --prefix tools/lighthouse` first", file=sys.stderr)
        return 2
    DB.unlink(missing_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_project.settings.test",
        "DATABASE_URL": f"sqlite:///{DB}",
    }
    py = sys.executable
    for args in (["migrate", "-v0"], ["seed_demo"], ["score", "--business", "tea"]):
        subprocess.run([py, "manage.py", *args], cwd=ROOT, env=env, check=True)
    sys.path.insert(0, str(ROOT))
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client

    from customers.models import Customer

    client = Client()
    client.force_login(User.objects.get(username="tea_owner"))
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    customer = (
        Customer.objects.filter(business__slug="tea", score__isnull=False)
        .order_by("-score__net_value")
        .first()
    )
    pages = {
        "today": "/app/",
        "search": "/app/search/?q=138",
        "customer card": f"/app/c/{customer.pk}/",
    }
    server = subprocess.Popen(
        [py, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload", "--insecure"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = {}
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/app/login/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with tempfile.TemporaryDirectory() as tmp:
            headers = Path(tmp) / "headers.json"
            headers.write_text(json.dumps({"Cookie": cookie}))
            for name, path in pages.items():
                out = Path(tmp) / "report.json"
                subprocess.run(
                    [str(LIGHTHOUSE), f"http://127.0.0.1:{PORT}{path}",
                     "--only-categories=performance,accessibility", "--output=json",
                     f"--output-path={out}", f"--extra-headers={headers}", "--quiet",
                     "--chrome-flags=--headless=new --no-sandbox --disable-gpu"],
                    env={**env, "CHROME_PATH": "/usr/bin/chromium"}, check=True,
                )  # fmt: skip
                report = json.loads(out.read_text())
                cats = report["categories"]
                audits = report["audits"]
                results[name] = {
                    "url": path,
                    "performance": round(cats["performance"]["score"] * 100),
                    "accessibility": round(cats["accessibility"]["score"] * 100),
                    "fcp_ms": round(audits["first-contentful-paint"]["numericValue"]),
                    "lcp_ms": round(audits["largest-contentful-paint"]["numericValue"]),
                    "tbt_ms": round(audits["total-blocking-time"]["numericValue"]),
                    "cls": round(audits["cumulative-layout-shift"]["numericValue"], 3),
                    "failed_binary_audits": [
                        a["id"]
                        for a in audits.values()
                        if a.get("scoreDisplayMode") == "binary" and a.get("score") == 0
                    ],
                }
                print(name, results[name], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    payload = {
        "benchmark": "lighthouse",
        "lighthouse": "12.2.3 (mobile preset: Moto G Power emulation, slow 4G throttling)",
        "chromium": subprocess.run(
            ["/usr/bin/chromium", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "pages": results,
    }
    target = ROOT / "bench" / "results" / "lighthouse.json"
    target.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(f"-> {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
