"""The signature a receiver checks with the README's recipe."""

import hashlib
import hmac
import json
import re
import time
from pathlib import Path

from shopops.webhooks import signing
from tests.shopops.webhooks import SECRET


def _readme_recipe():
    """The verification snippet of the README's Webhooks section, as a partner would paste it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [snippet] = [block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "def verify(secret" in block]
    namespace: dict = {}
    exec(snippet, namespace)  # our own README
    return namespace["verify"]


readme_verify = _readme_recipe()


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
