"""Property-based tests of the whole API against its own OpenAPI schema (schemathesis):
every operation, authenticated with a key of a seeded business, with every built-in check
(no 5xx, status codes, content types, headers and bodies as documented, invalid data
refused, valid data accepted)."""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from accounts.services import api_key_create
from segmentation.services import scoring_run_execute
from tests.factories import CustomerFactory, FollowUpFactory, InteractionFactory, PurchaseFactory


@pytest.fixture
def seeded_key(transactional_db, tea, salon):
    for tenant in (tea, salon):
        customer = CustomerFactory(business=tenant.business, customer_no="001")
        PurchaseFactory(customer=customer, external_id="S-1")
        InteractionFactory(customer=customer)
        FollowUpFactory(customer=customer)
        scoring_run_execute(business=tenant.business)
    _obj, key = api_key_create(business=tea.business, name="schemathesis")
    return key


# Every check runs. One setting: a valid request may also be refused with 400 when a
# business rule the schema cannot express says no (an id that does not exist in the
# business, a phone already used by another customer) — always with the error shape.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
            }
        }
    }
)

# The schema view needs no database, so the schema loads at collection time.
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler(), config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, seeded_key):
    case.call_and_validate(
        # The WSGI transport does not decompress: ask for plain bodies (GZipMiddleware).
        headers={"Authorization": f"Api-Key {seeded_key}", "Accept-Encoding": "identity"},
    )
