import pytest
from rest_framework.test import APIClient

from tests.shopops.factories import MembershipFactory, MerchantFactory, PartnerApplicationFactory, issue_token


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Acme Retail", slug="acme")


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(name="Other Shop", slug="other")


@pytest.fixture
def owner(merchant):
    return MembershipFactory(merchant=merchant, role="owner").user


def client_for(merchant, scopes=None, user=None) -> APIClient:
    """An API client holding a bearer token of a new partner application of ``merchant``."""
    application = PartnerApplicationFactory(merchant=merchant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(application, scopes, user)}")
    client.application = application
    return client


@pytest.fixture
def api(merchant):
    """A partner client of ``merchant`` with every scope."""
    return client_for(merchant)


@pytest.fixture
def other_api(other_merchant):
    """A partner client of another merchant with every scope."""
    return client_for(other_merchant)
