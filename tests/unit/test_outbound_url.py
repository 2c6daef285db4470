"""Where the platform may post on a tenant's behalf: the URL at registration, the address at delivery."""

import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions.domain.errors import InvalidInput
from functions.integrations.outbound_url import (
    OutboundUrlRefused,
    is_public,
    parse_outbound_url,
    resolve_public,
)
from functions.integrations.webhooks import HttpWebhookPoster

NON_PUBLIC_HOSTS = [
    "127.0.0.1",
    "127.1",  # the short forms a browser or libc reads as 127.0.0.1
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "0x7f.0.0.1",
    "127.0.0.1.",
    "localhost",
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
    "169.254.169.254",  # the instance metadata service
    "0xa9fea9fe",
    "[::ffff:169.254.169.254]",
    "[fd00:ec2::254]",  # the metadata service over IPv6
    "[fe80::1%25eth0]",
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "[2002:a9fe:a9fe::]",  # 6to4 of 169.254.169.254
    "10.0.0.4",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # shared CGNAT space
    "100.100.100.200",
    "192.0.0.192",
    "198.18.0.1",
    "224.0.0.1",
    "[ff02::1]",
    "240.0.0.1",
    "255.255.255.255",
    "0",
    "0.0.0.0",
    "[::]",
    "[::7f00:1]",  # IPv4-compatible, deprecated
    "192.0.2.1",  # documentation
    "[2001:db8::1]",
]


@pytest.mark.parametrize("host", NON_PUBLIC_HOSTS)
def test_a_url_whose_host_is_a_non_public_address_in_any_form_is_refused(host):
    with pytest.raises(OutboundUrlRefused) as refused:
        parse_outbound_url(f"https://{host}/hook")
    assert isinstance(refused.value, InvalidInput)
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "https://[broken/hook",
        "https://example.com:99999/",
        "https://example.com:port/",
        "https://1.2.3.999/",
        "https://1.2.3.4.5/",
        "https://foo.1/",
        "https://[::g]/",
        "https://user:pw@hooks.example.com/",
        "http://hooks.example.com/replies",
        "ftp://hooks.example.com/",
        "hooks.example.com/replies",
        "not a url",
        "https:///nohost",
        "https://hooks.example.com/a b",
        "https://bücher.example/",
    ],
)
def test_a_url_that_is_not_an_absolute_https_url_is_refused_naming_the_field(url):
    with pytest.raises(OutboundUrlRefused) as refused:
        parse_outbound_url(url, field="callback_url")
    assert refused.value.field == "callback_url"


@pytest.mark.parametrize(
    ("url", "host", "port", "target"),
    [
        ("https://hooks.example.com/replies?x=1", "hooks.example.com", 443, "/replies?x=1"),
        (" https://Hooks.Example.com:8443 ", "hooks.example.com", 8443, "/"),
        ("https://8.8.8.8/hook", "8.8.8.8", 443, "/hook"),
        ("https://[2606:4700:4700::1111]/h", "2606:4700:4700::1111", 443, "/h"),
        ("https://xn--bcher-kva.example/", "xn--bcher-kva.example", 443, "/"),
    ],
)
def test_a_public_https_url_is_accepted(url, host, port, target):
    checked = parse_outbound_url(url)
    assert (checked.host, checked.port, checked.target) == (host, port, target)
    assert checked.url == url.strip()


def test_loopback_is_the_one_exception_where_allowed_and_then_plain_http_too():
    assert parse_outbound_url("http://127.0.0.1:8123/hook", allow_loopback=True).port == 8123
    assert parse_outbound_url("http://localhost/hook", allow_loopback=True).host == "localhost"
    for url in ("https://10.0.0.4/", "http://169.254.169.254/"):
        with pytest.raises(OutboundUrlRefused):
            parse_outbound_url(url, allow_loopback=True)
    # plain http only to a loopback host, and only to a name that resolves to loopback alone
    with pytest.raises(OutboundUrlRefused, match="https"):
        parse_outbound_url("http://hooks.example.com/", allow_loopback=True)
    resolve, _ = resolver_of(["127.0.0.1", "93.184.216.34"])
    with pytest.raises(OutboundUrlRefused):
        resolve_public("http://localhost/", resolve, allow_loopback=True)


def test_public_means_outside_every_special_range():
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert is_public(ipaddress.ip_address("2606:2800:220:1::"))
    assert is_public(ipaddress.ip_address("::ffff:93.184.216.34"))
    assert not is_public(ipaddress.ip_address("::ffff:10.1.2.3"))


def resolver_of(answers):
    calls = []

    def resolve(host, port):
        calls.append((host, port))
        return answers

    return resolve, calls


def test_a_name_that_resolves_to_a_non_public_address_is_refused_at_delivery():
    # GIVEN a public-looking name whose DNS answer is the metadata service (or mixes one in)
    for answers in (["169.254.169.254"], ["93.184.216.34", "10.0.0.1"], ["::ffff:127.0.0.1"], []):
        resolve, _ = resolver_of(answers)
        # WHEN it is checked before a post THEN it is refused
        with pytest.raises(OutboundUrlRefused):
            resolve_public("https://hooks.example.com/x", resolve)


def test_a_name_that_resolves_to_public_addresses_is_pinned_to_one_of_them():
    resolve, calls = resolver_of(["93.184.216.34", "2606:2800:220:1::"])
    pinned = resolve_public("https://hooks.example.com:8443/x", resolve)
    assert pinned.address == ipaddress.ip_address("93.184.216.34")
    assert calls == [("hooks.example.com", 8443)]


def test_a_name_that_does_not_resolve_is_refused():
    def fails(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(OutboundUrlRefused, match="does not resolve"):
        resolve_public("https://nowhere.example/", fails)


class Recording(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, bytes]] = []
    answer = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).seen.append((self.path, self.headers.get("host", ""), body))
        self.send_response(self.answer)
        if self.answer in (301, 302, 307, 308):
            self.send_header("location", "http://169.254.169.254/latest/meta-data")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook_server():
    Recording.seen, Recording.answer = [], 204
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_post_goes_to_the_checked_address_with_the_names_host_header(hook_server):
    # GIVEN a name the resolver answers once with the (allowed, loopback) server's address; a second
    # lookup would answer the metadata service, as a rebinding DNS server does
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    lookups = []

    def rebinding(host, port):
        lookups.append(host)
        return next(answers)

    poster = HttpWebhookPoster(timeout_seconds=2, resolver=rebinding, allow_loopback=True)
    # WHEN a reply is posted
    outcome = poster.post(f"http://localhost:{hook_server}/replies?t=1", b'{"a":1}', {})
    # THEN it was looked up once and delivered to that address, naming the host the tenant gave
    assert outcome == "delivered"
    assert lookups == ["localhost"]
    assert Recording.seen == [("/replies?t=1", f"localhost:{hook_server}", b'{"a":1}')]


def test_a_post_to_a_name_resolving_to_the_metadata_service_is_not_made(hook_server):
    resolve, _ = resolver_of(["169.254.169.254"])
    poster = HttpWebhookPoster(timeout_seconds=1, resolver=resolve, allow_loopback=True)
    outcome = poster.post("https://hooks.example.com/x", b"{}", {})
    assert outcome.startswith("failed: ")
    assert "169.254.169.254" in outcome


def test_a_webhook_that_redirects_or_cannot_be_reached_fails_without_following(hook_server):
    Recording.answer = 307
    poster = HttpWebhookPoster(timeout_seconds=1, allow_loopback=True)
    url = f"http://127.0.0.1:{hook_server}/hook"
    assert poster.post(url, b"{}", {"Content-Type": "application/json"}) == "failed: HTTP 307"
    assert len(Recording.seen) == 1  # the redirect's target was not asked
    assert poster.post("http://127.0.0.1:1/hook", b"{}", {}).startswith("failed: ")
    assert HttpWebhookPoster().post("https://[broken/hook", b"{}", {}).startswith("failed: the URL")
