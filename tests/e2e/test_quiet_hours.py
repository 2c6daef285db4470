"""Quiet hours over HTTP, against `python -m local`: a trigger is held, then released when they end.

The quiet hours end at the next whole minute of the wall clock, so the test waits up to a minute;
the service's schedule ticks every second (--tick-seconds 1), at the start of each second.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import LocalService, onboard_tenant
from tests.e2e.test_triggered_message import wait_for

pytestmark = pytest.mark.e2e

NEW_YORK = ZoneInfo("America/New_York")
MARGIN_SECONDS = 8  # the trigger must be well inside the quiet hours


def quiet_tenant(service: LocalService) -> tuple[str, str]:
    """A tenant of its own (in New York), so its quiet hours hold no other test's messages."""
    return onboard_tenant(
        service,
        "e2e-quiet",
        "+18335550188",
        {"phone_number": "+12125550111", "email": "care@quiet.example"},
        {
            "name": "Kim",
            "contact_type": "Primary",
            "related_entity_id": "A-7",
            "related_entity_name": "Kim home",
            "phones": [{"number": "212-555-0142", "number_type": "Mobile", "sms_opt_in": True}],
        },
    )


def test_a_held_trigger_is_released_when_the_quiet_hours_end(service: LocalService):
    key, contact_id = quiet_tenant(service)
    now = datetime.now(NEW_YORK)
    if now.second >= 60 - MARGIN_SECONDS:
        time.sleep(60 - now.second + 1)
        now = datetime.now(NEW_YORK)
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=2)
    quiet = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    assert service.call("PATCH", "/v1/settings", {"quiet_hours": quiet}, key=key).status == 200

    response = service.call("POST", "/v1/triggers/ticket_closed", {
        "contact_id": contact_id, "variables": {"company": "Quiet", "ticket_number": "9"},
    }, key=key)  # fmt: skip

    assert response.status == 202, response.body
    (held,) = response.body["messages"]
    assert (held["status"], held["hold_rule"]) == ("Pending", "quiet_hours")
    assert datetime.fromisoformat(held["release_at"]) == end
    time.sleep(2)
    assert service.call("GET", f"/v1/messages/{held['id']}", key=key).body["status"] == "Pending"

    sent, _ = wait_for(service, held["id"], "Sent", timeout=75, key=key)
    sent_at = datetime.fromisoformat(next(c["at"] for c in sent["history"] if c["status"] == "Sent"))
    delay = (sent_at - end).total_seconds()
    print(f"\nquiet hours end -> Sent: {delay * 1000:.0f} ms")
    assert 0 <= delay < 5
    carrier = service.call("GET", "/_local/carrier/messages", key=None).body
    assert [
        m["destination"] for m in carrier["messages"] if m["context"].get("message_id") == held["id"]
    ] == ["+12125550142"]
