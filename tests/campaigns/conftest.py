from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Campaign
from customers.models import Customer

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Midday in the business's zone: outside the quiet hours whenever the suite runs.
NOON = datetime(2026, 12, 3, 12, 0, tzinfo=SHANGHAI)


def customers(business, n: int, *, consent: bool = True, start: int = 0, **extra) -> list[Customer]:
    """`n` customers written in one statement (valid +86 mobile numbers)."""
    rows = [
        Customer(
            business=business,
            name=f"客{start + i}",
            phone=f"+86137{start + i:08d}",
            marketing_consent=consent,
            **extra,
        )
        for i in range(n)
    ]
    Customer.objects.bulk_create(rows)
    return list(
        Customer.objects.filter(business=business, phone__in=[c.phone for c in rows]).order_by("pk")
    )


def campaign(business, **fields) -> Campaign:
    values = {
        "name": "回店有礼",
        "message": "{name}您好，{shop}想念您！{offer}",
        "offer": "下次到店立减20元",
        "seed": 12345,
    }
    values.update(fields)
    c = Campaign(business=business, **values)
    c.full_clean()
    c.save()
    return c


@pytest.fixture
def noon():
    return NOON
