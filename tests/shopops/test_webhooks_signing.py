"""The signature a receiver checks with the README's recipe."""

import hashlib
import hmac
import json
import time

from shopops.webhooks import signing
from tests.shopops.webhooks import SECRET


def readme_verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The README's recipe, as a partner would paste it."""
    parts = dict(item.split("=", 1) for item in header.split(",") if item.startswith("t="))
    signatures = [item.split("=", 1)[1] for item in header.split(",") if item.startswith("v1=")]
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures)


def test_the_header_is_t_and_v1_of_hmac_sha256_over_timestamp_dot_body():
    body = json.dumps({"id": "evt_1", "type": "order.created"}, separators=(",", ":")).encode()

    header = signing.signature_header([SECRET], 1_790_000_000, body)

    expected = hmac.new(SECRET.encode(), b"1790000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1790000000,v1={expected}"


def test_the_readme_recipe_accepts_the_signature_and_refuses_a_changed_body_or_secret():
    body = b'{"id":"evt_2","type":"shipment.ndr","data":{"shipment":{"id":7}}}'
    header = signing.signature_header([SECRET], int(time.time()), body)

    assert readme_verify(SECRET, header, body) is True
    assert signing.verify(SECRET, header, body) is True
    assert readme_verify(SECRET, header, body.replace(b"7", b"8")) is False
    assert readme_verify("whsec_another", header, body) is False


def test_an_old_timestamp_is_refused():
    body = b"{}"
    header = signing.signature_header([SECRET], int(time.time()) - 301, body)

    assert readme_verify(SECRET, header, body) is False
    assert signing.verify(SECRET, header, body) is False


def test_during_a_rotation_both_secrets_verify():
    body = b'{"id":"evt_3"}'
    header = signing.signature_header(["whsec_new", "whsec_old"], int(time.time()), body)

    assert header.count("v1=") == 2
    assert readme_verify("whsec_new", header, body) is True
    assert readme_verify("whsec_old", header, body) is True
