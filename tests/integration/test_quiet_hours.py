"""Quiet hours and calling windows through the real handlers, at controlled times (time-machine).

The demo tenant is in America/Toronto; Ada's mobile (+14165550123) is a Toronto number.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from functions.dal.messages import MessagesTable
from functions.logic.release import Releaser
from tests.integration.conftest import Platform

TORONTO = ZoneInfo("America/Toronto")
TRIGGER = "/v1/triggers/payment_received"
ADA = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}


def ok(platform: Platform, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    code, result = platform.call(method, path, body)
    assert code == status, result
    return result


def settings(platform: Platform, **change: Any) -> dict[str, Any]:
    return ok(platform, "PATCH", "/v1/settings", change)


def quiet_hours(platform: Platform, start: str, end: str, **more: Any) -> None:
    settings(platform, quiet_hours={"start": start, "end": end}, **more)


def release(platform: Platform) -> int:
    return int(platform.function("release").invoke({})["released"])


def message(platform: Platform, message_id: str) -> dict[str, Any]:
    return ok(platform, "GET", f"/v1/messages/{message_id}")


def contact_with(platform: Platform, number: str) -> str:
    created = ok(platform, "POST", "/v1/contacts", {
        "name": "Remote Recipient", "contact_type": "Billing", "related_entity_id": "acct-9",
        "related_entity_name": "Remote", "phones": [{"number": number, "number_type": "Mobile", "sms_opt_in": True}],
    }, status=201)  # fmt: skip
    return str(created["id"])


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """Frozen at 23:30 in Toronto on 2026-06-01; tests move it forward."""
    with time_machine.travel(datetime(2026, 6, 1, 23, 30, tzinfo=TORONTO), tick=False) as traveller:
        yield traveller


def test_a_triggered_message_in_quiet_hours_waits_and_goes_when_they_end(platform: Platform, clock):
    # GIVEN quiet hours across midnight, and a trigger at 23:30
    quiet_hours(platform, "22:00", "07:00")
    created = platform.send(TRIGGER, ADA)

    # THEN it is Pending with its release time, and nothing is queued
    assert created["status"] == "Pending"
    assert (created["release_at"], created["hold_rule"]) == ("2026-06-02T11:00:00Z", "quiet_hours")
    assert created["history"][0]["detail"] == "held by quiet_hours until 2026-06-02T11:00:00+00:00"
    assert platform.ready_count() == 0
    (listed,) = ok(platform, "GET", "/v1/messages")["items"]
    assert (listed["status"], listed["release_at"]) == ("Pending", "2026-06-02T11:00:00Z")

    # WHEN the schedule runs before the end (the last minute included)
    for local in (
        datetime(2026, 6, 2, 3, 0, tzinfo=TORONTO),
        datetime(2026, 6, 2, 6, 59, 59, tzinfo=TORONTO),
    ):
        clock.move_to(local)
        assert release(platform) == 0
    platform.run_dispatchers()
    assert platform.simulator.records == []

    # WHEN it runs at 07:00
    clock.move_to(datetime(2026, 6, 2, 7, 0, tzinfo=TORONTO))
    assert release(platform) == 1
    assert platform.ready_count() == 1
    platform.run_dispatchers()

    # THEN it is sent, once, and keeps its release time in the log
    (record,) = platform.simulator.records
    assert record.context["message_id"] == created["id"]
    sent = message(platform, created["id"])
    assert [change["status"] for change in sent["history"]] == ["Pending", "In Progress", "Sent"]
    assert sent["release_at"] == "2026-06-02T11:00:00Z"
    assert release(platform) == 0


def test_a_triggered_message_outside_quiet_hours_goes_at_once(platform: Platform, clock):
    quiet_hours(platform, "22:00", "07:00")
    clock.move_to(datetime(2026, 6, 2, 12, 0, tzinfo=TORONTO))

    created = platform.send(TRIGGER, ADA)

    assert (created["status"], created["release_at"], created["hold_rule"]) == ("Pending", None, None)
    assert platform.ready_count() == 1
    platform.run_dispatchers()
    assert message(platform, created["id"])["status"] == "Sent"


@pytest.mark.parametrize(
    ("local", "held"),
    [
        ((21, 59, 59), False),  # the minute before the start
        ((22, 0, 0), True),  # the start minute
        ((6, 59, 59), True),  # the last second
        ((7, 0, 0), False),  # the end minute
    ],
)
def test_the_boundary_minutes(platform: Platform, clock, local, held):
    quiet_hours(platform, "22:00", "07:00")
    clock.move_to(datetime(2026, 6, 2, *local, tzinfo=TORONTO))

    created = platform.send(TRIGGER, ADA)

    assert (created["release_at"] is not None) is held
    assert platform.ready_count() == (0 if held else 1)


def test_a_night_with_a_daylight_saving_change_ends_at_the_wall_clock_end(platform: Platform, clock):
    # Toronto springs forward at 02:00 on 2026-03-08: 07:00 EDT is 11:00 UTC, an hour after 07:00 EST.
    quiet_hours(platform, "22:00", "07:00")
    clock.move_to(datetime(2026, 3, 7, 23, 0, tzinfo=TORONTO))
    created = platform.send(TRIGGER, ADA)
    assert created["release_at"] == "2026-03-08T11:00:00Z"

    clock.move_to(datetime(2026, 3, 8, 10, 59, tzinfo=UTC))  # 06:59 EDT
    assert release(platform) == 0
    clock.move_to(datetime(2026, 3, 8, 11, 0, tzinfo=UTC))
    assert release(platform) == 1


def test_a_recipient_in_another_zone_waits_for_its_own_morning(platform: Platform, clock):
    # GIVEN the Toronto tenant's quiet hours and the recipient-local window, and a Seattle recipient
    quiet_hours(platform, "22:00", "07:00", recipient_local_window=True)
    seattle = contact_with(platform, "+12063861234")

    created = platform.send(TRIGGER, {**ADA, "contact_id": seattle})

    # THEN at 07:00 in Toronto it is 04:00 in Seattle: Washington's window opens at 08:00 Pacific
    assert (created["release_at"], created["hold_rule"]) == (
        "2026-06-02T15:00:00Z",
        "recipient_window_state:WA",
    )


def test_a_number_with_two_zones_waits_for_both(platform: Platform, clock):
    settings(platform, recipient_local_window=True)
    alaska = contact_with(platform, "+19075550123")  # America/Anchorage and America/Adak
    clock.move_to(datetime(2026, 6, 1, 8, 30, tzinfo=ZoneInfo("America/Anchorage")))  # 07:30 in Adak

    created = platform.send(TRIGGER, {**ADA, "contact_id": alaska})

    assert (created["release_at"], created["hold_rule"]) == (
        "2026-06-01T17:00:00Z",
        "recipient_window_federal",
    )


def test_a_release_that_runs_twice_sends_once(platform: Platform, clock):
    quiet_hours(platform, "22:00", "07:00")
    created = platform.send(TRIGGER, ADA)
    clock.move_to(datetime(2026, 6, 2, 7, 0, tzinfo=TORONTO))
    messages = MessagesTable(platform.table("MESSAGES_TABLE"))

    # GIVEN two overlapping runs: both found the message due before either released it
    (due,) = list(messages.held_due(datetime.now(UTC)))
    assert Releaser(messages).release_due() == 1
    assert messages.release(due) is False  # the second run's release changes nothing
    assert platform.ready_count() == 1

    # WHEN the dispatcher runs, and the schedule runs once more
    platform.run_dispatchers()
    assert release(platform) == 0

    # THEN the carrier got it once
    (record,) = platform.simulator.records
    assert record.context["message_id"] == created["id"]
    assert message(platform, created["id"])["status"] == "Sent"


def test_releasing_a_message_that_is_gone_creates_nothing(platform: Platform):
    assert MessagesTable(platform.table("MESSAGES_TABLE")).release("msg_gone") is False
    assert platform.table("MESSAGES_TABLE").scan()["Count"] == 0


def test_the_schedule_starts_the_dispatcher_of_a_code_with_ready_messages(platform: Platform, clock):
    # GIVEN a held message whose hold ends, and no dispatcher running for its code
    quiet_hours(platform, "22:00", "07:00")
    platform.send(TRIGGER, ADA)
    clock.move_to(datetime(2026, 6, 2, 7, 0, tzinfo=TORONTO))

    # WHEN the minute schedule runs
    result = platform.function("release").invoke({})

    # THEN it released the message and started its code's dispatcher (the kicks' safety net)
    assert result["released"] == 1
    assert platform.started.codes == [platform.demo.sending_number]


# ---- mass messages ----


def confirm_outage(platform: Platform) -> dict[str, Any]:
    ok(platform, "PUT", "/v1/accounts/acct-1001", {"name": "Lovelace", "network_site_id": "site-north"})
    job = ok(platform, "POST", "/v1/mass-messages", {
        "saved_message": "unplanned_outage_no_eta", "outage_start": "2026-06-01T23:00:00-04:00",
        "variables": {"company": "Demo Fiber"}, "filters": {"network_site_ids": ["site-north"]},
    }, status=202)  # fmt: skip
    ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}, status=202)  # fmt: skip
    platform.run_fanout()
    return ok(platform, "GET", f"/v1/mass-messages/{job['id']}")


def test_mass_messages_go_through_quiet_hours_by_default(platform: Platform, clock):
    quiet_hours(platform, "22:00", "07:00")

    job = confirm_outage(platform)
    platform.run_dispatchers()

    assert job["progress"]["Pending"] == 2
    assert len(platform.simulator.records) == 2  # Ada's and Charles's mobiles, at 23:30


def test_mass_messages_wait_when_the_tenant_holds_them_too(platform: Platform, clock):
    # GIVEN quiet hours that hold mass messages too
    quiet_hours(platform, "22:00", "07:00", hold_mass_messages=True)

    # WHEN an outage notice is confirmed at 23:30 and fanned out
    confirm_outage(platform)
    platform.run_dispatchers()

    # THEN no dispatcher takes them before their time: they stay Pending, held, off the ready index
    assert platform.simulator.records == []
    assert platform.ready_count() == 0
    items = ok(platform, "GET", "/v1/messages")["items"]
    assert {(item["status"], item["release_at"], item["hold_rule"]) for item in items} == {
        ("Pending", "2026-06-02T11:00:00Z", "quiet_hours")
    }

    # WHEN the schedule runs at 07:00
    clock.move_to(datetime(2026, 6, 2, 7, 0, tzinfo=TORONTO))
    assert release(platform) == 2
    platform.run_dispatchers()
    assert len(platform.simulator.records) == 2


# ---- settings ----


def test_quiet_hours_settings_are_shown_changed_and_cleared(platform: Platform):
    before = ok(platform, "GET", "/v1/settings")
    assert (before["quiet_hours"], before["hold_mass_messages"], before["recipient_local_window"]) == (
        None,
        False,
        False,
    )

    changed = settings(platform, quiet_hours={"start": "21:30", "end": "08:00"}, hold_mass_messages=True)
    assert changed["quiet_hours"] == {"start": "21:30", "end": "08:00"}
    assert changed["hold_mass_messages"] is True
    # A change that does not name them leaves them as they are; null turns quiet hours off.
    assert settings(platform, sms_enabled=True)["quiet_hours"] == {"start": "21:30", "end": "08:00"}
    assert settings(platform, quiet_hours=None)["quiet_hours"] is None


@pytest.mark.parametrize(
    ("quiet", "field"),
    [
        ({"start": "25:00", "end": "07:00"}, "quiet_hours.start"),
        ({"start": "22:00", "end": "7am"}, "quiet_hours.end"),
        ({"start": "22:00", "end": "22:00"}, "quiet_hours.end"),
    ],
)
def test_bad_quiet_hours_are_refused_naming_the_field(platform: Platform, quiet, field):
    code, problem = platform.call("PATCH", "/v1/settings", {"quiet_hours": quiet})
    assert (code, problem["field"]) == (400, field), problem
    assert ok(platform, "GET", "/v1/settings")["quiet_hours"] is None


def test_texas_and_connecticut_recipients_wait_for_their_state_windows(platform: Platform, clock):
    # GIVEN the recipient-local window, a Houston and a Hartford recipient, and Sunday 10:00 Eastern
    settings(platform, recipient_local_window=True)
    houston = contact_with(platform, "+12815550123")
    hartford = contact_with(platform, "+18605550123")
    clock.move_to(datetime(2026, 6, 7, 8, 30, tzinfo=ZoneInfo("America/New_York")))  # 07:30 Central

    # WHEN a trigger goes to each
    texas = platform.send(TRIGGER, {**ADA, "contact_id": houston})
    connecticut = platform.send(TRIGGER, {**ADA, "contact_id": hartford})

    # THEN Connecticut opens at 09:00 Eastern, Texas on a Sunday at 12:00 Central
    assert (connecticut["release_at"], connecticut["hold_rule"]) == (
        "2026-06-07T13:00:00Z",
        "recipient_window_state:CT",
    )
    assert (texas["release_at"], texas["hold_rule"]) == ("2026-06-07T17:00:00Z", "recipient_window_state:TX")
    clock.move_to(datetime(2026, 6, 7, 13, 0, tzinfo=UTC))
    assert release(platform) == 1  # Connecticut's
    platform.run_dispatchers()
    clock.move_to(datetime(2026, 6, 7, 16, 59, tzinfo=UTC))
    assert release(platform) == 0
    clock.move_to(datetime(2026, 6, 7, 17, 0, tzinfo=UTC))
    assert release(platform) == 1
    platform.run_dispatchers()
    assert {record.context["message_id"] for record in platform.simulator.records} == {
        texas["id"],
        connecticut["id"],
    }


def test_a_message_still_waiting_when_quiet_hours_begin_is_held_until_they_end(platform: Platform, clock):
    # GIVEN quiet hours from 22:00, and a message made ready at 21:59:30 that its dispatcher has not
    # taken by 22:00 (a backlog, a throttled carrier, a handover)
    quiet_hours(platform, "22:00", "07:00")
    clock.move_to(datetime(2026, 6, 1, 21, 59, 30, tzinfo=TORONTO))
    created = platform.send(TRIGGER, ADA)
    assert created["release_at"] is None
    assert platform.ready_count() == 1
    balance = ok(platform, "GET", "/v1/balance")["balance_micros"]

    # WHEN its dispatcher comes to it at 22:00:05
    clock.move_to(datetime(2026, 6, 1, 22, 0, 5, tzinfo=TORONTO))
    platform.run_dispatchers()

    # THEN it did not go in the quiet hours: it is held until they end, unpaid
    assert platform.simulator.records == []
    held = message(platform, created["id"])
    assert (held["status"], held["release_at"], held["hold_rule"]) == (
        "Pending",
        "2026-06-02T11:00:00Z",
        "quiet_hours",
    )
    assert platform.ready_count() == 0
    assert ok(platform, "GET", "/v1/balance")["balance_micros"] == balance

    # WHEN they end: released and sent, once
    clock.move_to(datetime(2026, 6, 2, 7, 0, tzinfo=TORONTO))
    assert release(platform) == 1
    platform.run_dispatchers()
    (record,) = platform.simulator.records
    assert record.context["message_id"] == created["id"]
    assert message(platform, created["id"])["status"] == "Sent"
