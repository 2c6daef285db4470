"""Scheduled sends: a job confirmed for later waits in the table, can be moved or cancelled, and is
previewed again when the minute schedule starts it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions.dal.config import ConfigTable
from functions.handlers import scheduled_jobs
from infra.constants import FANOUT_QUEUE_ID
from tests.integration.conftest import Platform
from tests.integration.test_mass_messages import OUTAGE, ok, sites  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("sites")


def later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).astimezone().isoformat()


def scheduled(platform: Platform, send_at: str, **choices: Any) -> dict[str, Any]:
    job = ok(platform, "POST", "/v1/mass-messages", OUTAGE, status=202)
    body = {"confirmation_token": job["confirmation_token"], "send_at": send_at, **choices}
    return ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm", body, status=202)


def run_schedule(platform: Platform) -> dict[str, int]:
    scheduled_jobs.services.cache_clear()
    result: dict[str, int] = platform.function("scheduled_jobs").invoke({})
    return result


def new_contact(platform: Platform) -> None:
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    grace = config.get_contact("demo-isp", "contact-grace")
    assert grace is not None
    phone = grace.phones[0].model_copy(update={"number": "+14165550190"})
    config.put_contact("demo-isp", grace.model_copy(update={"contact_id": "contact-new", "phones": [phone]}))


def test_a_scheduled_job_waits_in_the_table_and_starts_when_its_time_comes(platform: Platform):
    # GIVEN a mass message confirmed for a time a little ahead
    job = scheduled(platform, later(3600))
    assert job["status"] == "scheduled"
    assert job["if_changed"] == "stop"  # the default
    assert platform.queue_depth(FANOUT_QUEUE_ID) == 0
    assert run_schedule(platform) == {"started": 0}  # not yet

    # WHEN it is moved to in two seconds and the minute schedule runs after that
    moved = ok(platform, "POST", f"/v1/mass-messages/{job['id']}/schedule", {"send_at": later(2)})
    assert moved["send_at"] != job["send_at"]
    time.sleep(2.1)
    assert run_schedule(platform) == {"started": 1}

    # THEN its preview is computed again, nothing changed, and it is sent
    started = platform.settle(f"/v1/mass-messages/{job['id']}")
    assert started["status"] == "sending"
    report = started["start_report"]
    assert (report["changed"], report["action"], report["recipients_now"]) == (False, "sent", 3)
    platform.run_fanout()
    assert platform.ready_count() == 3
    assert run_schedule(platform) == {"started": 0}  # started once


@pytest.mark.parametrize(("if_changed", "status", "queued"), [("stop", "stopped", 0), ("send", "sending", 4)])
def test_a_changed_audience_is_reported_at_the_start_and_the_confirmation_decides(
    platform: Platform, if_changed: str, status: str, queued: int
):
    job = scheduled(platform, later(2), if_changed=if_changed)
    new_contact(platform)  # GIVEN the audience changed after the confirmation
    time.sleep(2.1)
    run_schedule(platform)
    started = platform.settle(f"/v1/mass-messages/{job['id']}")
    assert started["status"] == status, (started["if_changed"], started["start_report"])
    report = started["start_report"]
    assert (report["changed"], report["recipients_confirmed"], report["recipients_now"]) == (True, 3, 4)
    assert report["action"] == ("stopped" if if_changed == "stop" else "sent")
    platform.run_fanout()
    assert platform.ready_count() == queued


def test_a_cancelled_scheduled_job_never_starts(platform: Platform):
    job = scheduled(platform, later(2))
    assert ok(platform, "POST", f"/v1/mass-messages/{job['id']}/cancel")["status"] == "cancelled"
    time.sleep(2.1)
    assert run_schedule(platform) == {"started": 0}
    code, problem = platform.call("POST", f"/v1/mass-messages/{job['id']}/schedule", {"send_at": later(60)})
    assert (code, problem["reason"]) == (409, "not_scheduled")


def test_quiet_hours_apply_as_they_are_when_the_job_starts(platform: Platform):
    job = scheduled(platform, later(2))
    # GIVEN quiet hours around now (in the tenant's zone), for mass messages too, set after the confirmation
    zone = ZoneInfo(ok(platform, "GET", "/v1/settings")["time_zone"])
    now = datetime.now(zone)
    hours = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }
    ok(platform, "PATCH", "/v1/settings", {"quiet_hours": hours, "hold_mass_messages": True})
    time.sleep(2.1)
    run_schedule(platform)
    assert platform.settle(f"/v1/mass-messages/{job['id']}")["status"] == "sending"
    platform.run_fanout()
    # THEN its messages wait in the table for the end of the quiet hours, none on the send lanes
    items = ok(platform, "GET", f"/v1/messages?job_id={job['id']}")["items"]
    assert len(items) == 3
    assert {item["status"] for item in items} == {"Pending"}
    assert platform.ready_count() == 0


@pytest.mark.parametrize(
    ("send_at", "status"),
    [("2020-01-01T00:00:00+00:00", 400), ("in an hour", 422), ("2030-01-01T09:00:00", 422)],
)
def test_a_bad_send_at_is_refused_naming_it_and_nothing_changes(platform: Platform, send_at, status):
    job = ok(platform, "POST", "/v1/mass-messages", OUTAGE, status=202)
    body = {"confirmation_token": job["confirmation_token"], "send_at": send_at}
    code, problem = platform.call("POST", f"/v1/mass-messages/{job['id']}/confirm", body)
    assert code == status, problem
    assert "send_at" in problem["field"]
    assert ok(platform, "GET", f"/v1/mass-messages/{job['id']}")["status"] == "previewed"
