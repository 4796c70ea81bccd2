"""Brute-force protection of the admin login (issue 9, item 14)."""

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.factories import UserFactory

PASSWORD = "right-horse-battery-9"


@pytest.fixture
def owner(tea):
    tea.owner.set_password(PASSWORD)
    tea.owner.save()
    return tea.owner


def _login(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def test_sixth_wrong_password_is_locked_out_and_right_one_waits_for_cool_off(
    owner, settings, caplog
):
    client = Client()
    with caplog.at_level(logging.WARNING, logger="axes"):
        for _ in range(5):
            response = _login(client, owner.username, "wrong")
            assert response.status_code in (200, 429)
        locked = _login(client, owner.username, "wrong")
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "Too many failed logins" in body
    assert "15 minutes" in body
    assert locked["Retry-After"] == "900"
    assert any("lock" in r.getMessage().lower() for r in caplog.records)  # logged
    # The right password does not get in while locked out.
    right = _login(client, owner.username, PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another user from the same IP, and the same user from another IP, are not locked.
    other = UserFactory(username="someone", is_staff=True)
    other.set_password(PASSWORD)
    other.save()
    assert _login(Client(), "someone", PASSWORD).status_code == 302
    assert _login(Client(), owner.username, PASSWORD, ip="10.0.0.2").status_code == 302


def test_after_the_cool_off_the_right_password_works(owner, settings):
    from axes.models import AccessAttempt

    client = Client()
    for _ in range(6):
        _login(client, owner.username, "wrong")
    assert _login(client, owner.username, PASSWORD).status_code == 429
    # The cool-off passes (attempts older than the cool-off no longer count).
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.first().attempt_time - timedelta(minutes=16)
    )
    response = _login(client, owner.username, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_lockout_page_is_translated(owner):
    client = Client()
    for _ in range(6):
        response = client.post(
            reverse("admin:login"),
            {"username": owner.username, "password": "wrong"},
            REMOTE_ADDR="10.0.0.3",
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
    assert response.status_code == 429
    with translation.override("zh-hans"):
        assert "登录失败次数过多" in response.content.decode()


@pytest.fixture
def axes_on_redis(settings):
    """The cache handler on a real Redis, as with CACHE_URL=redis://… in production."""
    from axes.handlers.proxy import AxesProxyHandler
    from django.core.cache import caches

    from tests.conftest import REDIS_TEST_URL, need_or_skip, port_open

    need_or_skip(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    settings.CACHES = {
        **settings.CACHES,
        "axes": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_TEST_URL,
        },
    }
    settings.AXES_CACHE = "axes"
    settings.AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
    AxesProxyHandler.get_implementation(force=True)
    caches["axes"].clear()
    yield caches["axes"]
    caches["axes"].clear()
    settings.AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
    AxesProxyHandler.get_implementation(force=True)


def test_lockout_is_shared_through_the_cache_between_web_processes(owner, axes_on_redis):
    from axes.models import AccessAttempt

    # Two clients stand for two web processes: the count lives in Redis, not in either.
    for _ in range(6):
        _login(Client(), owner.username, "wrong", ip="10.0.0.9")
    assert _login(Client(), owner.username, PASSWORD, ip="10.0.0.9").status_code == 429
    assert not AccessAttempt.objects.exists()  # counted in the cache, not the database
    axes_on_redis.clear()  # the cool-off expired (the key's timeout)
    assert _login(Client(), owner.username, PASSWORD, ip="10.0.0.9").status_code == 302
