import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create


@pytest.fixture
def api_for():
    """api_for(business, read_only=False) -> an APIClient sending that business's key."""

    def make(business, read_only: bool = False) -> APIClient:
        _key, key = api_key_create(business=business, name="test", read_only=read_only)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client

    return make
