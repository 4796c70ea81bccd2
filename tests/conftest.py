import os
import socket
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Business, Membership
from tests.factories import (
    BusinessFactory,
    CustomerFactory,
    FollowUpFactory,
    InteractionFactory,
    MembershipFactory,
    PurchaseFactory,
    TagFactory,
    UserFactory,
)

IN_CI = os.environ.get("CI") == "true"


def need_or_skip(available: bool, reason: str) -> None:
    """Skip a test whose server is missing, except in CI, where missing is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Tenant:
    business: Business
    owner: User
    staff: User


def make_tenant(slug: str, name: str) -> Tenant:
    business = BusinessFactory(slug=slug, name=name)
    owner = MembershipFactory(
        business=business, role=Membership.Role.OWNER, user=UserFactory(username=f"{slug}_owner")
    ).user
    staff = MembershipFactory(business=business, user=UserFactory(username=f"{slug}_staff")).user
    return Tenant(business, owner, staff)


@pytest.fixture
def tea(db) -> Tenant:
    return make_tenant("tea", "清风茶馆")


@pytest.fixture
def salon(db) -> Tenant:
    return make_tenant("salon", "美尚发艺")


@pytest.fixture
def client_for():
    def login(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


@pytest.fixture
def api_for():
    """api_for(business, read_only=False) -> an APIClient sending that business's key."""
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    def make(business, read_only: bool = False):
        _key, key = api_key_create(business=business, name="test", read_only=read_only)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client

    return make


@pytest.fixture
def salon_world(salon):
    """One of every business-owned row in `salon`, for isolation tests."""
    customer = CustomerFactory(
        business=salon.business, name="沙龙秘密客户", phone="+8613800138000", customer_no="S-001"
    )
    tag = TagFactory(business=salon.business, name="沙龙标签")
    customer.tags.add(tag)
    return {
        "customer": customer,
        "tag": tag,
        "purchase": PurchaseFactory(customer=customer, external_id="SALON-1"),
        "interaction": InteractionFactory(customer=customer, summary="沙龙互动"),
        "follow_up": FollowUpFactory(customer=customer, task="沙龙回访"),
    }


REDIS_TEST_URL = os.environ.get("XW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _worker_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host, port = s.get("HOST") or "127.0.0.1", s.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


@pytest.fixture
def celery_worker(transactional_db):
    """Start real Celery workers (separate processes) on Redis against the test database.

    Returns start(**env) -> Popen; every worker started is killed at teardown."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    need_or_skip(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    root = Path(__file__).resolve().parent.parent
    procs: list[subprocess.Popen] = []
    env_base = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_project.settings.test",
        "DATABASE_URL": _worker_database_url(),
        "CELERY_BROKER_URL": REDIS_TEST_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }

    def start(**extra_env: str) -> subprocess.Popen:
        log = open(root / "var" / f"celery-worker-{len(procs)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "crm_project", "worker",
             "--loglevel=INFO", "--concurrency=2", "--without-gossip", "--without-mingle"],
            cwd=root, env={**env_base, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        procs.append(proc)
        time.sleep(0.5)
        return proc

    def kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    start.kill = kill
    yield start
    for proc in procs:
        kill(proc)
    client.flushdb()


@pytest.fixture
def task_runner(celery_worker):
    """task_runner(**worker_env) -> run(name, *args): starts a worker (2 processes) that keeps
    task results in Redis; run() sends a task by name and returns what the worker computed
    (`run.app` sends without waiting)."""
    from celery import Celery

    apps = []

    def start(**worker_env: str):
        celery_worker(CELERY_RESULT_BACKEND=REDIS_TEST_URL, **worker_env)
        app = Celery(broker=REDIS_TEST_URL, backend=REDIS_TEST_URL)
        app.conf.task_serializer = "json"
        apps.append(app)

        def run(name: str, *args):
            return app.send_task(name, args=list(args)).get(timeout=60)

        run.app = app
        return run

    yield start
    for app in apps:
        app.close()


@pytest.fixture
def send_task():
    """Send a task by name to the Redis broker the test workers listen on."""
    from celery import Celery

    app = Celery(broker=REDIS_TEST_URL)
    app.conf.task_serializer = "json"

    def send(name: str, *args):
        return app.send_task(name, args=list(args))

    yield send
    app.close()


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# Browser fixtures (Playwright with Debian's Chromium), shared by every package's browser
# tests: ONE session-wide Playwright, since a second sync Playwright in the same thread fails
# ("Sync API inside the asyncio loop").
from pathlib import Path  # noqa: E402

from tests.browsing import CHROMIUM, CHROMIUM_ARGS, SCREENS, need_chromium  # noqa: E402
from tests.browsing import PHONE_VIEWPORT as MOBILE_VIEWPORT  # noqa: E402

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
