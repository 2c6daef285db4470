"""HMAC-signed webhooks, both ways: carriers that post inbound messages to us, and our posts to tenants.

Where a post may go is checked in ``functions.integrations.outbound_url``.

The signature is HMAC-SHA256 over ``<timestamp>.<body>`` with a shared secret, sent as lowercase hex
in ``X-Signature``, the timestamp (Unix seconds) in ``X-Timestamp``. A request is accepted only if
its signature matches (compared in constant time) and its timestamp is within ``TOLERANCE_SECONDS``
of now, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

from functions.domain.errors import Unauthorized

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> None:
    """Raise Unauthorized unless the request is signed with ``secret`` and fresh."""
    if not timestamp or not signature:
        raise Unauthorized(f"the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are required")
    try:
        sent_at = int(timestamp)
    except ValueError as error:
        raise Unauthorized(f"{TIMESTAMP_HEADER} must be Unix seconds") from error
    if abs(now - sent_at) > TOLERANCE_SECONDS:
        raise Unauthorized(f"the request is stale: {TIMESTAMP_HEADER} is more than 5 minutes from now")
    expected = sign(secret, sent_at, body)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise Unauthorized(f"the {SIGNATURE_HEADER} does not match the body")
