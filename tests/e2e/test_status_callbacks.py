"""Status callbacks end to end: `python -m local` posts a tenant's status changes to a receiver here."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from functions.domain.signing import verify
from tests.e2e.conftest import LocalService, onboard_tenant, post_receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    with post_receiver("/status") as received:
        yield received


def test_a_tenants_callback_gets_sent_and_delivered_signed_once_each(service: LocalService, receiver):
    url, posts = receiver
    # GIVEN a tenant of its own (so no other test's messages reach this receiver) with a callback
    key, contact_id = onboard_tenant(
        service,
        "callbacks-e2e",
        "+18335550178",
        {"phone_number": "+15145550112", "email": "care@callbacks.example"},
        {
            "name": "Cy",
            "contact_type": "Primary",
            "related_entity_id": "S-10",
            "related_entity_type": "network_site",
            "related_entity_name": "South tower",
            "phones": [{"number": "514-555-0142", "number_type": "Mobile", "sms_opt_in": True}],
        },
    )
    registered = service.call("PUT", "/v1/status-callback", {"url": url}, key=key)
    assert registered.status == 200, registered.body
    secret = registered.body["secret"]
    time_to_see = time.monotonic()
    # WHEN it sends a triggered message
    sent = service.call(
        "POST", "/v1/triggers/ticket_closed",
        {"contact_id": contact_id, "variables": {"company": "Cb", "ticket_number": "78"}}, key=key,
    )  # fmt: skip
    assert sent.status == 202, sent.body
    (message,) = sent.body["messages"]
    # THEN its receiver gets Sent and Delivered, each signed
    deadline = time.monotonic() + 30
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline and set(statuses.values()) != {"Sent", "Delivered"}:
        for headers, body in list(posts):
            verify(secret, headers.get("x-timestamp"), headers.get("x-signature"), body, time.time())
            event = json.loads(body)
            assert event["message_id"] == message["id"]
            statuses[event["event_id"]] = event["status"]
        time.sleep(0.2)
    assert sorted(statuses.values()) == ["Delivered", "Sent"], (statuses, time.monotonic() - time_to_see)
    log = service.call("GET", "/v1/status-callback/deliveries", key=key).body
    assert {item["outcome"] for item in log["items"]} >= {"delivered"}
