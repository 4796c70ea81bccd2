"""Issue 9 item 7: 16 tills posting overlapping batches at once never get a 500 (on
PostgreSQL the old code deadlocked: purchases' foreign-key locks against feedback
scheduling's row locks taken in sale order)."""

import random
import threading

from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create
from customers.models import Customer, Purchase
from feedback.models import FeedbackRequest
from tests.factories import CustomerFactory

CLIENTS = 16
BATCHES = 3
PER_BATCH = 40


def test_sixteen_concurrent_bulk_clients_never_fail(transactional_db, tea):
    people = [
        CustomerFactory(business=tea.business, customer_no=f"K{i:03d}", marketing_consent=True)
        for i in range(30)
    ]
    _obj, key = api_key_create(business=tea.business, name="tills")
    now = timezone.now()
    codes: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def till(n: int) -> None:
        rng = random.Random(n)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        try:
            for b in range(BATCHES):
                batch = []
                for i in range(PER_BATCH):
                    sale = {"occurred_at": (now - timezone.timedelta(minutes=i)).isoformat(),
                            "amount": f"{i + 1}.00"}  # fmt: skip
                    if i % 4 == 0:  # a new customer several tills create at the same time
                        sale |= {"phone": f"1370000{i % 20:04d}", "external_id": f"N-{b}-{i}"}
                    else:
                        sale |= {"customer_no": rng.choice(people).customer_no,
                                 "external_id": f"T{n}-{b}-{i}"}  # fmt: skip
                    batch.append(sale)
                rng.shuffle(batch)
                response = api.post(
                    "/api/v1/purchases/bulk/?create_customers=true", batch, format="json"
                )
                with lock:
                    codes.append(response.status_code)
                    if response.status_code != 200:
                        failures.append(response.content.decode()[:300])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=till, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert codes == [200] * CLIENTS * BATCHES
    expected = CLIENTS * BATCHES * PER_BATCH * 3 // 4 + BATCHES * (PER_BATCH // 4)
    assert Purchase.objects.count() == expected
    assert Customer.objects.count() == 30 + 5  # phones 1370000{0000,0004,…,0016}
    # one request per customer at most, never two
    per_customer = FeedbackRequest.objects.values_list("customer_id", flat=True)
    assert len(per_customer) == len(set(per_customer))
