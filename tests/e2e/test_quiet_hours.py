"""Quiet hours over HTTP, against `python -m local`: a trigger is held, then released when they end.

Quiet hours are whole minutes, so the hold lasts until the next whole minute of the wall clock (or
the one after, when that is too close). The hold is placed by the first test, which runs first
among the e2e files on the shared runtime, and the release is checked by the second, which runs
last (tests/conftest.py), so the wait for the minute overlaps the other files instead of adding to
them. Run alone, the file still runs them in that order and the second waits. The service's
schedule ticks every second (--tick-seconds 1), at the start of each second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import LocalService, onboard_tenant
from tests.e2e.test_triggered_message import wait_for

pytestmark = pytest.mark.e2e

NEW_YORK = ZoneInfo("America/New_York")
MARGIN_SECONDS = 8  # the trigger must be well inside the quiet hours


@dataclass(frozen=True)
class Hold:
    key: str
    message: dict  # the trigger's answer for its one message
    end: datetime  # when the quiet hours end


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


@pytest.fixture(scope="package")  # one hold, placed by the first test and released for the last
def hold(service: LocalService) -> Hold:
    key, contact_id = quiet_tenant(service)
    now = datetime.now(NEW_YORK)
    minutes = 1 if now.second < 60 - MARGIN_SECONDS else 2
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=minutes)
    start = end - timedelta(minutes=3)
    quiet = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    assert service.call("PATCH", "/v1/settings", {"quiet_hours": quiet}, key=key).status == 200
    response = service.call("POST", "/v1/triggers/ticket_closed", {
        "contact_id": contact_id, "variables": {"company": "Quiet", "ticket_number": "9"},
    }, key=key)  # fmt: skip
    assert response.status == 202, response.body
    (message,) = response.body["messages"]
    return Hold(key, message, end)


def test_a_trigger_in_the_quiet_hours_is_held_until_they_end(service: LocalService, hold: Hold):
    assert (hold.message["status"], hold.message["hold_rule"]) == ("Pending", "quiet_hours")
    assert datetime.fromisoformat(hold.message["release_at"]) == hold.end
    looked = service.call("GET", f"/v1/messages/{hold.message['id']}", key=hold.key).body
    assert datetime.now(NEW_YORK) < hold.end
    assert looked["status"] == "Pending"
    assert [change["status"] for change in looked["history"]] == ["Pending"]


def test_the_held_trigger_is_released_when_the_quiet_hours_end(service: LocalService, hold: Hold):
    wait = max(0.0, (hold.end - datetime.now(NEW_YORK)).total_seconds())
    sent, _ = wait_for(service, hold.message["id"], "Sent", timeout=wait + 15, key=hold.key)
    sent_at = datetime.fromisoformat(next(c["at"] for c in sent["history"] if c["status"] == "Sent"))
    delay = (sent_at - hold.end).total_seconds()
    print(f"\nquiet hours end -> Sent: {delay * 1000:.0f} ms")
    assert 0 <= delay < 5
    carrier = service.call("GET", "/_local/carrier/messages", key=None).body
    assert [
        m["destination"] for m in carrier["messages"] if m["context"].get("message_id") == hold.message["id"]
    ] == ["+12125550142"]
