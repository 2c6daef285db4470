"""HMAC-signed webhooks, both ways: carriers that post inbound messages to us, and our posts to tenants.

The signature is HMAC-SHA256 over ``<timestamp>.<body>`` with a shared secret, sent as lowercase hex
in ``X-Signature``, the timestamp (Unix seconds) in ``X-Timestamp``. A request is accepted only if
its signature matches (compared in constant time) and its timestamp is within ``TOLERANCE_SECONDS``
of now, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from urllib.parse import urlsplit

from functions.domain.errors import InvalidInput, Unauthorized

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
TOLERANCE_SECONDS = 300
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


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


def validate_webhook_url(url: str, field: str, allow_loopback: bool = False) -> str:
    """An https URL to a public host. Plain http only to a loopback host, and only where allowed
    (the local runtime and tests); never an IP address in a private, loopback or link-local range,
    where a post could reach the function's own environment."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        raise InvalidInput(field, "must be an absolute https URL without credentials")
    loopback = host in LOOPBACK_HOSTS
    if loopback and not allow_loopback:
        raise InvalidInput(field, "must not point at this host")
    if parts.scheme != "https" and not (loopback and parts.scheme == "http"):
        raise InvalidInput(field, "must be an https URL")
    if not loopback:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and not address.is_global:
            raise InvalidInput(field, "must not be a private, loopback or link-local address")
    return url.strip()
