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
from infra.constants import CALLBACK_DLQ_ID, CALLBACK_QUEUE_ID
from local.demo import OPERATOR_API_KEY
from local.lambda_runtime import StreamPoller
from tests.integration.conftest import Platform

TRIGGER = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}


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
            self.send_response(int(answer))
            self.end_headers()
            self.wfile.write(b"thanks" if answer == 200 else b"not now")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}/sms-status"
    yield found
    server.shutdown()


def read_stream(platform: Platform) -> int:
    """Run the status-events function over the Messages stream, as its event source mapping would."""
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
    while poller.poll_once():
        pass
    return poller.invocations


def deliver(platform: Platform) -> int:
    poller = platform.poller(CALLBACK_QUEUE_ID, "callbacks")
    batches = 0
    while poller.poll_once():
        batches += 1
    return batches


def make_visible(platform: Platform) -> None:
    """Time passes: every event waiting for its retry is due again."""
    sqs = platform.session.client("sqs")
    url = platform.queue_url(CALLBACK_QUEUE_ID)
    for _ in range(20):
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0
        )
        if not got.get("Messages"):
            return


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


def test_a_failed_post_is_retried_later_with_the_same_event_id(platform: Platform, receiver: Receiver):
    secret = register(platform, receiver.url)
    receiver.script = [500, "slow"]  # the first attempt is refused, the second times out
    platform.send("/v1/triggers/payment_received", TRIGGER)
    platform.run_dispatchers()
    read_stream(platform)
    deliver(platform)
    # THEN the Sent event waits for its retry, invisible, and the log says why
    assert deliver(platform) == 0
    _, log = platform.call("GET", "/v1/status-callback/deliveries")
    assert [(item["outcome"], item["http_status"]) for item in log["items"]] == [("failed", 500)]
    make_visible(platform)
    deliver(platform)  # the slow answer: a timeout is a failure too
    make_visible(platform)
    deliver(platform)  # the third attempt is taken
    events = events_of(receiver, secret)
    assert len(events) == 3
    assert len({e["event_id"] for e in events}) == 1
    _status, log = platform.call("GET", "/v1/status-callback/deliveries")
    outcomes = [(item["outcome"], item["attempt"]) for item in log["items"]]
    assert outcomes == [("delivered", 3), ("failed", 2), ("failed", 1)]


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
    for bad in ("http://example.com/hook", "https://127.1/x", "https://[broken/hook", "ftp://example.com"):
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
