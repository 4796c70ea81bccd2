#!/usr/bin/env python
"""CI: the production stack works as docs/deploy.md describes it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xiaowei_smoke \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/2 CACHE_URL=redis://127.0.0.1:6379/3 \
    .venv/bin/python scripts/production_smoke.py [--port 8765]

Recreates that (throwaway) database, migrates, collects static files, seeds the demo, starts
gunicorn with crm_project.settings.production, checks /healthz and /readyz, logs in to the
admin, lists customers through the admin and the API, loads /api/docs/ and its Swagger UI
from the project's static files, then stops gunicorn. Exits non-zero on any failure."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prodserver import Client, prepare, production_env, recreate_database, start_gunicorn


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        raise SystemExit(1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    database_url = os.environ["DATABASE_URL"]
    check(database_url.startswith("postgres"), "DATABASE_URL is PostgreSQL")
    env = production_env(
        database_url,
        os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2"),
        os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/3"),
    )
    recreate_database(database_url)
    api_key = prepare(env, customers=40)
    server = start_gunicorn(env, args.port, workers=2)
    try:
        client = Client(args.port)
        check(client.get("/healthz").json() == {"status": "ok"}, "/healthz")
        ready = client.get("/readyz")
        check(
            ready.status == 200 and ready.json()["database"] == ready.json()["broker"] == "ok",
            f"/readyz (database and broker): {ready.text}",
        )
        plain = Client(args.port).request("GET", "/admin/", headers={"X-Forwarded-Proto": "http"})
        check(plain.status == 301 and plain.header("Location").startswith("https://"),
              "plain HTTP is redirected to HTTPS")  # fmt: skip
        login = client.login("tea_owner", "xiaowei-demo")
        check(login.status == 302 and "sessionid" in client.cookies, "admin login")
        listing = client.get("/admin/customers/customer/")
        rows = re.findall(r'<tr[^>]*>\s*<td class="action-checkbox">', listing.text)
        check(listing.status == 200 and len(rows) > 0, f"admin customer list ({len(rows)} rows)")
        api = Client(args.port).get(
            "/api/v1/customers/", headers={"Authorization": f"Api-Key {api_key}"}
        )
        results = api.json().get("results", []) if api.status == 200 else []
        check(len(results) > 0, f"API customer list ({len(results)} customers)")
        names = {c["name"] for c in results}
        check(any(name in listing.text for name in names), "admin and API show the same customers")
        docs = client.get("/api/docs/")
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.text)
        check(docs.status == 200 and "cdn" not in docs.text.lower(), "/api/docs/ without a CDN")
        check(
            bool(assets) and all(client.get(a).status == 200 for a in assets),
            f"Swagger UI assets served by whitenoise ({len(assets)})",
        )
        anonymous = Client(args.port).get("/api/v1/customers/")
        check(anonymous.status in (401, 403), "API without a key is refused")
    finally:
        code = server.stop()
    check(code == 0, f"gunicorn stopped cleanly (exit {code})")
    print("production smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
