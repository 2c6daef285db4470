"""Posting a tenant's replies to its webhook: one signed POST, a short timeout, no redirects.

The URL is checked and its name resolved just before the post (``outbound_url.resolve_public``);
the connection then goes to the address that was checked, while the request's Host header and the
TLS server name and certificate check use the URL's host, so a DNS answer that changes in between
cannot send the post elsewhere. A redirect is an answer like any other: it is not followed.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

from functions.integrations.outbound_url import (
    OutboundUrlRefused,
    PinnedUrl,
    Resolver,
    resolve_public,
    system_resolver,
)

DEFAULT_TIMEOUT_SECONDS = 3.0
ANSWER_EXCERPT_BYTES = 1024  # of an answer, kept for the delivery log


@dataclass(frozen=True)
class PostResult:
    """What a post came to: the HTTP status (None if there was no answer) and the answer or the error."""

    status: int | None
    text: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to one checked address, whatever the host's name resolves to now."""

    def __init__(self, pinned: PinnedUrl, timeout: float, tls: ssl.SSLContext | None) -> None:
        super().__init__(pinned.url.host, pinned.url.port, timeout=timeout)
        self._address = str(pinned.address)
        self._tls = tls
        self.default_port = 443 if tls else 80  # so the Host header names no port when it is the default

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host) if self._tls else sock


class HttpWebhookPoster:
    def __init__(
        self,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        resolver: Resolver = system_resolver,
        allow_loopback: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout_seconds
        self._resolver = resolver
        self._allow_loopback = allow_loopback
        self._tls = tls or ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> str:
        """ "delivered", or "failed: <why>"; never raises."""
        result = self.post_for_result(url, body, headers)
        if result.ok:
            return "delivered"
        return f"failed: HTTP {result.status}" if result.status is not None else f"failed: {result.text}"

    def post_for_result(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        """The answer's status and its first bytes, or no status and the error; never raises."""
        try:
            pinned = resolve_public(url, self._resolver, self._allow_loopback)
        except OutboundUrlRefused as error:
            return PostResult(None, f"the URL {error.reason}")
        connection = _PinnedConnection(
            pinned, self._timeout, self._tls if pinned.url.scheme == "https" else None
        )
        try:
            connection.request("POST", pinned.url.target, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read(ANSWER_EXCERPT_BYTES).decode("utf-8", "replace")
            return PostResult(response.status, text)
        except (OSError, ValueError, http.client.HTTPException) as error:
            return PostResult(None, str(error) or type(error).__name__)
        finally:
            connection.close()
