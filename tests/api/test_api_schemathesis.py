"""Property-based tests of the whole API against its own OpenAPI schema (schemathesis):
every operation, authenticated with a key of a seeded business — no 5xx, and every
response conforms to the schema."""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

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


# The schema view needs no database, so the schema loads at collection time.
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, seeded_key):
    case.call_and_validate(
        # The WSGI client does not decompress: ask for plain bodies (GZipMiddleware is on).
        headers={"Authorization": f"Api-Key {seeded_key}", "Accept-Encoding": "identity"},
        checks=[not_a_server_error, response_schema_conformance],
    )
