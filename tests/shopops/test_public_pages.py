"""Public pages across two merchants, as the tenancy matrix does for the API.

Every page served without a login (outside /admin/, /api/ and /o/) must be listed in PROBES: a new public page
fails ``test_every_public_page_has_a_probe`` until it gets one. A probe is given two merchants that share what an
attacker could share (the same AWB, the same order number, the same phone digits) and returns the pages a
visitor of merchant A can reach and the pages A's data must never leak into; the test then checks that A's pages
show A's data and nothing of B's, and that B's secrets opened with A's public data show nothing.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from shipping.models import ShipmentStatus
from tests.shipping.factories import courier_event, make_shipment
from tests.shopops.factories import invitation_with_link

pytestmark = pytest.mark.django_db

#: URL prefixes that are not public pages (each has its own scoping and tests) and pages with nothing of a merchant.
NOT_PUBLIC_PAGES = ("admin/", "api/", "o/", "(?:api|o)/", "healthz", "media/")


@dataclass
class Visit:
    path: str
    status: int
    must_show: tuple[str, ...] = ()
    method: str = "get"
    data: dict | None = None


def public_routes() -> Iterator[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and not route.lstrip("^").startswith(NOT_PUBLIC_PAGES):
                yield route

    yield from walk(get_resolver().url_patterns)


def _tracking(ours, theirs) -> tuple[list[Visit], tuple[str, ...]]:
    """A's shipment and B's under the same AWB, B's with a scan of its own and an order with the same number."""
    a = make_shipment(ours, ShipmentStatus.PICKUP_SCHEDULED)
    b = make_shipment(theirs, ShipmentStatus.PICKUP_SCHEDULED)
    assert a.awb == b.awb and a.order.number == b.order.number
    courier_event(a, "picked_up", description="Collected from the Acme warehouse", location="Bengaluru")
    courier_event(b, "picked_up", description="Collected from the other warehouse", location="Kolkata")
    visits = [
        Visit(f"/track/{a.awb}/{a.tracking_token}/", 200, ("Acme Retail", "Collected from the Acme warehouse")),
        Visit(f"/track/{a.awb}/", 200),
        Visit("/track/", 200),
        # the second proofs A's customer has; the shared order number and phone digits lead nowhere
        Visit("/track/", 302, method="post", data={"awb": a.awb, "reference": a.order.channel_order_id}),
        Visit("/track/", 404, method="post", data={"awb": a.awb, "reference": a.order.number}),
        Visit("/track/", 404, method="post", data={"awb": a.awb, "reference": "5678"}),
        # B's token is B's secret: never valid for A's AWB under another token, nor guessable from A's
        Visit(f"/track/{a.awb}/{a.tracking_token[:-1]}/", 404),
        Visit(f"/track/{a.awb}/{a.tracking_token.upper()}/", 404),
    ]
    return visits, ("Other Shop", "Collected from the other warehouse", "Kolkata", b.tracking_token)


def _invitations(ours, theirs) -> tuple[list[Visit], tuple[str, ...]]:
    """Both merchants invited the same address; B also has a withdrawn invitation."""
    _, a = invitation_with_link(merchant=ours, email="shared@example.com", role="manager")
    _, b = invitation_with_link(merchant=theirs, email="shared@example.com", role="viewer")
    _, b_revoked = invitation_with_link(merchant=theirs, email="gone@example.com", revoked_at=timezone.now())
    visits = [
        Visit(f"/invitations/{a}/", 200, ("Join Acme Retail on ShopOps", "as <strong>manager</strong>")),
        Visit(
            f"/invitations/{a}/",
            200,
            ("The two passwords differ.",),
            method="post",
            data={"action": "signup", "password1": "a-Long-enough-phrase", "password2": "other"},
        ),
        Visit(f"/invitations/{a[:-1]}/", 404, ("This invitation link is not valid",)),
        Visit(f"/invitations/{a.upper()}/", 404, ("This invitation link is not valid",)),
        Visit(f"/invitations/{b_revoked}/", 410, ("This invitation was withdrawn",)),
    ]
    return visits, ("Other Shop", b, b_revoked, "gone@example.com")


#: route (as the URL conf spells it) -> probe; one probe may cover several routes of one feature.
PROBES: dict[str, Callable] = {
    "track/": _tracking,
    "track/<str:awb>/": _tracking,
    "track/<str:awb>/<str:token>/": _tracking,
    "invitations/<str:token>/": _invitations,
}


def test_every_public_page_has_a_probe():
    assert sorted(set(public_routes()) - set(PROBES)) == []


@pytest.mark.parametrize("probe", sorted(set(PROBES.values()), key=lambda p: p.__name__))
def test_public_pages_show_one_merchants_data_only(probe, merchant, other_merchant):
    visits, foreign = probe(merchant, other_merchant)
    client = Client()

    for visit in visits:
        response = getattr(client, visit.method)(visit.path, visit.data or {})
        page = response.content.decode()
        if response.status_code == 302:
            page = client.get(response["Location"]).content.decode()
        assert response.status_code == visit.status, visit
        for expected in visit.must_show:
            assert expected in page, (visit, expected)
        for leaked in foreign:
            assert leaked not in page, (visit, leaked)
