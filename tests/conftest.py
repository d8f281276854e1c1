import pytest
from django.db import connections
from django.db.utils import load_backend
from rest_framework.test import APIClient

from tests.shopops.factories import MembershipFactory, MerchantFactory, PartnerApplicationFactory, issue_token


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_dispatch(monkeypatch):
    """Each test starts with the broker taken as up: a send that failed in an earlier test makes this process skip
    sends for a few seconds (shopops/dispatch.py)."""
    from shopops import dispatch

    monkeypatch.setattr(dispatch, "_down_until", 0.0)
    monkeypatch.setattr(dispatch, "STATS", {"failed": 0, "skipped": 0})


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


# --- dependencies that are down ------------------------------------------------------------------------------------

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
CACHE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}  # as shopops/settings.py sets them


def redis_cache_settings(location: str) -> dict:
    """``settings.CACHES`` as production has it with ``CACHE_URL=location``."""
    return {"default": {"BACKEND": "shopops.cache.FallbackRedisCache", "LOCATION": location, "OPTIONS": CACHE_OPTIONS}}


def use_redis_cache(settings, location: str):
    """The project's cache at ``location``, with this process's view of that server (and its fallback) fresh."""
    from django.core.cache import caches

    from shopops import cache as shared_cache

    settings.CACHES = redis_cache_settings(location)
    shared_cache.server_states.pop(location, None)
    cache = caches["default"]
    cache.local.clear()
    return cache


@pytest.fixture
def dead_cache(settings):
    """The cache in a Redis that is not running."""
    return use_redis_cache(settings, DEAD_REDIS)


@pytest.fixture
def hung_server():
    """A TCP address that accepts connections and never answers: a server that hangs."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def dead_database(db):
    """This thread's database connection replaced by one to a PostgreSQL port nothing listens on."""
    settings_dict = {**connections.settings["default"], "ENGINE": "django.db.backends.postgresql", "NAME": "shopops",
                     "USER": "postgres", "PASSWORD": "", "HOST": "127.0.0.1", "PORT": 1, "OPTIONS": {}}  # fmt: skip
    working = connections["default"]
    connections["default"] = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    yield
    connections["default"] = working


#: A broker address nothing listens on (port 1 refuses connections at once).
DEAD_BROKER = DEAD_REDIS


def use_broker(url: str, eager: bool) -> None:
    from shopops.celery import app

    app.conf.broker_url, app.conf.task_always_eager = url, eager
    app._pool = None  # the connection and producer pools were made for the previous address
    app.amqp._producer_pool = None


@pytest.fixture
def dead_broker(settings, monkeypatch):
    """The app publishing to a broker that is down, as in production with Redis stopped."""
    from shopops.celery import app

    url, eager = app.conf.broker_url, app.conf.task_always_eager
    settings.CELERY_BROKER_URL = DEAD_BROKER
    monkeypatch.setenv("CELERY_BROKER_URL", DEAD_BROKER)  # Celery reads it before its own setting
    use_broker(DEAD_BROKER, eager=False)
    yield
    monkeypatch.undo()
    use_broker(url, eager)
