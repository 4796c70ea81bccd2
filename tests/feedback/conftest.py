import itertools

import pytest
from django.core.cache import cache

from feedback.links import business_token, form_path
from feedback.services import customer_feedback_link_create, feedback_settings_for
from tests.factories import CustomerFactory

_addresses = itertools.count(1)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the cache: every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def business_path(business) -> str:
    return form_path(business_token(feedback_settings_for(business)))


def customer_path(customer) -> str:
    _link, token = customer_feedback_link_create(business=customer.business, customer=customer)
    return form_path(token)


def fresh_address() -> str:
    """A client address no other post in this test used (the rate limit counts per address)."""
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def post_feedback(client, path: str, address: str | None = None, **data):
    payload = {"nps": "9", **data}
    return client.post(path, payload, REMOTE_ADDR=address or fresh_address())


@pytest.fixture
def tea_customer(tea):
    return CustomerFactory(business=tea.business, name="林小姐", phone="+8613900001111")


@pytest.fixture
def salon_customer(salon):
    return CustomerFactory(business=salon.business, name="沙龙客户", phone="+8613900002222")
