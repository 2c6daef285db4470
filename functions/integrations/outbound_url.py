"""Outbound URLs the platform posts to on a tenant's behalf (the reply webhook, later status callbacks).

A tenant chooses the URL, so a post must never reach the function's own environment: the instance
metadata service, the VPC, loopback. Two checks, both here:

- ``parse_outbound_url`` at registration (and again before each post): an absolute ``https`` URL
  without credentials whose host is a name or a public address. A host that is an address is read
  the way a browser (WHATWG URL) reads it, so ``127.1``, ``0x7f000001``, ``2130706433`` and
  ``0177.0.0.1`` are all 127.0.0.1, and ``[::ffff:127.0.0.1]`` is too; any non-public one is refused.
- ``resolve_public`` just before the post: every address the name resolves to must be public, and the
  post connects to the address that was checked (``pin``), so a DNS answer that changes between the
  check and the connection (rebinding) cannot move it. Redirects are not followed by the poster.

Non-public means loopback, private (RFC 1918, unique local), link-local (169.254/16, fe80::/10, where
the metadata service lives), shared CGNAT space (100.64/10), multicast, unspecified, reserved and
documentation ranges, benchmarking (198.18/15), the IETF protocol block (192.0.0/24); an IPv6 address
that embeds an IPv4 one (IPv4-mapped, NAT64 ``64:ff9b::/96``, 6to4, Teredo) is judged by the embedded
address. ``allow_loopback`` (the local runtime and tests only) admits loopback addresses, over plain
http too, and nothing else.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from functions.domain.errors import InvalidInput

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> the addresses it resolves to

DEFAULT_PORTS = {"https": 443, "http": 80}
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # shared address space (CGNAT); some clouds' metadata lives here
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "64:ff9b:1::/48",  # local-use NAT64
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HEX_LABEL = re.compile(r"^0[xX][0-9a-fA-F]*$")


class OutboundUrlRefused(InvalidInput):
    """The URL may not be posted to (a 400 naming the field); ``reason`` says why."""

    def __init__(self, reason: str, field: str = "url") -> None:
        super().__init__(field, reason)
        self.reason = reason


@dataclass(frozen=True)
class OutboundUrl:
    url: str  # as registered (stripped)
    scheme: str  # "https", or "http" to a loopback host where allowed
    host: str  # the name (lowercase, no trailing dot) or the address as text
    port: int
    target: str  # path and query, as sent in the request line
    address: IpAddress | None  # the host, when it is an address

    def pin(self, address: IpAddress) -> PinnedUrl:
        return PinnedUrl(url=self, address=address)


@dataclass(frozen=True)
class PinnedUrl:
    """A URL and the checked address its connection must go to."""

    url: OutboundUrl
    address: IpAddress


def is_public(address: IpAddress) -> bool:
    """Whether an address is on the public internet (see the module's note for what is not)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or not address.is_global
    ):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return not any(address in network for network in _BLOCKED_NETWORKS if network.version == address.version)


def parse_host_address(host: str) -> IpAddress | None:
    """The address a URL's host names, read as a browser reads it; None for a name.

    Raises OutboundUrlRefused for a host that looks like an IPv4 address but is not a valid one
    (``1.2.3.999``): a browser refuses such a URL, so do we.
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError as error:
            raise OutboundUrlRefused("its host is not a valid IPv6 address") from error
    labels = host.split(".")
    if labels and labels[-1] == "" and len(labels) > 1:
        labels = labels[:-1]  # a trailing dot: "127.0.0.1."
    if not labels or not _numeric_label(labels[-1]):
        return None  # a name (its last label is not a number)
    return _whatwg_ipv4(labels)


def parse_outbound_url(url: str, allow_loopback: bool = False, field: str = "url") -> OutboundUrl:
    """Check a URL's form and literal host; raise OutboundUrlRefused naming ``field`` and what is wrong."""
    try:
        return _parse(url, allow_loopback)
    except OutboundUrlRefused as error:
        if field == error.field:
            raise
        raise OutboundUrlRefused(error.reason, field) from error


def _parse(url: str, allow_loopback: bool) -> OutboundUrl:
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
        raw_host = parts.hostname
    except ValueError as error:
        raise OutboundUrlRefused("is not a valid URL") from error
    if parts.scheme not in DEFAULT_PORTS or not raw_host:
        raise OutboundUrlRefused("must be an absolute https URL")
    if parts.username is not None or parts.password is not None:
        raise OutboundUrlRefused("must not carry credentials")
    if any(character.isspace() or ord(character) < 0x20 for character in text):
        raise OutboundUrlRefused("must not contain spaces or control characters")
    if not raw_host.isascii():
        raise OutboundUrlRefused("must name its host in ASCII (an international name in its xn-- form)")
    host = raw_host.lower().rstrip(".") or raw_host.lower()
    address = parse_host_address(host)
    loopback = host in LOOPBACK_NAMES or (address is not None and _is_loopback(address))
    if loopback and not allow_loopback:
        raise OutboundUrlRefused("must not point at this host (a loopback address)")
    if address is not None and not loopback and not is_public(address):
        raise OutboundUrlRefused(
            f"must not point at a non-public address ({address}: private, loopback, link-local, "
            "shared, multicast or reserved)"
        )
    if parts.scheme != "https" and not loopback:
        raise OutboundUrlRefused("must be an https URL")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return OutboundUrl(
        url=text,
        scheme=parts.scheme,
        host=str(address) if address is not None else host,
        port=port or DEFAULT_PORTS[parts.scheme],
        target=target,
        address=address,
    )


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for a name (every family, TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def resolve_public(url: str, resolver: Resolver = system_resolver, allow_loopback: bool = False) -> PinnedUrl:
    """The URL checked and pinned to an address its name resolves to, every one of which is public.

    Raises OutboundUrlRefused if the URL is refused, the name does not resolve, or any address it
    resolves to is not public (a name with one private address among public ones is refused whole:
    the connection would otherwise depend on which one is tried).
    """
    checked = _parse(url, allow_loopback)
    if checked.address is not None:
        return checked.pin(checked.address)
    try:
        answers = resolver(checked.host, checked.port)
    except OSError as error:
        raise OutboundUrlRefused(f"its host {checked.host} does not resolve") from error
    addresses: list[IpAddress] = []
    for answer in answers:
        try:
            addresses.append(ipaddress.ip_address(answer.split("%", 1)[0]))
        except ValueError as error:
            raise OutboundUrlRefused(f"its host {checked.host} resolved to '{answer}'") from error
    if not addresses:
        raise OutboundUrlRefused(f"its host {checked.host} does not resolve")
    for address in addresses:
        allowed = is_public(address) or (allow_loopback and _is_loopback(address))
        if not allowed:
            raise OutboundUrlRefused(f"its host {checked.host} resolves to a non-public address ({address})")
    if checked.scheme != "https" and not all(_is_loopback(address) for address in addresses):
        raise OutboundUrlRefused("must be an https URL")
    return checked.pin(addresses[0])


def _is_loopback(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _numeric_label(label: str) -> bool:
    return (label.isascii() and label.isdigit()) or bool(_HEX_LABEL.match(label))


def _whatwg_ipv4(labels: list[str]) -> ipaddress.IPv4Address:
    """WHATWG's IPv4 parser: 1-4 parts, each decimal, 0x-hex or 0-octal; the last fills the rest."""
    if len(labels) > 4:
        raise OutboundUrlRefused("its host is not a valid IPv4 address")
    numbers = [_ipv4_number(label) for label in labels]
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (5 - len(numbers)):
        raise OutboundUrlRefused("its host is not a valid IPv4 address")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(label: str) -> int:
    try:
        if _HEX_LABEL.match(label):
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label, 8)
        if label.isascii() and label.isdigit():
            return int(label)
    except ValueError:
        pass
    raise OutboundUrlRefused("its host is not a valid IPv4 address")
