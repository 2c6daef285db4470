"""Status callbacks through the real handlers: the Messages stream, the callback queue, a receiver here."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from functions.domain.signing import verify
from functions.logic import callbacks as callbacks_logic
from infra.constants import CALLBACK_DLQ_ID, CALLBACK_QUEUE_ID
from local.demo import OPERATOR_API_KEY
from local.lambda_runtime import StreamPoller
from tests.integration.conftest import Platform

TRIGGER = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}


@pytest.fixture(autouse=True)
def _fresh_registrations(monkeypatch) -> None:
    """Each test's registrations are its own: the stream reader's cache outlives a test's tables."""
    monkeypatch.setattr(callbacks_logic, "REGISTRATION_CACHE_SECONDS", -1.0)


@dataclass
class Receiver:
    """A tenant's endpoint on 127.0.0.1: answers from a script (status codes, or "slow"), keeps every post."""

    script: list[int | str] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def answer(self) -> int | str:
        return self.script.pop(0) if self.script else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            answer = found.answer()
            if answer == "slow":
                time.sleep(4)  # past the poster's 3 s timeout
                answer = 200
            try:
                self.send_response(int(answer))
                self.end_headers()
                self.wfile.write(b"thanks" if answer == 200 else b"not now")
            except BrokenPipeError:
                pass  # the poster gave up waiting (the timeout case)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}/sms-status"
    yield found
    server.shutdown()


# Each test's platform with its poller: the platform is kept, so that a later test's platform can
# never take its id (and be handed a poller whose iterators belong to an ended moto backend).
_POLLERS: dict[int, tuple[Platform, StreamPoller]] = {}


def read_stream(platform: Platform) -> int:
    """Run the status-events function over the Messages stream, as its event source mapping would
    (one mapping per test: each record is read once, where it stopped last time)."""
    if id(platform) in _POLLERS:
        _, poller = _POLLERS[id(platform)]
        while poller.poll_once():
            pass
        return poller.invocations
    (source,) = [
        s
        for s in platform.topology.stream_sources
        if platform.topology.functions[s.function_id].handler.startswith("functions.handlers.status_events")
    ]
    dynamodb = platform.session.client("dynamodb")
    arn = dynamodb.describe_table(TableName=platform.provisioned.refs[source.table_id])["Table"][
        "LatestStreamArn"
    ]
    poller = StreamPoller(
        platform.session.client("dynamodbstreams"),
        arn,
        platform.functions[source.function_id],
        source.batch_size,
        source.filters,
        threading.Event(),
    )
    _POLLERS[id(platform)] = (platform, poller)
    while poller.poll_once():
        pass
    return poller.invocations


def deliver(platform: Platform) -> int:
    poller = platform.poller(CALLBACK_QUEUE_ID, "callbacks")
    batches = 0
    while poller.poll_once():
        batches += 1
    return batches


def register(platform: Platform, url: str) -> str:
    status, body = platform.call("PUT", "/v1/status-callback", {"url": url})
    assert status == 200, body
    return str(body["secret"])


def events_of(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    found = []
    for headers, body in receiver.posts:
        verify(secret, headers.get("x-timestamp"), headers.get("x-signature"), body, time.time())
        event = json.loads(body)
        assert headers["x-event-id"] == event["event_id"]
        found.append(event)
    return found


def test_each_status_change_is_posted_once_signed_and_in_sequence(platform: Platform, receiver: Receiver):
    # GIVEN a tenant with a status callback
    secret = register(platform, receiver.url)
    # WHEN a triggered message is sent and delivered
    message = platform.send("/v1/triggers/payment_received", TRIGGER)
    platform.run_dispatchers()
    platform.deliver_receipts()
    read_stream(platform)
    deliver(platform)
    # THEN its receiver got Sent then Delivered, each signed, with rising sequence numbers
    events = events_of(receiver, secret)
    assert [(e["message_id"], e["status"]) for e in events] == [
        (message["id"], "Sent"),
        (message["id"], "Delivered"),
    ]
    assert events[0]["sequence"] < events[1]["sequence"]
    assert len({e["event_id"] for e in events}) == 2
    # AND the delivery log shows both, newest first; another tenant's log is empty
    status, log = platform.call("GET", "/v1/status-callback/deliveries")
    assert status == 200, log
    assert [item["outcome"] for item in log["items"]] == ["delivered", "delivered"]
    assert log["items"][0]["http_status"] == 200


def test_a_failed_post_waits_for_its_retry_delay(platform: Platform, receiver: Receiver):
    # GIVEN an endpoint that refuses its first post
    register(platform, receiver.url)
    receiver.script = [500]
    platform.send("/v1/triggers/payment_received", TRIGGER)
    platform.run_dispatchers()
    read_stream(platform)
    # WHEN the deliverer runs
    deliver(platform)
    # THEN the Sent event is back on the queue, not visible before its delay, and the log says why
    assert len(receiver.posts) == 1
    assert deliver(platform) == 0
    assert platform.queue_depth(CALLBACK_QUEUE_ID) == 1
    _, log = platform.call("GET", "/v1/status-callback/deliveries")
    assert [(item["outcome"], item["http_status"], item["attempt"]) for item in log["items"]] == [
        ("failed", 500, 1)
    ]


def test_retries_after_an_error_and_a_timeout_post_the_same_event_id(
    platform: Platform, receiver: Receiver, monkeypatch
):
    # GIVEN retries due at once (the schedule itself is a unit test's) and an endpoint that fails twice
    monkeypatch.setattr(callbacks_logic, "retry_delay_seconds", lambda attempt: 0)
    secret = register(platform, receiver.url)
    receiver.script = [500, "slow"]  # refused, then too slow to answer (past the 3 s timeout)
    platform.send("/v1/triggers/payment_received", TRIGGER)
    platform.run_dispatchers()
    read_stream(platform)
    deliver(platform)
    # THEN the third attempt is taken, and the receiver saw one change under one id, three times
    events = events_of(receiver, secret)
    assert len(events) == 3
    assert len({e["event_id"] for e in events}) == 1
    _, log = platform.call("GET", "/v1/status-callback/deliveries")
    outcomes = [(item["outcome"], item["attempt"]) for item in log["items"]]
    assert outcomes == [("delivered", 3), ("failed", 2), ("failed", 1)]
    assert log["items"][1]["http_status"] is None  # the timeout: no answer
    assert platform.queue_depth(CALLBACK_QUEUE_ID) == 0


def test_an_endpoint_that_keeps_failing_opens_the_circuit_and_nothing_is_lost(
    platform: Platform, receiver: Receiver
):
    register(platform, receiver.url)
    receiver.script = [503] * 5
    for _ in range(5):
        platform.send("/v1/triggers/payment_received", TRIGGER)
    platform.run_dispatchers()
    read_stream(platform)
    deliver(platform)  # five Sent events, five failures: the circuit opens
    assert len(receiver.posts) == 5
    platform.send("/v1/triggers/payment_received", TRIGGER)
    platform.run_dispatchers()
    read_stream(platform)
    deliver(platform)
    # THEN the sixth event is not posted while the circuit is open, and waits on the queue
    assert len(receiver.posts) == 5
    _status, log = platform.call("GET", "/v1/status-callback/deliveries")
    assert log["items"][0]["outcome"] == "circuit_open"
    assert platform.queue_depth(CALLBACK_QUEUE_ID) == 6
    assert platform.queue_depth(CALLBACK_DLQ_ID) == 0


def test_tenants_without_a_callback_queue_nothing_and_the_bus_gets_every_change(platform: Platform):
    platform.send("/v1/triggers/payment_received", TRIGGER)
    platform.run_dispatchers()
    assert read_stream(platform) >= 1
    assert platform.queue_depth(CALLBACK_QUEUE_ID) == 0


def test_the_callback_url_is_checked_and_its_secret_shown_once(platform: Platform):
    bad_urls = (
        "http://example.com/hook",
        "https://10.1/x",
        "https://0xa9fea9fe/",
        "https://[broken/hook",
        "ftp://a.b",
    )
    for bad in bad_urls:
        status, body = platform.call("PUT", "/v1/status-callback", {"url": bad})
        assert status == 400, (bad, body)
        assert body["field"] == "url"
    status, _ = platform.call("GET", "/v1/status-callback")
    assert status == 404
    status, body = platform.call("PUT", "/v1/status-callback", {"url": "https://hooks.example.com/sms"})
    assert status == 200
    assert body["secret"].startswith("whsec_")
    status, shown = platform.call("GET", "/v1/status-callback")
    assert status == 200
    assert shown["secret"] is None
    assert shown["url"] == "https://hooks.example.com/sms"
    status, _ = platform.call("GET", "/v1/status-callback", key=OPERATOR_API_KEY)
    assert status == 403
    status, _ = platform.call("DELETE", "/v1/status-callback")
    assert status == 204
    status, _ = platform.call("DELETE", "/v1/status-callback")
    assert status == 404
