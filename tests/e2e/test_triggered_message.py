"""The README's flow, over HTTP, against `python -m local`: POST a trigger and watch it be delivered."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import DEMO_KEY, LocalService, onboard_tenant

pytestmark = pytest.mark.e2e

PAYMENT = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}


def wait_for(
    service: LocalService, message_id: str, status: str, timeout: float = 20.0, key: str = DEMO_KEY
) -> tuple[dict, set[str]]:
    """Until the message has been in ``status`` (now, or earlier in its history: a receipt may move
    it on between two looks)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = service.call("GET", f"/v1/messages/{message_id}", key=key).body
        seen |= {message["status"], *(change["status"] for change in message.get("history", []))}
        if status in seen:
            return message, seen
        time.sleep(0.05)
    pytest.fail(f"{message_id} never reached {status}; saw {seen}")


@pytest.mark.parametrize("attempt", ["cold", "warm"])
def test_a_triggered_message_is_delivered_end_to_end(service: LocalService, attempt: str):
    started = time.monotonic()
    response = service.call("POST", "/v1/triggers/payment_received", PAYMENT)
    assert response.status == 202, response.body
    (created,) = response.body["messages"]
    assert created["status"] == "Pending"

    message, _ = wait_for(service, created["id"], "Delivered")
    elapsed = time.monotonic() - started
    print(f"\nPOST to Delivered ({attempt}): {elapsed * 1000:.0f} ms")

    statuses = [change["status"] for change in message["history"]]
    assert [status for index, status in enumerate(statuses) if statuses[index - 1 : index] != [status]] == [
        "Pending",
        "In Progress",
        "Sent",
        "Delivered",
    ]
    # the carrier's not-final TEXT_SUCCESSFUL, if it came before TEXT_DELIVERED, is in the history
    notes = [change.get("detail", "") for change in message["history"][3:-1]]
    assert all(note.startswith("TEXT_SUCCESSFUL") for note in notes), notes
    assert message["body"].startswith("Demo Fiber: thank you, we received your payment of $49.99.")
    assert message["body"].endswith("Reply STOP to unsubscribe.")
    carrier = service.call("GET", "/_local/carrier/messages", key=None).body
    sent = [m for m in carrier["messages"] if m["context"].get("message_id") == created["id"]]
    assert len(sent) == 1
    assert sent[0]["destination"] == "+14165550123"
    assert sent[0]["body"] == message["body"]


def test_the_log_lists_the_message(service: LocalService):
    created = service.call("POST", "/v1/triggers/ticket_created", {
        "contact_id": "contact-grace", "variables": {"company": "Demo Fiber", "ticket_number": "4242"},
    })  # fmt: skip
    assert created.status == 202
    listed = service.call("GET", "/v1/messages?limit=5").body["items"]
    assert created.body["messages"][0]["id"] in [item["id"] for item in listed]


def test_bad_input_is_a_problem_document(service: LocalService):
    malformed = service.call("POST", "/v1/triggers/payment_received", raw=b"{nope")
    assert malformed.status == 400
    assert malformed.headers["content-type"] == "application/problem+json"
    assert malformed.body["field"] == "body"

    missing = service.call("POST", "/v1/triggers/payment_received", {"variables": {}})
    assert missing.status == 400
    assert missing.body["field"] == "contact_id"

    mistyped = service.call("POST", "/v1/triggers/payment_received", {"contact_id": ["x"]})
    assert mistyped.status == 422
    assert mistyped.body["field"] == "body.contact_id"

    unknown = service.call("GET", "/v1/no-such-thing")
    assert unknown.status == 404
    assert unknown.body["title"] == "Not found"


def test_the_gateway_refuses_missing_and_wrong_keys(service: LocalService):
    assert service.call("GET", "/v1/messages", key=None).status == 401
    assert service.call("GET", "/v1/messages", key="sms_wrong").status == 403
    assert service.call("GET", "/v1/openapi.json", key=None).status == 200


def test_a_tenant_set_up_over_http_sends_a_triggered_message(service: LocalService):
    key, contact_id = onboard_tenant(
        service,
        "e2e-isp",
        "+18335550177",
        {"phone_number": "+15145550111", "email": "care@e2e.example"},
        {
            "name": "Lee",
            "contact_type": "Primary",
            "related_entity_id": "S-9",
            "related_entity_type": "network_site",
            "related_entity_name": "North tower",
            "phones": [{"number": "514-555-0123", "number_type": "Mobile", "sms_opt_in": True}],
        },
    )

    sent = service.call("POST", "/v1/triggers/ticket_closed", {
        "contact_id": contact_id, "variables": {"company": "E2E", "ticket_number": "77"},
    }, key=key)  # fmt: skip
    assert sent.status == 202, sent.body
    (message,) = sent.body["messages"]
    delivered, _ = wait_for(service, message["id"], "Delivered", key=key)
    assert delivered["body"] == "E2E: ticket #77 is closed.\nReply STOP to unsubscribe."
    assert delivered["related_entity"] == "North tower"
    assert delivered["sending_number"] == "+18335550177"
    # AND the message was paid from the balance: one debit of its price, newest first in the ledger
    ledger = service.call("GET", "/v1/balance/ledger", key=key).body["items"]
    assert [(item["kind"], item["amount_micros"]) for item in ledger] == [
        ("debit", -delivered["price_micros"]),
        ("credit", 1_000_000),
    ]
    balance = service.call("GET", "/v1/balance", key=key).body
    assert balance["balance_micros"] == 1_000_000 - delivered["price_micros"]
