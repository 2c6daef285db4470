"""A mass message and a calling list, over HTTP, against `python -m local`: preview, confirm, delivered."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import LocalService

pytestmark = pytest.mark.e2e


def wait_for_progress(
    service: LocalService, path: str, status: str, count: int, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = service.call("GET", path).body
        if (job.get("progress") or {}).get(status) == count:
            return job
        time.sleep(0.1)
    pytest.fail(f"{path} never had {count} {status}: {job}")


def test_a_mass_outage_notice_is_previewed_confirmed_and_delivered(service: LocalService):
    assert (
        service.call(
            "PUT", "/v1/accounts/acct-1001", {"name": "Lovelace", "network_site_id": "site-e2e"}
        ).status
        == 200
    )
    created = service.call("POST", "/v1/mass-messages", {
        "saved_message": "unplanned_outage_no_eta", "outage_start": "2026-11-24T08:00:00-05:00",
        "variables": {"company": "Demo Fiber"}, "filters": {"network_site_ids": ["site-e2e"]},
    })  # fmt: skip
    assert created.status == 202, created.body
    job = created.body
    assert job["status"] == "previewed"  # a small audience is previewed inline
    assert (
        job["preview"]["recipients"] == 2
    )  # Ada's and Charles's mobiles; Ada's Home number is not SMS-capable
    assert job["preview"]["excluded"] == {"not_sms_capable": 1}

    confirmed = service.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )
    assert confirmed.status == 202, confirmed.body
    done = wait_for_progress(service, f"/v1/mass-messages/{job['id']}", "Delivered", 2)
    assert done["status"] == "queued"
    assert done["created_messages"] == 2


def test_a_calling_list_reaches_every_valid_record(service: LocalService):
    csv_text = (
        "first,cell,quote\nTom,416-555-0401,120000\nBecky,+44 20 7183 8750,9900\nHuck,416-555-0402,5000\n"
    )
    uploaded = service.call("POST", "/v1/calling-lists", {
        "name": "E2E list", "template_id": "tpl-fence-painting", "phone_field": "cell", "name_field": "first",
        "mapping": {"first_name": "first", "quote": "quote"}, "csv": csv_text,
    })  # fmt: skip
    assert uploaded.status == 202, uploaded.body
    assert [(e["row"], e["field"]) for e in uploaded.body["errors"]] == [(2, "cell")]
    assert uploaded.body["preview"]["recipients"] == 2
    list_id = uploaded.body["id"]
    confirm = service.call(
        "POST",
        f"/v1/calling-lists/{list_id}/confirm",
        {"confirmation_token": uploaded.body["confirmation_token"]},
    )
    assert confirm.status == 202
    wait_for_progress(service, f"/v1/calling-lists/{list_id}", "Delivered", 2)
    carrier = service.call("GET", "/_local/carrier/messages", key=None).body["messages"]
    tom = [m for m in carrier if m["destination"] == "+14165550401"]
    assert len(tom) == 1
    assert tom[0]["body"].startswith("Hi Tom, sorry we missed you. Your fence quote of $1,200.00 is ready.")


def settled(service: LocalService, path: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = service.call("GET", path).body
        if job["status"] not in {"awaiting_upload", "validating", "previewing", "confirming"}:
            return job
        time.sleep(0.2)
    pytest.fail(f"{path} stayed {job.get('status')}")


def test_an_uploaded_list_with_bad_rows_is_validated_previewed_and_sent(service: LocalService):
    # GIVEN a list asked for as a file
    created = service.call("POST", "/v1/calling-lists", {
        "name": "E2E upload", "template_id": "tpl-fence-painting", "phone_field": "cell", "name_field": "first",
        "mapping": {"first_name": "first", "quote": "quote"}, "upload": True,
    })  # fmt: skip
    assert created.status == 202, created.body
    upload = created.body["upload"]
    # WHEN the file is PUT to the pre-signed URL the answer gave (the local S3, as a client would)
    csv_text = (
        "first,cell,quote\nTom,416-555-0411,120000\nBecky,+44 20 7183 8750,9900\nHuck,416-555-0412,\n"
        "Sid,416-555-0411,5000\nMary,416-555-0413,8800\n"
    )
    request = urllib.request.Request(
        upload["url"], data=csv_text.encode(), method="PUT", headers=upload["headers"]
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    # THEN its arrival is validated and previewed
    path = f"/v1/calling-lists/{created.body['id']}"
    job = settled(service, path)
    assert job["status"] == "previewed", job
    assert job["validation"]["refused"] == {"invalid_phone_number": 1, "missing_field": 1}
    assert (job["preview"]["recipients"], job["preview"]["duplicates_removed"]) == (2, 1)
    errors = service.call("GET", f"{path}/errors").body["items"]
    assert [(e["row"], e["field"], e["reason"]) for e in errors] == [
        (2, "cell", "invalid_phone_number"), (3, "quote", "missing_field")
    ]  # fmt: skip
    # AND once confirmed, Tom and Mary get their messages
    confirm = service.call("POST", f"{path}/confirm", {"confirmation_token": job["confirmation_token"]})
    assert confirm.status == 202, confirm.body
    wait_for_progress(service, path, "Delivered", 2)


def test_a_scheduled_outage_notice_waits_can_be_moved_and_cancelled_and_starts_on_time(
    service: LocalService,
):
    assert (
        service.call(
            "PUT", "/v1/accounts/acct-1001", {"name": "Lovelace", "network_site_id": "site-e2e"}
        ).status
        == 200
    )
    notice = {
        "saved_message": "unplanned_outage_no_eta", "outage_start": "2026-11-24T08:00:00-05:00",
        "variables": {"company": "Demo Fiber"}, "filters": {"network_site_ids": ["site-e2e"]},
    }  # fmt: skip

    def confirmed_for(seconds: float) -> dict[str, Any]:
        job = service.call("POST", "/v1/mass-messages", notice).body
        assert job["status"] == "previewed", job
        send_at = (datetime.now(UTC) + timedelta(seconds=seconds)).astimezone(ZoneInfo("America/Toronto"))
        body = {"confirmation_token": job["confirmation_token"], "send_at": send_at.isoformat()}
        answer = service.call("POST", f"/v1/mass-messages/{job['id']}/confirm", body)
        assert answer.status == 202, answer.body
        return dict(answer.body)

    # GIVEN two notices confirmed for an hour from now
    kept, dropped = confirmed_for(3600), confirmed_for(3600)
    for job in (kept, dropped):
        assert (job["status"], job["if_changed"]) == ("scheduled", "stop")
    # WHEN one is cancelled and the other moved to a few seconds from now
    assert service.call("POST", f"/v1/mass-messages/{dropped['id']}/cancel").body["status"] == "cancelled"
    soon = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    moved = service.call("POST", f"/v1/mass-messages/{kept['id']}/schedule", {"send_at": soon})
    assert moved.status == 200, moved.body
    assert datetime.fromisoformat(moved.body["send_at"]) == datetime.fromisoformat(soon)
    assert service.call("GET", f"/v1/mass-messages/{kept['id']}").body["status"] == "scheduled"
    # THEN the schedule starts the moved one once its time has come, and it is delivered
    done = wait_for_progress(service, f"/v1/mass-messages/{kept['id']}", "Delivered", 2, timeout=60)
    report = done["start_report"]
    assert (report["changed"], report["action"], report["recipients_now"]) == (False, "sent", 2)
    first_sent = min(m["created_at"] for m in service.call(
        "GET", f"/v1/messages?job_id={kept['id']}").body["items"])  # fmt: skip
    assert datetime.fromisoformat(first_sent) >= datetime.fromisoformat(soon)
    # AND the cancelled one never starts, and can no longer be moved
    cancelled = service.call("GET", f"/v1/mass-messages/{dropped['id']}").body
    assert (cancelled["status"], cancelled.get("created_messages", 0)) == ("cancelled", 0)
    later = (datetime.now(UTC) + timedelta(seconds=600)).isoformat()
    again = service.call("POST", f"/v1/mass-messages/{dropped['id']}/schedule", {"send_at": later})
    assert (again.status, again.body["reason"]) == (409, "not_scheduled")
