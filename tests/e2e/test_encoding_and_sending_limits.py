# ruff: noqa: RUF001 (typographic look-alikes are what the smart-encoding test sends)
"""Smart encoding, the three-a-day rule and the Texas window over HTTP, against `python -m local`.

Each test has a tenant of its own, so its settings touch no other test's messages.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import LocalService, onboard_tenant
from tests.e2e.test_triggered_message import wait_for

pytestmark = pytest.mark.e2e

CENTRAL = ZoneInfo("America/Chicago")


def tenant(service: LocalService, tenant_id: str, sending_number: str, number: str) -> tuple[str, str]:
    return onboard_tenant(
        service,
        tenant_id,
        sending_number,
        {"phone_number": "+13055550100", "email": "care@limits.example"},
        {
            "name": "Rae",
            "contact_type": "Primary",
            "related_entity_id": "A-9",
            "related_entity_name": "Rae home",
            "phones": [{"number": number, "number_type": "Mobile", "sms_opt_in": True}],
        },
    )


def trigger(service: LocalService, key: str, contact_id: str, company: str) -> dict[str, Any]:
    response = service.call("POST", "/v1/triggers/ticket_closed", {
        "contact_id": contact_id, "variables": {"company": company, "ticket_number": "7"},
    }, key=key)  # fmt: skip
    assert response.status == 202, response.body
    (message,) = response.body["messages"]
    return dict(message)


def test_smart_encoding_sends_the_gsm_text_and_keeps_the_written_one(service: LocalService):
    key, contact_id = tenant(service, "e2e-smart", "+18335550166", "416-555-0166")
    assert service.call("PATCH", "/v1/settings", {"smart_encoding": True}, key=key).status == 200

    created = trigger(service, key, contact_id, "O’Brien’s Fiber — North")

    assert (created["encoding"], created["segments"]) == ("GSM", 1)
    assert created["body"].startswith("O'Brien's Fiber - North: ticket #7 is closed.")
    assert created["original_body"].startswith("O’Brien’s Fiber — North")
    wait_for(service, created["id"], "Sent", timeout=30, key=key)
    carrier = service.call("GET", "/_local/carrier/messages", key=None).body["messages"]
    (sent,) = [m for m in carrier if m["context"].get("message_id") == created["id"]]
    assert sent["body"] == created["body"]


def test_the_fourth_message_on_a_subject_to_a_florida_number_waits_a_day(service: LocalService):
    key, contact_id = tenant(service, "e2e-three", "+18335550155", "305-555-0155")
    assert service.call("PATCH", "/v1/settings", {"three_a_day_rule": True}, key=key).status == 200

    first, second, third, fourth = (trigger(service, key, contact_id, "Sunrise") for _ in range(4))

    assert [m["release_at"] for m in (first, second, third)] == [None, None, None]
    assert (fourth["status"], fourth["hold_rule"]) == ("Pending", "three_a_day")
    created = datetime.fromisoformat(first["created_at"])
    release = datetime.fromisoformat(fourth["release_at"])
    assert timedelta(hours=24) <= release - created <= timedelta(hours=24, minutes=1)
    wait_for(service, third["id"], "Sent", timeout=30, key=key)
    assert service.call("GET", f"/v1/messages/{fourth['id']}", key=key).body["status"] == "Pending"


def texas_opening_after(now: datetime) -> datetime | None:
    """None when Texas's window (09:00-21:00, Sundays 12:00-21:00) is open at ``now``; else when it opens."""
    local = now.astimezone(CENTRAL)

    def opens(day: datetime) -> datetime:
        hour = 12 if day.weekday() == 6 else 9
        return datetime.combine(day.date(), time(hour), tzinfo=CENTRAL)

    if opens(local) <= local < local.replace(hour=21, minute=0, second=0, microsecond=0):
        return None
    if local < opens(local):
        return opens(local)
    return opens(local + timedelta(days=1))


def test_a_texas_recipient_gets_the_texas_window(service: LocalService):
    key, contact_id = tenant(service, "e2e-texas", "+18335550144", "281-555-0144")
    assert service.call("PATCH", "/v1/settings", {"recipient_local_window": True}, key=key).status == 200

    created = trigger(service, key, contact_id, "Lone Star")

    expected = texas_opening_after(datetime.fromisoformat(created["created_at"]))
    if expected is None:
        assert created["release_at"] is None
    else:
        assert created["hold_rule"] == "recipient_window_state:TX"
        assert datetime.fromisoformat(created["release_at"]) == expected
