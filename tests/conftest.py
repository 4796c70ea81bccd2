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
