"""Links ShopOps sends out (shopops.public_urls): on SHOPOPS_PUBLIC_URL when it is set; in development without it,
on the address the site is browsed at; and with DEBUG off the site refuses to start without it."""

import re

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from shipping.models import ShipmentStatus
from shipping.notifications import tracking_url
from shopops.models import Role
from shopops.public_urls import LAST_REQUEST_KEY, public_url
from shopops.services import invitation_create
from shopops.webhooks.services import endpoint_failing_notify
from tests.shipping.factories import courier_event, make_shipment
from tests.shopops.factories import MembershipFactory
from tests.shopops.test_settings import production_env, run_python
from tests.shopops.webhooks import WebhookEndpointFactory

pytestmark = pytest.mark.django_db

INVITATION_LINK = re.compile(r"(\S+/invitations/)[A-Za-z0-9_-]{43}/")


@pytest.fixture
def development(settings):
    """DEBUG on and no SHOPOPS_PUBLIC_URL (nothing served yet: the cache is cleared for each test)."""
    settings.DEBUG = True
    settings.SHOPOPS_PUBLIC_URL = ""


def track_link(base: str, shipment) -> str:
    return f"{base}/track/{shipment.awb}/{shipment.tracking_token}/"


def invitation_link_base(merchant, mailoutbox, capture) -> str:
    """The address and path (all but the token) of the link in a new invitation's email."""
    with capture(execute=True):
        invitation_create(merchant=merchant, email=f"new{len(mailoutbox)}@example.in", role=Role.STAFF)
    return INVITATION_LINK.search(mailoutbox[-1].body).group(1)


# -- SHOPOPS_PUBLIC_URL set ----------------------------------------------------------------------------------


def test_links_sent_out_start_with_shopops_public_url(settings, merchant, mailoutbox,
                                                      django_capture_on_commit_callbacks):  # fmt: skip
    settings.SHOPOPS_PUBLIC_URL = "https://ops.acme.example/"
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    MembershipFactory(merchant=merchant, role=Role.OWNER)
    endpoint = WebhookEndpointFactory(merchant=merchant)

    tracking = tracking_url(shipment)
    invitation = invitation_link_base(merchant, mailoutbox, django_capture_on_commit_callbacks)
    endpoint_failing_notify(endpoint_id=endpoint.pk)

    assert tracking == track_link("https://ops.acme.example", shipment)
    assert invitation == "https://ops.acme.example/invitations/"
    assert (
        f"https://ops.acme.example/admin/shopops/webhookdelivery/?endpoint__id__exact={endpoint.pk}"
        "&status__exact=failed\n"
    ) in mailoutbox[-1].body


def test_shopops_public_url_wins_over_the_address_of_the_request_even_in_development(settings, api, merchant):
    settings.DEBUG = True
    settings.SHOPOPS_PUBLIC_URL = "https://ops.acme.example"
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)

    response = api.get(f"/api/v1/shipments/{shipment.pk}/", HTTP_HOST="localhost:8123")

    assert response.json()["tracking_url"] == track_link("https://ops.acme.example", shipment)
    assert cache.get(LAST_REQUEST_KEY) is None  # nothing to remember


# -- development without SHOPOPS_PUBLIC_URL -------------------------------------------------------------------


def test_in_development_a_link_follows_the_request_and_one_made_later_without_a_request_the_last_request(
    development, api, merchant, mailoutbox, django_capture_on_commit_callbacks
):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED, customer={"email": "priya@example.in"})

    # when the API is asked on localhost:8123
    served = api.get(f"/api/v1/tracking/{shipment.awb}/", HTTP_HOST="localhost:8123")
    # then later, outside any request, the courier's scan sends the customer's email (a task's work)
    with django_capture_on_commit_callbacks(execute=True):
        courier_event(shipment, "picked_up")

    assert served.json()["tracking_url"] == track_link("http://localhost:8123", shipment)
    assert f"Track it here: {track_link('http://localhost:8123', shipment)}\n" in mailoutbox[-1].body
    assert cache.get(LAST_REQUEST_KEY) == "http://localhost:8123"


def test_in_development_the_most_recent_request_s_scheme_host_and_port_win(
    development, api, merchant, mailoutbox, django_capture_on_commit_callbacks
):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    api.get("/api/v1/me/", HTTP_HOST="localhost:8123")
    api.get("/api/v1/me/", HTTP_HOST="127.0.0.1:9443", secure=True)

    tracking = tracking_url(shipment)
    invitation = invitation_link_base(merchant, mailoutbox, django_capture_on_commit_callbacks)

    assert tracking == track_link("https://127.0.0.1:9443", shipment)
    assert invitation == "https://127.0.0.1:9443/invitations/"


def test_in_development_before_any_request_links_point_where_make_run_serves(development, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)

    assert tracking_url(shipment) == track_link("http://127.0.0.1:8000", shipment)
    assert public_url("/healthz") == "http://127.0.0.1:8000/healthz"


def test_a_refused_host_is_not_remembered(development, client):
    response = client.get("/healthz", HTTP_HOST="evil.example:8000")

    assert response.status_code == 400
    assert cache.get(LAST_REQUEST_KEY) is None


# -- misuse and production ------------------------------------------------------------------------------------


def test_a_link_needs_a_path_from_the_site_s_root(settings):
    settings.SHOPOPS_PUBLIC_URL = "https://ops.acme.example"

    with pytest.raises(ValueError, match="A path on the site starts with '/': 'track/'"):
        public_url("track/")


def test_with_debug_off_and_no_address_a_link_is_a_configuration_error(settings):
    settings.SHOPOPS_PUBLIC_URL = ""

    with pytest.raises(ImproperlyConfigured, match="SHOPOPS_PUBLIC_URL must be set when DJANGO_DEBUG is off."):
        public_url("/track/")


def test_production_refuses_to_start_without_shopops_public_url(tmp_path):
    env = production_env(tmp_path)
    del env["SHOPOPS_PUBLIC_URL"]

    result = run_python("-c", "import django; django.setup()", **env)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: SHOPOPS_PUBLIC_URL must be set when DJANGO_DEBUG is off: the "
        "address in the links ShopOps sends out, e.g. https://ops.example.com."
    )


@pytest.mark.parametrize(
    "value", ["ops.example.com", "ftp://ops.example.com", "https://", "https://ops.example.com/?a=1"]
)
def test_an_address_that_is_not_an_http_site_refuses_to_start(tmp_path, value):
    env = production_env(tmp_path) | {"SHOPOPS_PUBLIC_URL": value}

    result = run_python("-c", "import django; django.setup()", **env)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: SHOPOPS_PUBLIC_URL must be the site's address, e.g. "
        f"https://ops.example.com, not {value.rstrip('/')!r}."
    )


def test_development_starts_without_shopops_public_url(tmp_path):
    env = {"DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'shopops.sqlite3'}"}

    result = run_python("-c", "from django.conf import settings; print(repr(settings.SHOPOPS_PUBLIC_URL))", **env)

    assert (result.returncode, result.stdout, result.stderr) == (0, "''\n", "")
