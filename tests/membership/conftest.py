from decimal import Decimal

import pytest

from membership.models import CouponTemplate, TopUpPackage, VisitProduct
from membership.services import account_open, top_up
from tests.factories import CustomerFactory


def open_card(tenant, *, stored: str = "0", bonus: str = "0", name: str = "王芳"):
    customer = CustomerFactory(business=tenant.business, name=name)
    account = account_open(customer=customer)
    if Decimal(stored) > 0:
        top_up(account=account, pay=Decimal(stored), bonus=Decimal(bonus), actor=tenant.owner)
    account.refresh_from_db()
    return account


@pytest.fixture
def card(tea):
    return open_card(tea, stored="100")


@pytest.fixture
def products(tea):
    b = tea.business
    return {
        "topup": TopUpPackage.objects.create(
            business=b, name="充500送50", pay=Decimal("500"), bonus=Decimal("50")
        ),
        "visits": VisitProduct.objects.create(
            business=b, name="洗车10次", visits=10, price=Decimal("100.00"), validity_days=365
        ),
        "coupon": CouponTemplate.objects.create(
            business=b,
            name="满100减20",
            kind="amount_off",
            value=Decimal("20"),
            min_spend=Decimal("100"),
            validity_days=30,
        ),
    }
