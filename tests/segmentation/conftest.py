import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from customers.models import Customer, Interaction, Purchase
from segmentation.models import CustomerScore

START = datetime(2025, 1, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def make_history(business, customers: int = 60, seed: int = 1, phone_prefix: str = "+86137"):
    """Regulars, occasional and one-time buyers over 2025, plus a few who never bought."""
    rng = random.Random(seed)
    people = Customer.objects.bulk_create(
        Customer(business=business, name=f"客户{i}", phone=f"{phone_prefix}{i:08d}")
        for i in range(customers)
    )
    purchases = []
    for i, person in enumerate(people):
        if i % 10 == 9:
            continue  # never purchased
        gap = rng.choice([7, 14, 30, 60, 400])
        when = START + timedelta(days=rng.randrange(0, 60))
        while when < START + timedelta(days=365):
            amount = Decimal(rng.randrange(20, 300))
            purchases.append(
                Purchase(
                    business=business,
                    customer=person,
                    occurred_at=when,
                    amount=amount,
                    cost=amount / 2 if rng.random() < 0.3 else None,
                )
            )
            when += timedelta(days=max(1, rng.expovariate(1 / gap)))
    Purchase.objects.bulk_create(purchases)
    Interaction.objects.create(
        business=business, customer=people[0], occurred_at=START, cost_minutes=60,
        cost_amount=Decimal("5.00"),
    )  # fmt: skip
    return people


def snapshot(business) -> dict:
    return {
        row["customer_id"]: row
        for row in CustomerScore.objects.for_business(business).values(
            "customer_id", *CustomerScore.VALUE_FIELDS
        )
    }


@pytest.fixture
def tea_history(tea):
    return make_history(tea.business, seed=1)


@pytest.fixture
def salon_history(salon):
    return make_history(salon.business, customers=40, seed=2, phone_prefix="+86136")
