"""The ``ShopOps-Signature`` header: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>``.

While a rotated secret is still valid, a second ``v1=`` signed with it follows. A receiver checks the body it
read, byte for byte, against any ``v1`` and refuses a ``t`` too far from its clock (5 minutes).
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "ShopOps-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with the secret (its UTF-8 bytes)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={sign(secret, timestamp, body)}" for secret in secrets)])


def verify(secret: str, header: str, body: bytes, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:  # fmt: skip
    """What a receiver does (the README's recipe): True when one ``v1`` matches and ``t`` is recent."""
    items = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [value for key, value in items if key.strip() == "t"]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, value.strip()) for key, value in items if key.strip() == "v1")
